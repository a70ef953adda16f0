import { once } from 'node:events';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { inspect } from 'node:util';
import { fingerprint } from '@x/core';
import { containsCanary, createCanary } from '@x/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { VippsAccessTokenResponse, VippsPartnerTokenResponse } from '../vipps-api-types.js';
import { createVippsEmulator, type VippsEmulator, type VippsEmulatorMerchant, vippsEmulatorDefaultMerchant } from './index.js';

const second: VippsEmulatorMerchant = {
  clientId: '2b1c1a6e-0d1f-4a9b-9d43-7e0c2f6b8a11',
  clientSecret: 'second-secret==',
  subscriptionKey: 'second-subscription-key',
  merchantSerialNumber: '654321',
};

let emulator: VippsEmulator;
let clock: number;

function credentials(merchant: VippsEmulatorMerchant = vippsEmulatorDefaultMerchant): Record<string, string> {
  return {
    client_id: merchant.clientId,
    client_secret: merchant.clientSecret,
    ...(merchant.subscriptionKey === undefined ? {} : { 'Ocp-Apim-Subscription-Key': merchant.subscriptionKey }),
  };
}

function post(path: string, headers: Record<string, string>, body?: string): Promise<Response> {
  return fetch(`${emulator.url}${path}`, { method: 'POST', headers, body });
}

