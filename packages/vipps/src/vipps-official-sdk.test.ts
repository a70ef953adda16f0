/**
 * The official Vipps MobilePay SDK (`@vippsmobilepay/sdk` 2.4.2, source `vippsas/deno-sdk`) against our emulator over
 * real sockets, in its default configuration: a client no one here wrote, driving the token call and the ePayment
 * flow exactly as it would against the gateway.
 *
 * The SDK cannot be pointed at another origin: it builds every request for `https://api.vipps.no` (or
 * `https://apitest.vipps.no` with `useTestMode`) and sends it with the global `fetch`. So the global `fetch` is
 * wrapped for these tests to send each request to the emulator instead, rewriting the origin and nothing else: method,
 * path, query, headers and body go as the SDK built them. Any other origin is refused.
 */
import { Client, type CreatePaymentRequest, type GetPaymentResponse, type Problem } from '@vippsmobilepay/sdk';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createVippsEmulator, type VippsEmulator, vippsEmulatorDefaultMerchant } from './testing/index.js';

const { clientId, clientSecret, subscriptionKey, merchantSerialNumber } = vippsEmulatorDefaultMerchant;
/** The SDK's two hosts: production by default, test with `useTestMode`. */
const sdkOrigins = ['https://api.vipps.no', 'https://apitest.vipps.no'];
const realFetch = globalThis.fetch;

let emulator: VippsEmulator;
/** The origins the SDK addressed, in order, before the rewrite. */
let addressed: string[];

/** The global `fetch`, sending what the SDK addresses to the gateway to the emulator: the origin rewritten, never the path. */
function fetchViaEmulator(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const request = new Request(input, init);
  const url = new URL(request.url);
  if (!sdkOrigins.includes(url.origin)) return Promise.reject(new Error(`the SDK addressed an unexpected origin: ${url.origin}`));
  addressed.push(url.origin);
  return realFetch(new Request(`${emulator.url}${url.pathname}${url.search}`, request));
}

/** The sample request of the SDK's own `epayment_sample.ts`, without a reference: the SDK makes one (a UUID). */
const sampleRequest = (): CreatePaymentRequest => ({
  amount: { currency: 'NOK', value: 1000 },
  paymentMethod: { type: 'WALLET' },
  customer: { phoneNumber: '4712345678' },
  returnUrl: 'https://yourwebsite.com/redirect',
  userFlow: 'WEB_REDIRECT',
  paymentDescription: 'One pair of socks',
});

const nok = (value: number) => ({ currency: 'NOK' as const, value });

/** Unwraps an SDK answer, failing the test with the SDK's error when there is one. */
function data<T>(result: { ok: true; data: T } | { ok: false; error: unknown }): T {
  if (!result.ok)
    expect.fail(`the SDK call failed: ${result.error instanceof Error ? result.error.message : JSON.stringify(result.error)}`);
  return result.data;
}

beforeEach(async () => {
  emulator = await createVippsEmulator({ unknownPaymentReferences: 'not-found' });
  addressed = [];
  vi.stubGlobal('fetch', fetchViaEmulator);
});

afterEach(async () => {
  vi.unstubAllGlobals();
  await emulator.close();
});

