/**
 * The bearer fetch's work done by an undici interceptor: `undici.request` through an Agent composed with
 * `createAuthInterceptor`, for one i'mport and one Vipps merchant, against the local emulators.
 */
import { isForeignOriginError } from '@x/core';
import { createAuthInterceptor } from '@x/core/undici';
import { createIamportProvider } from '@x/iamport';
import { createIamportEmulator } from '@x/iamport/testing';
import { createVippsProvider } from '@x/vipps';
import { createVippsEmulator, defaultVippsMerchant } from '@x/vipps/testing';
import { Agent, request } from 'undici';

/** Runs the example, printing through `log`. */
export async function runUndiciInterceptor(log: (line: string) => void = console.log): Promise<void> {
  const iamportEmulator = await createIamportEmulator();
  const vippsEmulator = await createVippsEmulator();
  const iamportProvider = createIamportProvider({ ...iamportEmulator.defaultMerchant, baseUrl: iamportEmulator.url });
  const vippsProvider = createVippsProvider({ ...defaultVippsMerchant, baseUrl: vippsEmulator.url, systemName: 'acme-shop' });
  const iamportAgent = new Agent().compose(createAuthInterceptor(iamportProvider));
  const vippsAgent = new Agent().compose(createAuthInterceptor(vippsProvider));
  try {
    for (let call = 1; call <= 3; call += 1) {
      const iamport = await request(new URL(`/payments/imp_${call}`, iamportEmulator.url), { dispatcher: iamportAgent });
      const vipps = await request(new URL(`/epayment/v1/payments/order-${call}`, vippsEmulator.url), { dispatcher: vippsAgent });
      await iamport.body.dump();
      await vipps.body.dump();
      log(`call ${call}: iamport ${iamport.statusCode}, vipps ${vipps.statusCode}`);
    }
    const refused = await request('http://127.0.0.1:9/elsewhere', { dispatcher: iamportAgent }).catch((error: unknown) => error);
    log(`request to another origin: ${isForeignOriginError(refused) ? 'refused before sending (ForeignOriginError)' : 'NOT refused'}`);
    log(`iamport: ${iamportEmulator.counters.tokenRequests} token request(s), ${iamportEmulator.counters.apiCalls} API calls`);
    log(`vipps: ${vippsEmulator.stats.accesstoken.requests} token request(s), ${vippsEmulator.stats.payments.requests} API calls`);
  } finally {
    await Promise.all([iamportAgent.close(), vippsAgent.close()]);
    await Promise.all([iamportEmulator.close(), vippsEmulator.close()]);
  }
}