/** The documented partner request: Basic credentials as they are, a form content type, `grant_type=client_credentials`. */
function partnerForm(merchant: VippsEmulatorMerchant = vippsEmulatorDefaultMerchant, secret = merchant.clientSecret) {
  const basic = Buffer.from(`${merchant.clientId}:${secret}`, 'utf8').toString('base64');
  return {
    headers: { Authorization: `Basic ${basic}`, 'Content-Type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  };
}

function postPartnerForm(merchant?: VippsEmulatorMerchant, secret?: string): Promise<Response> {
  const { headers, body } = partnerForm(merchant, secret);
  return post('/miami/v1/token', headers, body);
}

/** An identity platform error body as the gateway forwards it (`vippsas/vipps-developers` `faqs/common-errors-faq.md`). */
function identityError(error: string, code: number, description: RegExp) {
  return {
    error,
    error_description: expect.stringMatching(description),
    error_codes: [code],
    timestamp: expect.stringMatching(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z$/),
    trace_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
    correlation_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
    error_uri: `https://login.windows.net/error?code=${code}`,
  };
}

async function tokenFor(merchant: VippsEmulatorMerchant = vippsEmulatorDefaultMerchant): Promise<string> {
  const response = await post('/accesstoken/get', credentials(merchant));
  return ((await response.json()) as VippsAccessTokenResponse).access_token;
}

function getPayment(headers: Record<string, string>, reference = 'order-1'): Promise<Response> {
  return fetch(`${emulator.url}/epayment/v1/payments/${reference}`, { headers });
}

/**
 * Sends a POST whose body is declared (`content-length`, nothing sent) or streamed (1.1 MB, never finished) past the
 * emulators' 1 MiB limit, and resolves the status of the answer: it must come before the body does.
 */
async function oversizedPost(url: string, how: 'declared' | 'streamed'): Promise<number | undefined> {
  const headers = how === 'declared' ? { 'content-length': String(300_000_000) } : { 'transfer-encoding': 'chunked' };
  const request = httpRequest(url, { method: 'POST', headers });
  // The emulator closes the connection after its answer, while this request still has bytes to send.
  request.on('error', () => {});
  if (how === 'declared') request.flushHeaders();
  else request.write(Buffer.alloc(1_100_000));
  const [response] = (await once(request, 'response')) as [IncomingMessage];
  response.resume();
  request.destroy();
  return response.statusCode;
}

beforeEach(async () => {
  clock = 1_700_000_000_000;
  emulator = await createVippsEmulator({ now: () => clock, merchants: [vippsEmulatorDefaultMerchant, second] });
});

afterEach(async () => {
  await emulator.close();
});

describe('createVippsEmulator token endpoint', () => {
  it('should issue a token with every numeric field as a string', async () => {
    const response = await post('/accesstoken/get', credentials());
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await response.json()) as VippsAccessTokenResponse;
    expect(body).toEqual({
      token_type: 'Bearer',
      expires_in: '3600',
      ext_expires_in: '0',
      expires_on: String(clock / 1000 + 3600),
      not_before: String(clock / 1000),
      resource: '00000002-0000-0000-c000-000000000000',
      access_token: expect.stringMatching(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/),
    });
    expect(emulator.counters.tokensIssued).toBe(1);
  });

  it('should put expires_on on the gateway clock', async () => {
    emulator.setClockOffset(60_000);
    emulator.tokenLifetimeMs = 86_400_000;
    const body = (await (await post('/accesstoken/get', credentials())).json()) as VippsAccessTokenResponse;
    expect(body.expires_in).toBe('86400');
    expect(body.expires_on).toBe(String(clock / 1000 + 60 + 86_400));
  });

  it('should answer each merchant with its own credentials', async () => {
    expect((await post('/accesstoken/get', credentials(second))).status).toBe(200);
    const mixed = await post('/accesstoken/get', {
      ...credentials(second),
      'Ocp-Apim-Subscription-Key': vippsEmulatorDefaultMerchant.subscriptionKey,
    });
    expect(mixed.status).toBe(401);
  });

  it.each([
    [
      'a missing subscription key',
      { 'Ocp-Apim-Subscription-Key': '' },
      401,
      { statusCode: 401, message: expect.stringMatching(/missing subscription key/) },
    ],
    [
      'a wrong subscription key',
      { 'Ocp-Apim-Subscription-Key': 'nope-key' },
      401,
      { statusCode: 401, message: expect.stringMatching(/invalid subscription key/) },
    ],
    [
      'a wrong secret',
      { client_secret: 'nope-secret' },
      401,
      identityError('invalid_client', 7000215, /^AADSTS7000215: Invalid client secret provided\./),
    ],
    [
      'an unknown client id',
      { client_id: 'nope-client' },
      400,
      identityError(
        'unauthorized_client',
        700016,
        /^AADSTS700016: Application with identifier 'nope-client' was not found in the directory/,
      ),
    ],
    ['a missing client secret', { client_secret: '' }, 401, identityError('invalid_client', 7000218, /^AADSTS7000218: /)],
    ['a missing client id', { client_id: '' }, 400, identityError('invalid_request', 900144, /^AADSTS900144: .*'client_id'/)],
    [
      'a subscription key of another merchant',
      { 'Ocp-Apim-Subscription-Key': second.subscriptionKey! },
      401,
      { statusCode: 401, message: 'Subscription not found.' },
    ],
    [
      'a malformed Merchant-Serial-Number',
      { 'Merchant-Serial-Number': '12' },
      400,
      { error: 'invalid_request', error_description: expect.stringMatching(/Merchant-Serial-Number/) },
    ],
    [
      'a too long Vipps-System-Name',
      { 'Vipps-System-Name': 'x'.repeat(31) },
      400,
      { error: 'invalid_request', error_description: expect.stringMatching(/Vipps-System-Name/) },
    ],
  ])('should refuse %s without echoing a secret', async (_, override, status, expected) => {
    const headers = Object.fromEntries(Object.entries({ ...credentials(), ...override }).filter(([, value]) => value !== ''));
    const response = await post('/accesstoken/get', headers);
    expect(response.status).toBe(status);
    const text = await response.text();
    expect(JSON.parse(text)).toEqual(expected);
    for (const secret of [
      vippsEmulatorDefaultMerchant.clientSecret,
      vippsEmulatorDefaultMerchant.subscriptionKey,
      'nope-secret',
      'nope-key',
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(emulator.counters.tokensIssued).toBe(0);
  });

  it('should count requests and the headers seen per endpoint', async () => {
    await post('/accesstoken/get', { ...credentials(), 'Merchant-Serial-Number': '123456' });
    await post('/accesstoken/get', credentials());
    await post('/miami/v1/token', {
      client_id: vippsEmulatorDefaultMerchant.clientId,
      client_secret: vippsEmulatorDefaultMerchant.clientSecret,
    });
    expect(emulator.counters.tokenRequests).toBe(2);
    const headerCounts = (target: 'accesstoken' | 'partner'): Record<string, number> => {
      const counts: Record<string, number> = {};
      for (const { headers } of emulator.seen(target)) for (const name of Object.keys(headers)) counts[name] = (counts[name] ?? 0) + 1;
      return counts;
    };
    expect(headerCounts('accesstoken')).toMatchObject({
      client_id: 2,
      client_secret: 2,
      'ocp-apim-subscription-key': 2,
      'merchant-serial-number': 1,
    });
    expect(emulator.counters.partnerTokenRequests).toBe(1);
    expect(headerCounts('partner')['ocp-apim-subscription-key']).toBeUndefined();
    emulator.resetCounters();
    expect(emulator.counters.tokenRequests).toBe(0);
    expect(emulator.seen('accesstoken')).toEqual([]);
  });
});

describe('createVippsEmulator partner endpoint', () => {
  it('should issue a 15-minute token for the documented OAuth 2.0 client credentials request, expires_in a number', async () => {
    const response = await postPartnerForm(second);
    expect(response.status).toBe(200);
    const body = (await response.json()) as VippsPartnerTokenResponse;
    expect(body).toEqual({ access_token: expect.stringMatching(/^eyJ/), token_type: 'Bearer', expires_in: 900 });
    expect(emulator.countersFor(second.clientId)).toMatchObject({
      partnerTokenRequests: 1,
      partnerClientCredentialsRequests: 1,
      partnerLegacyHeaderRequests: 0,
      tokensIssued: 1,
    });
    const [seen] = emulator.seen('partner');
    expect(seen?.body).toBe('grant_type=client_credentials');
    expect(seen?.headers['content-type']).toBe('application/x-www-form-urlencoded');
  });

  it('should send expires_in as a string, as the OpenAPI description has it, when asked', async () => {
    await emulator.close();
    emulator = await createVippsEmulator({ now: () => clock, partnerExpiresIn: 'string' });
    const body = (await (await postPartnerForm()).json()) as VippsPartnerTokenResponse;
    expect(body.expires_in).toBe('900');
  });

  it('should still accept the legacy client_id and client_secret headers, counted apart', async () => {
    const response = await post('/miami/v1/token', { client_id: second.clientId, client_secret: second.clientSecret });
    expect(response.status).toBe(200);
    expect(emulator.counters).toMatchObject({
      partnerTokenRequests: 1,
      partnerClientCredentialsRequests: 0,
      partnerLegacyHeaderRequests: 1,
    });
  });

  it('should accept a request without grant_type, which the published types mark optional, and refuse another grant', async () => {
    const { headers } = partnerForm();
    expect((await post('/miami/v1/token', headers)).status).toBe(200);
    const refused = await post('/miami/v1/token', headers, 'grant_type=password');
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual(identityError('unsupported_grant_type', 70003, /^AADSTS70003: /));
  });

  it('should refuse a secret form-encoded before base64, which is not the secret, and a wrong one, as invalid_client', async () => {
    const encoded = encodeURIComponent(second.clientSecret);
    expect(encoded).not.toBe(second.clientSecret);
    for (const secret of [encoded, 'nope-secret']) {
      const response = await postPartnerForm(second, secret);
      expect(response.status).toBe(401);
      expect(await response.json()).toEqual(identityError('invalid_client', 7000215, /^AADSTS7000215: /));
    }
    expect(emulator.counters).toMatchObject({ partnerClientCredentialsRequests: 2, tokensIssued: 0, rejectedTokenRequests: 2 });
  });

  it('should answer an unknown client id with 400 and the identity platform body, whichever form it came in', async () => {
    const stranger = { clientId: 'nope-client', clientSecret: 'nope-secret' };
    for (const response of [await postPartnerForm(stranger), await post('/miami/v1/token', credentials(stranger))]) {
      expect(response.status).toBe(400);
      expect(await response.json()).toEqual(identityError('unauthorized_client', 700016, /^AADSTS700016: .*'nope-client'/));
    }
  });

  it('should refuse a request with no credentials in any form', async () => {
    const response = await post(
      '/miami/v1/token',
      { 'Content-Type': 'application/x-www-form-urlencoded' },
      'grant_type=client_credentials',
    );
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual(identityError('invalid_request', 900144, /'client_id'/));
    expect(emulator.counters).toMatchObject({
      partnerTokenRequests: 1,
      partnerClientCredentialsRequests: 0,
      partnerLegacyHeaderRequests: 0,
    });
  });
});

describe('createVippsEmulator clients no one here wrote', () => {
  it('should accept the token call of the official SDK: every Vipps-System-* header empty, an empty bearer, a form content type', async () => {
    // @vippsmobilepay/sdk 2.4.2 (vippsas/deno-sdk src/base_client_helper.ts and src/apis/auth.ts) sends these.
    const response = await post('/accesstoken/get', {
      ...credentials(),
      'Content-Type': 'application/x-www-form-urlencoded',
      Authorization: 'Bearer ',
      'User-Agent': 'Vipps/Deno SDK/npm-module',
      'Merchant-Serial-Number': '123456',
      'Vipps-System-Name': '',
      'Vipps-System-Version': '',
      'Vipps-System-Plugin-Name': '',
      'Vipps-System-Plugin-Version': '',
      'Idempotency-Key': '5b7c0d8e-7b43-4a1c-9f55-2f1a0d0e6c11',
    });
    expect(response.status).toBe(200);
    expect(emulator.seen('accesstoken')[0]?.headers['vipps-system-name']).toBe('');
  });

  it.each(['/accessToken/get', '/AccessToken/Get', '/MIAMI/v1/Token'])(
    'should match the token path %s case-insensitively',
    async (path) => {
      const response = path.toLowerCase().startsWith('/miami')
        ? await post(path, partnerForm().headers, partnerForm().body)
        : await post(path, credentials());
      expect(response.status).toBe(200);
    },
  );
});

describe('createVippsEmulator payment endpoint', () => {
  it('should require the bearer token and the subscription key', async () => {
    const token = await tokenFor();
    const key = { 'Ocp-Apim-Subscription-Key': vippsEmulatorDefaultMerchant.subscriptionKey };
    expect((await getPayment({ authorization: `Bearer ${token}`, ...key })).status).toBe(200);
    expect((await getPayment(key)).status).toBe(401);
    expect((await getPayment({ authorization: `Bearer ${token}` })).status).toBe(401);
    expect((await getPayment({ authorization: token, ...key })).status).toBe(401);
    expect((await getPayment({ authorization: `Bearer ${token}`, 'Ocp-Apim-Subscription-Key': second.subscriptionKey! })).status).toBe(401);
    expect(emulator.counters.apiCalls).toBe(5);
  });

  it('should answer 404 for a reference that does not decode, and keep serving', async () => {
    const headers = {
      authorization: `Bearer ${await tokenFor()}`,
      'Ocp-Apim-Subscription-Key': vippsEmulatorDefaultMerchant.subscriptionKey,
    };
    expect((await getPayment(headers, '%E0')).status).toBe(404);
    expect((await getPayment(headers)).status).toBe(200);
  });

  it.each(['declared', 'streamed'] as const)(
    'should answer 413 to a body %s past 1 MiB without waiting for it, and keep serving',
    async (how) => {
      expect(await oversizedPost(`${emulator.url}/accesstoken/get`, how)).toBe(413);
      expect(await oversizedPost(`${emulator.url}/epayment/v1/payments/order-1`, how)).toBe(413);
      expect(await oversizedPost(`${emulator.url}/elsewhere`, how)).toBe(413);
      expect((await post('/accesstoken/get', credentials())).status).toBe(200);
    },
  );

  it('should answer with the payment and the Merchant-Serial-Number it was called for', async () => {
    const token = await tokenFor(second);
    const headers = { authorization: `Bearer ${token}`, 'Ocp-Apim-Subscription-Key': second.subscriptionKey! };
    const response = await getPayment(headers, 'order%2042');
    expect(await response.json()).toMatchObject({ reference: 'order 42', state: 'AUTHORIZED', merchantSerialNumber: '654321' });
    const forOther = await getPayment({ ...headers, 'Merchant-Serial-Number': '4321' });
    expect(await forOther.json()).toMatchObject({ merchantSerialNumber: '4321' });
  });

  it('should refuse an expired token by the gateway clock', async () => {
    const token = await tokenFor();
    const headers = { authorization: `Bearer ${token}`, 'Ocp-Apim-Subscription-Key': vippsEmulatorDefaultMerchant.subscriptionKey };
    clock += 3_599_000;
    expect((await getPayment(headers)).status).toBe(200);
    clock += 1_000;
    const response = await getPayment(headers);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ title: 'Unauthorized', detail: 'The access token has expired.' });
  });

  it('should refuse a revoked token and leave others alone', async () => {
    const revoked = await tokenFor();
    const kept = await tokenFor();
    emulator.revoke(revoked);
    const key = { 'Ocp-Apim-Subscription-Key': vippsEmulatorDefaultMerchant.subscriptionKey };
    expect((await getPayment({ authorization: `Bearer ${revoked}`, ...key })).status).toBe(401);
    expect((await getPayment({ authorization: `Bearer ${kept}`, ...key })).status).toBe(200);
    emulator.revoke();
    expect((await getPayment({ authorization: `Bearer ${kept}`, ...key })).status).toBe(401);
  });

  it('should accept a partner token without a subscription key', async () => {
    const response = await post('/miami/v1/token', {
      client_id: vippsEmulatorDefaultMerchant.clientId,
      client_secret: vippsEmulatorDefaultMerchant.clientSecret,
    });
    const { access_token: token } = (await response.json()) as VippsPartnerTokenResponse;
    expect((await getPayment({ authorization: `Bearer ${token}`, 'Merchant-Serial-Number': '123456' })).status).toBe(200);
  });
});

describe('createVippsEmulator faults', () => {
  it('should apply a fault for its count, then answer normally', async () => {
    emulator.fault({ kind: 'status', status: 503, count: 2 });
    expect((await post('/accesstoken/get', credentials())).status).toBe(503);
    expect((await post('/accesstoken/get', credentials())).status).toBe(503);
    expect((await post('/accesstoken/get', credentials())).status).toBe(200);
  });

  it("should answer a 429 fault as the API gateway's rate limit does, with Retry-After", async () => {
    emulator.fault({ kind: 'status', status: 429 });
    const response = await post('/accesstoken/get', credentials());
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(await response.json()).toEqual({ statusCode: 429, message: 'Rate limit is exceeded. Try again in 1 seconds.' });
  });

  it('should apply a fault to the chosen endpoint only', async () => {
    emulator.fault({ kind: 'status', status: 500, target: 'partner' });
    expect((await post('/accesstoken/get', credentials())).status).toBe(200);
    expect((await post('/miami/v1/token', credentials())).status).toBe(500);
    emulator.clearFaults();
    expect((await post('/miami/v1/token', credentials())).status).toBe(200);
  });

  it('should apply a fault to the payment API only when it names payments as its endpoint', async () => {
    const token = await tokenFor();
    const headers = { authorization: `Bearer ${token}`, 'Ocp-Apim-Subscription-Key': vippsEmulatorDefaultMerchant.subscriptionKey };
    emulator.fault({ kind: 'status', status: 503, target: 'payments', count: 1 });
    expect((await post('/accesstoken/get', credentials())).status).toBe(200);
    expect((await getPayment(headers)).status).toBe(503);
    expect((await getPayment(headers)).status).toBe(200);
    emulator.fault({ kind: 'status', status: 500, count: 1 });
    expect((await getPayment(headers)).status).toBe(200);
    expect((await post('/accesstoken/get', credentials())).status).toBe(500);

    emulator.fault({ kind: 'truncated', target: 'payments', count: 1 });
    const truncated = await getPayment(headers);
    expect(truncated.status).toBe(200);
    await expect(truncated.text()).rejects.toThrow();
    emulator.fault({ kind: 'reset', target: 'payments', count: 1 });
    await expect(getPayment(headers)).rejects.toMatchObject({ cause: { code: 'ECONNRESET' } });
    emulator.fault({ kind: 'slow', delayMs: 10, target: 'payments', count: 1 });
    expect(await (await getPayment(headers)).json()).toMatchObject({ reference: 'order-1', state: 'AUTHORIZED' });
  });

  it('should ask injectFault about each request no queued fault answers, and answer with the fault it returns', async () => {
    await emulator.close();
    const asked: string[] = [];
    emulator = await createVippsEmulator({
      now: () => clock,
      injectFault: (endpoint, request) => {
        asked.push(`${endpoint} ${request.method} ${request.url}`);
        return request.url?.endsWith('/faulted') ? { kind: 'status', status: 503 } : undefined;
      },
    });
    const headers = {
      authorization: `Bearer ${await tokenFor()}`,
      'Ocp-Apim-Subscription-Key': vippsEmulatorDefaultMerchant.subscriptionKey,
    };
    expect((await getPayment(headers, 'faulted')).status).toBe(503);
    expect((await getPayment(headers, 'fine')).status).toBe(200);
    emulator.fault({ kind: 'status', status: 500, target: 'payments', count: 1 });
    expect((await getPayment(headers, 'queued')).status).toBe(500);
    expect(asked).toEqual([
      'accesstoken POST /accesstoken/get',
      'payments GET /epayment/v1/payments/faulted',
      'payments GET /epayment/v1/payments/fine',
    ]);
  });

  it('should send an HTML page, malformed JSON or a custom body', async () => {
    emulator.fault({ kind: 'html', count: 1 });
    emulator.fault({ kind: 'malformed', count: 1 });
    emulator.fault({ kind: 'body', body: { hello: 'world' }, status: 201, count: 1 });
    const html = await post('/accesstoken/get', credentials());
    expect(html.status).toBe(502);
    expect(await html.text()).toMatch(/^<!DOCTYPE html>/);
    const malformed = await post('/accesstoken/get', credentials());
    await expect(malformed.json()).rejects.toThrow(SyntaxError);
    const custom = await post('/accesstoken/get', credentials());
    expect(custom.status).toBe(201);
    expect(await custom.json()).toEqual({ hello: 'world' });
  });

  it('should drop the connection or cut the body short', async () => {
    emulator.fault({ kind: 'drop', count: 1 });
    emulator.fault({ kind: 'truncated', count: 1 });
    await expect(post('/accesstoken/get', credentials())).rejects.toThrow(TypeError);
    const truncated = await post('/accesstoken/get', credentials());
    expect(truncated.status).toBe(200);
    await expect(truncated.text()).rejects.toThrow();
  });

  it('should reset the connection, or stall until the emulator closes', async () => {
    emulator.fault({ kind: 'reset', count: 1 });
    await expect(post('/accesstoken/get', credentials())).rejects.toMatchObject({ cause: { code: 'ECONNRESET' } });
    emulator.fault({ kind: 'stall' });
    let settled = false;
    const pending = post('/accesstoken/get', credentials()).then(
      () => 'answered',
      (error: unknown) => error,
    );
    void pending.finally(() => {
      settled = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(settled).toBe(false);
    // close() must not wait for the stalled exchange (the client's own timeout is minutes): the test's timeout fails
    // a close that does.
    await emulator.close();
    expect(await pending).toBeInstanceOf(TypeError);
  });

  it('should send a raw answer byte for byte, chunked, truncated or stalled', async () => {
    const bytes = new Uint8Array([0xff, 0xfe, 0x00, 0x7b]);
    emulator.fault({ kind: 'raw', status: 418, contentType: null, body: bytes, count: 1 });
    const raw = await post('/accesstoken/get', credentials());
    expect(raw.status).toBe(418);
    expect(raw.headers.get('content-type')).toBeNull();
    expect(new Uint8Array(await raw.arrayBuffer())).toEqual(bytes);

    emulator.fault({ kind: 'raw', body: 'x'.repeat(10_000), chunkSize: 1_000, count: 1 });
    const chunked = await post('/accesstoken/get', credentials());
    expect(chunked.headers.get('transfer-encoding')).toBe('chunked');
    expect(await chunked.text()).toBe('x'.repeat(10_000));

    emulator.fault({ kind: 'raw', body: '{"access_token":"', chunkSize: 4, ending: 'reset', count: 1 });
    const reset = await post('/accesstoken/get', credentials());
    await expect(reset.text()).rejects.toThrow();

    emulator.fault({ kind: 'raw', body: '{', declaredLength: 100 * 1024 * 1024, ending: 'stall', count: 1 });
    const stalled = await post('/accesstoken/get', credentials());
    expect(stalled.headers.get('content-length')).toBe(String(100 * 1024 * 1024));
    const body = stalled.text().catch((error: unknown) => error);
    await emulator.close();
    expect(await body).toBeInstanceOf(Error);
    expect(() => emulator.fault({ kind: 'raw', chunkSize: 0 })).toThrow(RangeError);
  });

  it('should answer slowly, and close without waiting for a slow answer', async () => {
    emulator.fault({ kind: 'slow', delayMs: 80, count: 1 });
    let answered = false;
    const slow = post('/accesstoken/get', credentials()).finally(() => {
      answered = true;
    });
    // Ordered, not timed: a 20 ms timer set after the request was sent fires before the emulator's 80 ms one.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(answered).toBe(false);
    expect((await slow).status).toBe(200);

    emulator.fault({ kind: 'slow', delayMs: 60_000 });
    const pending = post('/accesstoken/get', credentials()).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 20));
    // close() must not wait for the stalled exchange (the client's own timeout is minutes): the test's timeout fails
    // a close that does.
    await emulator.close();
    expect(await pending).toBeInstanceOf(TypeError);
  });

  it('should refuse a queued delay over 2^31-1 ms, which a timer fires after 1 ms, with a ConfigurationError', async () => {
    const tooLong = [
      { kind: 'slow', delayMs: 2 ** 31 },
      { kind: 'raw', body: '{}', chunkSize: 1, chunkDelayMs: 2 ** 31 },
    ] as const;
    for (const fault of tooLong) {
      expect(() => emulator.fault(fault)).toThrow(
        expect.objectContaining({
          name: 'ConfigurationError',
          issues: [expect.objectContaining({ message: expect.stringMatching(/^must be at most 2147483647 /) })],
        }),
      );
    }
    // Nothing was queued: the next token request gets its token.
    expect((await post('/accesstoken/get', credentials())).status).toBe(200);
  });

  it('should hold an injected answer delayed over 2^31-1 ms until it closes, not answer it after 1 ms', async () => {
    await emulator.close();
    emulator = await createVippsEmulator({ injectFault: () => ({ kind: 'slow', delayMs: 2 ** 31 }) });
    let answered = false;
    const pending = post('/accesstoken/get', credentials())
      .catch((error: unknown) => error)
      .finally(() => {
        answered = true;
      });
    // Ordered, not timed: a 50 ms timer set after the request was sent fires before a 2^31 ms one, not a 1 ms one.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(answered).toBe(false);
    await emulator.close();
    expect(await pending).toBeInstanceOf(Error);
  });
});

describe('createVippsEmulator secret rotation', () => {
  const merchant = vippsEmulatorDefaultMerchant;

  it('should accept an added client secret beside the old one and refuse the old one as invalid_client once revoked', async () => {
    const newSecret = createCanary('rotated-', 32);
    emulator.addSecret(merchant.clientId, newSecret);
    expect((await post('/accesstoken/get', credentials(merchant))).status).toBe(200);
    expect((await post('/accesstoken/get', credentials({ ...merchant, clientSecret: newSecret }))).status).toBe(200);

    expect(emulator.revokeSecret(merchant.clientId, merchant.clientSecret)).toBe(true);
    const refused = await post('/accesstoken/get', credentials(merchant));
    expect(refused.status).toBe(401);
    expect(await refused.json()).toEqual(identityError('invalid_client', 7000215, /^AADSTS7000215: /));
    const partner = await post('/miami/v1/token', credentials(merchant));
    expect(partner.status).toBe(401);
    expect((await post('/accesstoken/get', credentials({ ...merchant, clientSecret: newSecret }))).status).toBe(200);
    expect(emulator.counters).toMatchObject({ tokensIssued: 3, rejectedTokenRequests: 2 });
  });

  it('should rotate a subscription key for token requests and API calls alike', async () => {
    const newKey = createCanary('', 32);
    emulator.addSecret(merchant.clientId, newKey, 'subscriptionKey');
    const token = await tokenFor({ ...merchant, subscriptionKey: newKey });
    expect((await getPayment({ authorization: `Bearer ${token}`, 'Ocp-Apim-Subscription-Key': merchant.subscriptionKey })).status).toBe(
      200,
    );

    expect(emulator.revokeSecret(merchant.clientId, merchant.subscriptionKey, 'subscriptionKey')).toBe(true);
    const refused = await post('/accesstoken/get', credentials(merchant));
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ statusCode: 401, message: expect.stringContaining('invalid subscription key') });
    expect((await getPayment({ authorization: `Bearer ${token}`, 'Ocp-Apim-Subscription-Key': merchant.subscriptionKey })).status).toBe(
      401,
    );
    expect((await getPayment({ authorization: `Bearer ${token}`, 'Ocp-Apim-Subscription-Key': newKey })).status).toBe(200);
  });

  it('should count the token requests each secret was presented in, by index and fingerprint', async () => {
    const newSecret = createCanary('rotated-', 32);
    emulator.addSecret(merchant.clientId, newSecret);
    await post('/accesstoken/get', credentials(merchant));
    await post('/miami/v1/token', credentials({ ...merchant, clientSecret: newSecret }));
    await post('/accesstoken/get', credentials({ ...merchant, clientSecret: newSecret }));
    emulator.revokeSecret(merchant.clientId, merchant.clientSecret);
    await post('/accesstoken/get', credentials(merchant));

    expect(emulator.secretCountersFor(merchant.clientId)).toEqual([
      {
        field: 'clientSecret',
        index: 0,
        fingerprint: fingerprint(merchant.clientSecret),
        revoked: true,
        tokenRequests: 2,
        revokedTokenRequests: 1,
        apiCalls: 0,
        revokedApiCalls: 0,
      },
      {
        field: 'clientSecret',
        index: 1,
        fingerprint: fingerprint(newSecret),
        revoked: false,
        tokenRequests: 2,
        revokedTokenRequests: 0,
        apiCalls: 0,
        revokedApiCalls: 0,
      },
      {
        field: 'subscriptionKey',
        index: 0,
        fingerprint: fingerprint(merchant.subscriptionKey),
        revoked: false,
        tokenRequests: 3,
        revokedTokenRequests: 0,
        apiCalls: 0,
        revokedApiCalls: 0,
      },
    ]);
    expect(emulator.secretCountersFor(second.clientId).map(({ tokenRequests }) => tokenRequests)).toEqual([0, 0]);
  });

  it('should count API calls against the secrets their token was issued for, and those made after a revocation', async () => {
    const newSecret = createCanary('rotated-', 32);
    const headers = (token: string) => ({ authorization: `Bearer ${token}`, 'Ocp-Apim-Subscription-Key': merchant.subscriptionKey });
    const oldToken = await tokenFor();
    expect((await getPayment(headers(oldToken))).status).toBe(200);
    emulator.addSecret(merchant.clientId, newSecret);
    const newToken = await tokenFor({ ...merchant, clientSecret: newSecret });
    emulator.revokeSecret(merchant.clientId, merchant.clientSecret);
    // The token issued for the old secret stays valid until it expires: each call with it is one too many.
    expect((await getPayment(headers(oldToken))).status).toBe(200);
    expect((await getPayment(headers(newToken))).status).toBe(200);
    expect((await getPayment(headers(newToken))).status).toBe(200);

    expect(
      emulator.secretCountersFor(merchant.clientId).map(({ field, apiCalls, revokedApiCalls }) => ({ field, apiCalls, revokedApiCalls })),
    ).toEqual([
      { field: 'clientSecret', apiCalls: 2, revokedApiCalls: 1 },
      { field: 'clientSecret', apiCalls: 2, revokedApiCalls: 0 },
      { field: 'subscriptionKey', apiCalls: 4, revokedApiCalls: 0 },
    ]);
  });

  it('should refuse to add a secret to a field that holds none', () => {
    expect(() => emulator.addSecret(merchant.clientId, '654321', 'merchantSerialNumber')).toThrow(
      expect.objectContaining({ name: 'ConfigurationError', provider: 'vipps', path: 'field' }),
    );
  });

  it('should show no secret in inspect or JSON output after a rotation', async () => {
    emulator.addSecret(merchant.clientId, createCanary('rotated-', 32));
    emulator.addSecret(merchant.clientId, createCanary('', 32), 'subscriptionKey');
    await tokenFor();
    emulator.revokeSecret(merchant.clientId, merchant.clientSecret);
    const counters = emulator.secretCountersFor(merchant.clientId);
    for (const output of [inspect(emulator, { depth: 10 }), JSON.stringify(emulator), inspect(counters), JSON.stringify(counters)]) {
      expect(containsCanary(output)).toBe(false);
    }
  });
});