describe('@vippsmobilepay/sdk against the emulator', () => {
  it('should get a token, then create, read, capture, refund and cancel a payment and read its history', async () => {
    // The default configuration: production host, retries on; only what the SDK requires is given.
    const client = Client({ merchantSerialNumber, subscriptionKey });
    const token = data(await client.auth.getToken(clientId, clientSecret)).access_token;

    const created = data(await client.payment.create(token, sampleRequest()));
    const { reference } = created;
    expect(reference).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.redirectUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    expect(data(await client.payment.info(token, reference))).toMatchObject({ reference, state: 'CREATED', amount: nok(1000) });

    expect(emulator.actAsUser(reference, 'approve')).toBe('AUTHORIZED');
    const approved: GetPaymentResponse = data(await client.payment.info(token, reference));
    expect(approved).toMatchObject({ state: 'AUTHORIZED', aggregate: { authorizedAmount: nok(1000) }, paymentMethod: { type: 'WALLET' } });

    const captured = data(await client.payment.capture(token, reference, { modificationAmount: nok(600) }));
    expect(captured).toMatchObject({ state: 'AUTHORIZED', aggregate: { capturedAmount: nok(600) } });
    const refunded = data(await client.payment.refund(token, reference, { modificationAmount: nok(100) }));
    expect(refunded.aggregate.refundedAmount).toEqual(nok(100));
    const cancelled = data(await client.payment.cancel(token, reference));
    expect(cancelled.aggregate).toEqual({
      authorizedAmount: nok(1000),
      cancelledAmount: nok(400),
      capturedAmount: nok(600),
      refundedAmount: nok(100),
    });

    const history = data(await client.payment.history(token, reference));
    expect(history.map((event) => [event.name, event.amount.value])).toEqual([
      ['CREATED', 1000],
      ['AUTHORIZED', 1000],
      ['CAPTURED', 600],
      ['REFUNDED', 100],
      ['CANCELLED', 400],
    ]);

    expect(addressed.every((origin) => origin === 'https://api.vipps.no')).toBe(true);
    expect(emulator.counters).toMatchObject({ tokenRequests: 1, apiCalls: 7, unauthorizedApiCalls: 0 });
    const posts = emulator.seen('payments').filter((request) => request.method === 'POST');
    expect(posts.map((request) => request.path)).toEqual([
      '/epayment/v1/payments',
      `/epayment/v1/payments/${reference}/capture`,
      `/epayment/v1/payments/${reference}/refund`,
      `/epayment/v1/payments/${reference}/cancel`,
    ]);
    // What the SDK sends on every call: its own key per request, and each Vipps-System-* header, empty when unset.
    const keys = posts.map((request) => request.headers['idempotency-key']);
    expect(new Set(keys).size).toBe(4);
    for (const { headers } of posts) {
      expect(headers).toMatchObject({ 'merchant-serial-number': merchantSerialNumber, 'vipps-system-name': '' });
    }
  });

  it("should hand the API's problem body to the caller when the payment refuses a change", async () => {
    const client = Client({ merchantSerialNumber, subscriptionKey });
    const token = data(await client.auth.getToken(clientId, clientSecret)).access_token;
    const { reference } = data(await client.payment.create(token, sampleRequest()));

    const early = await client.payment.capture(token, reference, { modificationAmount: nok(1000) });
    expect(early.ok).toBe(false);
    const problem = (early as { error: Problem }).error;
    expect(problem).toMatchObject({
      status: 400,
      title: 'Cannot capture before reservation',
      extraDetails: [{ name: 'ErrorCode', reason: '6080' }],
    });

    const cancelled = data(await client.payment.cancel(token, reference));
    expect(cancelled).toMatchObject({ state: 'TERMINATED', aggregate: { cancelledAmount: nok(1000) } });
    const missing = await client.payment.info(token, 'acme-shop-123-missing');
    expect(missing).toMatchObject({ ok: false, error: { status: 404, title: 'Reference not found' } });
  });

  it('should force-approve a payment through the test environment call, which needs useTestMode', async () => {
    const client = Client({ merchantSerialNumber, subscriptionKey, useTestMode: true });
    const token = data(await client.auth.getToken(clientId, clientSecret)).access_token;
    const { reference } = data(await client.payment.create(token, sampleRequest()));
    data(await client.payment.forceApprove(token, reference, { customer: { phoneNumber: '4712345678' } }));
    expect(data(await client.payment.info(token, reference)).state).toBe('AUTHORIZED');
    expect(addressed.every((origin) => origin === 'https://apitest.vipps.no')).toBe(true);
  });
});
