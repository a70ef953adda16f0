import { once } from 'node:events';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { inspect } from 'node:util';
import { fingerprint } from '@x/core';
import { containsCanary, createCanary } from '@x/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { iamportRejectedCredentialsMessage } from '../iamport-api-types.js';
import {
  createIamportEmulator,
  type IamportEmulator,
  type IamportEmulatorOptions,
  iamportEmulatorDefaultMerchant,
} from './iamport-emulator.js';

const start = Date.UTC(2024, 0, 15, 3, 0, 0);

let emulator: IamportEmulator | undefined;
let time = start;

afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

async function startEmulator(options: IamportEmulatorOptions = {}): Promise<IamportEmulator> {
  time = start;
  emulator = await createIamportEmulator({ now: () => time, ...options });
  return emulator;
}

/** The token envelope as these tests read it; error answers leave `response` null. */
interface TokenBody {
  code: number;
  message: string | null;
  response: { access_token: string; now: number; expired_at: number };
}

async function getToken(server: IamportEmulator, credentials: object = server.defaultMerchant) {
  const { impKey, impSecret } = credentials as { impKey?: string; impSecret?: string };
  const response = await fetch(`${server.url}/users/getToken`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ imp_key: impKey, imp_secret: impSecret }),
  });
  return { status: response.status, body: (await response.json()) as TokenBody };
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

