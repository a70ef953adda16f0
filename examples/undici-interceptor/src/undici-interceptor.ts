/**
 * The bearer fetch's work done for undici, for one i'mport and one Vipps merchant against the local emulators:
 * i'mport through `createAuthDispatcher` (a dispatcher of its own, without `compose`'s cost), Vipps through
 * `createAuthInterceptor` composed before undici's redirect interceptor, so every redirect hop passes through it and
 * none carries the subscription key to another host.
 */
import { isForeignOriginError } from '@x/core';
import { createAuthDispatcher, createAuthInterceptor } from '@x/core/undici';
import { createIamportProvider } from '@x/iamport';
import { createIamportEmulator } from '@x/iamport/testing';
import { createVippsProvider } from '@x/vipps';
import { createVippsEmulator, vippsEmulatorDefaultMerchant } from '@x/vipps/testing';
import { Agent, interceptors, request } from 'undici';

/** Runs the example, printing through `log`. */
export async function runUndiciInterceptor(log: (line: string) => void = console.log): Promise<void> {
  // Tokens marked `xcanary`, like the secrets, so the repository's leak tests find one that is printed.
  const iamportEmulator = await createIamportEmulator({ tokenFormat: 'canary' });
  const vippsEmulator = await createVippsEmulator();
  const iamportProvider = createIamportProvider({ ...iamportEmulator.defaultMerchant, baseUrl: iamportEmulator.url });
  const vippsProvider = createVippsProvider({ ...vippsEmulatorDefaultMerchant, baseUrl: vippsEmulator.url, systemName: 'acme-shop' });
  // A dispatcher of its own: no compose, so no cost beyond the header.
  const iamportDispatcher = createAuthDispatcher(iamportProvider);
  // An interceptor, for an agent composed with others: ours first, then undici's redirect interceptor.
  const vippsAgent = new Agent().compose(createAuthInterceptor(vippsProvider), interceptors.redirect({ maxRedirections: 3 }));
  try {
    for (let call = 1; call <= 3; call += 1) {
      const iamport = await request(new URL(`/payments/imp_${call}`, iamportEmulator.url), { dispatcher: iamportDispatcher });
      const vipps = await request(new URL(`/epayment/v1/payments/order-${call}`, vippsEmulator.url), { dispatcher: vippsAgent });
      await iamport.body.dump();
      await vipps.body.dump();
      log(`call ${call}: iamport ${iamport.statusCode}, vipps ${vipps.statusCode}`);
    }
    for (const [name, dispatcher] of [
      ['iamport', iamportDispatcher],
      ['vipps', vippsAgent],
    ] as const) {
      const refused = await request('http://127.0.0.1:9/elsewhere', { dispatcher }).catch((error: unknown) => error);
      log(
        `${name} request to another origin: ${isForeignOriginError(refused) ? 'refused before sending (ForeignOriginError)' : 'NOT refused'}`,
      );
    }
    log(`iamport: ${iamportEmulator.counters.tokenRequests} token request(s), ${iamportEmulator.counters.apiCalls} API calls`);
    log(`vipps: ${vippsEmulator.counters.tokenRequests} token request(s), ${vippsEmulator.counters.apiCalls} API calls`);
  } finally {
    await Promise.all([iamportDispatcher.close(), vippsAgent.close()]);
    await Promise.all([iamportEmulator.close(), vippsEmulator.close()]);
  }
}