describe('createIamportEmulator', () => {
  it('should issue a 30-minute token of 40 lowercase hex digits, with now and expired_at in UNIX seconds of its own clock', async () => {
    const server = await startEmulator();
    const { status, body } = await getToken(server);
    expect(status).toBe(200);
    expect(body.code).toBe(0);
    expect(body.message).toBeNull();
    // i'mport's form: the guide's example, and iamporter's live test asserts /^[a-f0-9]{40}$/.
    expect(body.response.access_token).toMatch(/^[0-9a-f]{40}$/);
    expect(body.response.now).toBe(Math.floor(start / 1000));
    expect(body.response.expired_at - body.response.now).toBe(1800);
    expect(server.counters).toMatchObject({ tokenRequests: 1, tokensIssued: 1 });
  });

  it('should issue canary-marked tokens of the same length with tokenFormat canary, for leak tests', async () => {
    const server = await startEmulator({ tokenFormat: 'canary' });
    const { body } = await getToken(server);
    expect(body.response.access_token).toMatch(/^xcanary[0-9a-f]{33}$/);
    expect(containsCanary(body.response.access_token)).toBe(true);
  });

  it('should return the same token with the same expiry before the last minute', async () => {
    const server = await startEmulator();
    const first = await getToken(server);
    time += 25 * 60_000;
    const second = await getToken(server);
    expect(second.body.response.access_token).toBe(first.body.response.access_token);
    expect(second.body.response.expired_at).toBe(first.body.response.expired_at);
    expect(server.counters).toMatchObject({ tokensIssued: 1, tokensReused: 1, tokensExtended: 0 });
  });

  it('should extend the same token by 5 minutes within the last minute', async () => {
    const server = await startEmulator();
    const first = await getToken(server);
    time += 29 * 60_000 + 30_000;
    const second = await getToken(server);
    expect(second.body.response.access_token).toBe(first.body.response.access_token);
    expect(second.body.response.expired_at).toBe(first.body.response.expired_at + 300);
    expect(server.counters.tokensExtended).toBe(1);
  });

  it('should issue a new token after expiry and refuse the old one', async () => {
    const server = await startEmulator();
    const first = await getToken(server);
    time += 30 * 60_000;
    const oldCall = await fetch(`${server.url}/payments/imp_1`, {
      headers: { authorization: `Bearer ${first.body.response.access_token}` },
    });
    expect(oldCall.status).toBe(401);
    const second = await getToken(server);
    expect(second.body.response.access_token).not.toBe(first.body.response.access_token);
    expect(second.body.response.expired_at - second.body.response.now).toBe(1800);
    expect(server.counters.tokensIssued).toBe(2);
  });

  it('should apply shortened lifetimes, extension windows and extensions', async () => {
    const server = await startEmulator({ tokenLifetimeMs: 4_000, extensionWindowMs: 1_000, extensionMs: 2_000 });
    const first = await getToken(server);
    expect(first.body.response.expired_at - first.body.response.now).toBe(4);
    time += 3_500;
    const second = await getToken(server);
    expect(second.body.response.expired_at).toBe(first.body.response.expired_at + 2);
  });

  it('should report its clock with the configured offset and let tests move it', async () => {
    const server = await startEmulator({ clockOffsetMs: 9 * 3_600_000 });
    expect((await getToken(server)).body.response.now).toBe(Math.floor((start + 9 * 3_600_000) / 1000));
    server.setClockOffset(-600_000);
    expect(server.now()).toBe(start - 600_000);
  });

  it('should answer wrong credentials with 401 and the envelope', async () => {
    const server = await startEmulator();
    const { status, body } = await getToken(server, { impKey: 'imp_apikey', impSecret: 'wrong' });
    expect(status).toBe(401);
    expect(body).toEqual({ code: -1, message: iamportRejectedCredentialsMessage, response: null });
    const unknownKey = await getToken(server, { impKey: 'imp_nobody', impSecret: 'wrong' });
    expect(unknownKey.status).toBe(401);
    expect(server.counters.rejectedTokenRequests).toBe(2);
  });

  it.each([
    ['no fields', 'application/json', '{}'],
    ['no imp_secret', 'application/json', '{"imp_key":"imp_apikey"}'],
    ['null fields, as iamporter sends getToken(null, null)', 'application/json', '{"imp_key":null,"imp_secret":null}'],
    ['empty fields', 'application/json', '{"imp_key":"","imp_secret":""}'],
    ['a form without imp_secret', 'application/x-www-form-urlencoded', 'imp_key=imp_apikey'],
    ['a body of no declared type', null, '{"imp_key":"imp_apikey"}'],
    ['JSON that is not an object', 'application/json', '["imp_apikey"]'],
  ])('should answer a token request with %s with 400, code -1 and i’mport’s message', async (_name, contentType, body) => {
    const server = await startEmulator();
    const response = await fetch(`${server.url}/users/getToken`, {
      method: 'POST',
      headers: contentType === null ? {} : { 'content-type': contentType },
      body: contentType === null ? new Blob([body]) : body,
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ code: -1, message: 'imp_key, imp_secret 파라메터가 누락되었습니다.', response: null });
    expect(server.counters).toMatchObject({ tokenRequests: 1, rejectedTokenRequests: 1, tokensIssued: 0 });
  });

  it('should accept a form-encoded token request, as the published OpenAPI consumes', async () => {
    const server = await startEmulator();
    const { impKey, impSecret } = server.defaultMerchant;
    const response = await fetch(`${server.url}/users/getToken`, {
      method: 'POST',
      body: new URLSearchParams({ imp_key: impKey, imp_secret: impSecret }),
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as TokenBody).response.access_token).toBe(server.currentToken()?.accessToken);
  });

  it.each([
    ['Authorization: Bearer <token>', (token: string) => ({ authorization: `Bearer ${token}` })],
    ['a bare Authorization: <token>, as the official client sends it', (token: string) => ({ authorization: token })],
    ['the legacy X-ImpTokenHeader: <token>', (token: string) => ({ 'x-imptokenheader': token })],
  ])('should accept the token on an API call as %s', async (_form, headers) => {
    const server = await startEmulator();
    const token = (await getToken(server)).body.response.access_token;
    const response = await fetch(`${server.url}/payments/imp_448280090638`, { headers: headers(token) });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ code: 0, response: { imp_uid: 'imp_448280090638' } });
    expect(server.countersFor(server.defaultMerchant.impKey).apiCalls).toBe(1);
  });

  it.each([
    ['another scheme', (token: string) => `Basic ${token}`],
    ['a token after a space', (token: string) => `${token} ${token}`],
    ['Bearer alone', () => 'Bearer'],
    ['a wrong bare token', () => 'f'.repeat(40)],
  ])('should answer 401 to an Authorization with %s', async (_name, authorization) => {
    const server = await startEmulator();
    const token = (await getToken(server)).body.response.access_token;
    const response = await fetch(`${server.url}/payments/imp_1`, { headers: { authorization: authorization(token) } });
    expect(response.status).toBe(401);
    expect(server.counters.unauthorizedApiCalls).toBe(1);
  });

  it('should keep tokens and counters per merchant', async () => {
    const shopA = { impKey: 'imp_shop_a', impSecret: 'secret-a' };
    const shopB = { impKey: 'imp_shop_b', impSecret: 'secret-b' };
    const server = await startEmulator({ merchants: [shopA, shopB] });
    expect(server.defaultMerchant).toEqual(shopA);
    const a = await getToken(server, shopA);
    const b = await getToken(server, shopB);
    await getToken(server, shopB);
    expect(a.body.response.access_token).not.toBe(b.body.response.access_token);
    expect(server.countersFor('imp_shop_a').tokenRequests).toBe(1);
    expect(server.countersFor('imp_shop_b').tokenRequests).toBe(2);
    expect((await getToken(server, iamportEmulatorDefaultMerchant)).status).toBe(401);
  });

  it('should serve a payment in the envelope for a valid bearer token and 401 otherwise', async () => {
    const server = await startEmulator({ payments: { imp_448280090638: { amount: 50_000 } } });
    const token = (await getToken(server)).body.response.access_token as string;
    const ok = await fetch(`${server.url}/payments/imp_448280090638`, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as { code: number; response: { amount: number; imp_uid: string } };
    expect(body).toMatchObject({ code: 0, message: null, response: { imp_uid: 'imp_448280090638', amount: 50_000, status: 'paid' } });
    const none = await fetch(`${server.url}/payments/imp_448280090638`);
    expect(none.status).toBe(401);
    expect(await none.json()).toEqual({ code: -1, message: 'Unauthorized', response: null });
    const unknown = await fetch(`${server.url}/payments/imp_1`, { headers: { authorization: 'Bearer nope' } });
    expect(unknown.status).toBe(401);
    expect(server.counters).toMatchObject({ apiCalls: 3, unauthorizedApiCalls: 2 });
    expect(server.countersFor(server.defaultMerchant.impKey).apiCalls).toBe(1);
  });

  it('should revoke a token so that API calls get 401 and the next token request gets a new token', async () => {
    const server = await startEmulator();
    const token = (await getToken(server)).body.response.access_token as string;
    expect(server.revoke(token)).toBe(1);
    const call = await fetch(`${server.url}/payments/imp_1`, { headers: { authorization: `Bearer ${token}` } });
    expect(call.status).toBe(401);
    expect((await getToken(server)).body.response.access_token).not.toBe(token);
  });

  it('should inject faults for the given number of requests, then answer normally', async () => {
    const server = await startEmulator();
    server.fault({ kind: 'status', status: 503, count: 2 });
    expect((await getToken(server)).status).toBe(503);
    expect((await getToken(server)).status).toBe(503);
    expect((await getToken(server)).status).toBe(200);
    server.fault({ kind: 'html' });
    const html = await fetch(`${server.url}/users/getToken`, { method: 'POST', body: '{}' });
    expect(html.status).toBe(502);
    expect(await html.text()).toMatch(/^<!DOCTYPE html>/);
    server.fault({ kind: 'drop' });
    await expect(getToken(server)).rejects.toThrow();
    server.fault({ kind: 'malformed' });
    await expect(getToken(server)).rejects.toThrow(SyntaxError);
    expect(server.counters.faults).toBe(5);
  });

  it('should reset the connection, or stall until the emulator closes', async () => {
    const server = await startEmulator();
    server.fault({ kind: 'reset' });
    await expect(getToken(server)).rejects.toMatchObject({ cause: { code: 'ECONNRESET' } });
    server.fault({ kind: 'stall' });
    let settled = false;
    const pending = getToken(server).then(
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
    await server.close();
    expect(await pending).toBeInstanceOf(TypeError);
  });

  it('should send a raw answer byte for byte, chunked, truncated or stalled', async () => {
    const server = await startEmulator();
    const bytes = new Uint8Array([0xff, 0xfe, 0x00, 0x7b]);
    server.fault({ kind: 'raw', status: 418, contentType: null, body: bytes });
    const raw = await fetch(`${server.url}/users/getToken`, { method: 'POST' });
    expect(raw.status).toBe(418);
    expect(raw.headers.get('content-type')).toBeNull();
    expect(new Uint8Array(await raw.arrayBuffer())).toEqual(bytes);

    server.fault({ kind: 'raw', body: 'x'.repeat(10_000), chunkSize: 1_000 });
    const chunked = await fetch(`${server.url}/users/getToken`, { method: 'POST' });
    expect(chunked.headers.get('transfer-encoding')).toBe('chunked');
    expect(chunked.headers.get('content-length')).toBeNull();
    expect(await chunked.text()).toBe('x'.repeat(10_000));

    server.fault({ kind: 'raw', body: '{"code":0', declaredLength: 1_000 });
    const truncated = await fetch(`${server.url}/users/getToken`, { method: 'POST' });
    expect(truncated.headers.get('content-length')).toBe('1000');
    await expect(truncated.text()).rejects.toThrow();

    server.fault({ kind: 'raw', body: '{', declaredLength: 100 * 1024 * 1024, ending: 'stall' });
    const stalled = await fetch(`${server.url}/users/getToken`, { method: 'POST' });
    expect(stalled.headers.get('content-length')).toBe(String(100 * 1024 * 1024));
    const body = stalled.text().catch((error: unknown) => error);
    await server.close();
    expect(await body).toBeInstanceOf(Error);
    expect(() => server.fault({ kind: 'raw', body: 'abc', declaredLength: 2 })).toThrow(RangeError);
  });

  it('should apply faults to the API when targeted there', async () => {
    const server = await startEmulator();
    const token = (await getToken(server)).body.response.access_token as string;
    server.fault({ kind: 'status', target: 'api' });
    const failed = await fetch(`${server.url}/payments/imp_1`, { headers: { authorization: `Bearer ${token}` } });
    expect(failed.status).toBe(500);
    expect((await getToken(server)).status).toBe(200);
  });

  it('should answer 404 to a payment path that does not decode, and keep serving', async () => {
    const server = await startEmulator();
    const headers = { authorization: `Bearer ${(await getToken(server)).body.response.access_token}` };
    expect((await fetch(`${server.url}/payments/imp_%E0`, { headers })).status).toBe(404);
    expect((await fetch(`${server.url}/not-a-payment`, { headers })).status).toBe(404);
    expect((await fetch(`${server.url}/payments/imp_1`, { headers })).status).toBe(200);
  });

  it.each(['declared', 'streamed'] as const)(
    'should answer 413 to a body %s past 1 MiB without waiting for it, and keep serving',
    async (how) => {
      const server = await startEmulator();
      expect(await oversizedPost(`${server.url}/users/getToken`, how)).toBe(413);
      expect(await oversizedPost(`${server.url}/payments/imp_1`, how)).toBe(413);
      expect((await getToken(server)).status).toBe(200);
    },
  );

  it('should ask injectFault about each request no queued fault answers, and answer with the fault it returns', async () => {
    const asked: string[] = [];
    const server = await startEmulator({
      injectFault: (target, request) => {
        asked.push(`${target} ${request.method} ${request.url}`);
        return request.url === '/payments/imp_faulted' ? { kind: 'status', status: 503 } : undefined;
      },
    });
    const token = (await getToken(server)).body.response.access_token;
    const headers = { authorization: `Bearer ${token}` };
    expect((await fetch(`${server.url}/payments/imp_faulted`, { headers })).status).toBe(503);
    expect((await fetch(`${server.url}/payments/imp_fine`, { headers })).status).toBe(200);
    server.fault({ kind: 'status', status: 500 });
    expect((await getToken(server)).status).toBe(500);
    expect(asked).toEqual(['token POST /users/getToken', 'api GET /payments/imp_faulted', 'api GET /payments/imp_fine']);
    expect(server.counters.faults).toBe(2);
  });

  it('should refuse a queued delay over 2^31-1 ms, which a timer fires after 1 ms, with a ConfigurationError', async () => {
    const server = await startEmulator();
    const tooLong = [
      { kind: 'slow', delayMs: 2 ** 31 },
      { kind: 'raw', body: '{}', chunkSize: 1, chunkDelayMs: 2 ** 31 },
    ] as const;
    for (const fault of tooLong) {
      expect(() => server.fault(fault)).toThrow(
        expect.objectContaining({
          name: 'ConfigurationError',
          issues: [expect.objectContaining({ message: expect.stringMatching(/^must be at most 2147483647 /) })],
        }),
      );
    }
    // Nothing was queued: the next token request gets its token.
    expect((await getToken(server)).status).toBe(200);
  });

  it('should hold an injected answer delayed over 2^31-1 ms until it closes, not answer it after 1 ms', async () => {
    const server = await startEmulator({ injectFault: () => ({ kind: 'slow', delayMs: 2 ** 31 }) });
    let answered = false;
    const pending = getToken(server)
      .catch((error: unknown) => error)
      .finally(() => {
        answered = true;
      });
    // Ordered, not timed: a 50 ms timer set after the request was sent fires before a 2^31 ms one, not a 1 ms one.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(answered).toBe(false);
    await server.close();
    expect(await pending).toBeInstanceOf(Error);
  });
});

describe('createIamportEmulator secret rotation', () => {
  it('should accept an added secret beside the old one and refuse the old one with 401 once revoked', async () => {
    const server = await startEmulator();
    const { impKey, impSecret: oldSecret } = server.defaultMerchant;
    const newSecret = createCanary('rotated-', 40);
    server.addSecret(impKey, newSecret);
    expect((await getToken(server, { impKey, impSecret: oldSecret })).status).toBe(200);
    expect((await getToken(server, { impKey, impSecret: newSecret })).status).toBe(200);

    expect(server.revokeSecret(impKey, oldSecret)).toBe(true);
    const refused = await getToken(server, { impKey, impSecret: oldSecret });
    expect(refused).toEqual({ status: 401, body: { code: -1, message: iamportRejectedCredentialsMessage, response: null } });
    expect((await getToken(server, { impKey, impSecret: newSecret })).status).toBe(200);
    expect(server.counters).toMatchObject({ tokenRequests: 4, rejectedTokenRequests: 1 });
  });

  it('should count the token requests each secret was presented in, by index and fingerprint', async () => {
    const server = await startEmulator();
    const { impKey, impSecret: oldSecret } = server.defaultMerchant;
    const newSecret = createCanary('rotated-', 40);
    server.addSecret(impKey, newSecret);
    await getToken(server, { impKey, impSecret: oldSecret });
    await getToken(server, { impKey, impSecret: newSecret });
    await getToken(server, { impKey, impSecret: newSecret });
    server.revokeSecret(impKey, oldSecret);
    await getToken(server, { impKey, impSecret: oldSecret });
    await getToken(server, { impKey, impSecret: 'never-issued' });

    expect(server.secretCountersFor(impKey)).toEqual([
      {
        field: 'impSecret',
        index: 0,
        fingerprint: fingerprint(oldSecret),
        revoked: true,
        tokenRequests: 2,
        revokedTokenRequests: 1,
        apiCalls: 0,
        revokedApiCalls: 0,
      },
      {
        field: 'impSecret',
        index: 1,
        fingerprint: fingerprint(newSecret),
        revoked: false,
        tokenRequests: 2,
        revokedTokenRequests: 0,
        apiCalls: 0,
        revokedApiCalls: 0,
      },
    ]);
    expect(server.revokeSecret(impKey, 'never-issued')).toBe(false);
  });

  it('should count API calls against the secret their token was last handed out for, and those made after its revocation', async () => {
    const server = await startEmulator();
    const { impKey, impSecret: oldSecret } = server.defaultMerchant;
    const newSecret = createCanary('rotated-', 40);
    const payment = (token: string) => fetch(`${server.url}/payments/imp_1`, { headers: { authorization: `Bearer ${token}` } });
    const token = (await getToken(server, { impKey, impSecret: oldSecret })).body.response.access_token;
    expect((await payment(token)).status).toBe(200);
    server.addSecret(impKey, newSecret);
    server.revokeSecret(impKey, oldSecret);
    // The token issued for the old secret lives on after its revocation: each call with it is one too many.
    expect((await payment(token)).status).toBe(200);
    expect((await payment(token)).status).toBe(200);
    // Asked for with the new secret, i'mport hands the same token back: from then on it is the new secret's.
    expect((await getToken(server, { impKey, impSecret: newSecret })).body.response.access_token).toBe(token);
    expect((await payment(token)).status).toBe(200);
    // Once expired, the token is refused whatever it was issued for, and counts for no secret.
    time += 31 * 60_000;
    expect((await payment(token)).status).toBe(401);

    expect(server.secretCountersFor(impKey).map(({ apiCalls, revokedApiCalls }) => ({ apiCalls, revokedApiCalls }))).toEqual([
      { apiCalls: 3, revokedApiCalls: 2 },
      { apiCalls: 1, revokedApiCalls: 0 },
    ]);
  });

  it('should refuse to add a secret for a merchant it does not know, naming the key only', async () => {
    const server = await startEmulator();
    const secret = createCanary('rotated-', 40);
    let error: unknown;
    try {
      server.addSecret('imp_unknown', secret);
    } catch (caught) {
      error = caught;
    }
    expect(error).toMatchObject({ name: 'ConfigurationError', provider: 'iamport', merchant: 'imp_unknown' });
    expect(containsCanary(`${String(error)} ${inspect(error)}`)).toBe(false);
  });

  it('should show no secret in inspect or JSON output after a rotation', async () => {
    const server = await startEmulator();
    const { impKey, impSecret: oldSecret } = server.defaultMerchant;
    server.addSecret(impKey, createCanary('rotated-', 40));
    await getToken(server);
    server.revokeSecret(impKey, oldSecret);
    for (const output of [
      inspect(server, { depth: 10 }),
      JSON.stringify(server),
      inspect(server.secretCountersFor(impKey)),
      JSON.stringify(server.secretCountersFor(impKey)),
    ]) {
      expect(containsCanary(output)).toBe(false);
    }
  });
});
