import { afterEach, describe, expect, it } from 'vitest';
import { createOAuth2Emulator, type OAuth2Emulator, type OAuth2EmulatorOptions, oauth2EmulatorDefaultMerchant } from './index.js';

const { clientId, clientSecret } = oauth2EmulatorDefaultMerchant;
const basic = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`;
const form = 'application/x-www-form-urlencoded';

let emulator: OAuth2Emulator;

afterEach(async () => {
  await emulator.close();
});

async function start(options: OAuth2EmulatorOptions = {}): Promise<OAuth2Emulator> {
  emulator = await createOAuth2Emulator(options);
  return emulator;
}

/** A token request with these headers and body; the answer's status, headers and JSON. */
async function askToken(headers: Record<string, string>, body: string, method = 'POST') {
  const response = await fetch(emulator.tokenUrl, { method, headers, body: method === 'POST' ? body : undefined });
  return { status: response.status, headers: response.headers, json: (await response.json()) as Record<string, unknown> };
}

async function callApi(authorization?: string) {
  const response = await fetch(`${emulator.url}/api/orders/1`, { headers: authorization === undefined ? {} : { authorization } });
  return { status: response.status, headers: response.headers, json: (await response.json()) as Record<string, unknown> };
}

describe('createOAuth2Emulator as a generic RFC 6749 server', () => {
  it('should issue a Bearer token to client_secret_basic and to client_secret_post, granting every scope when none is asked', async () => {
    await start();
    const viaBasic = await askToken({ authorization: basic, 'content-type': form }, 'grant_type=client_credentials');
    expect(viaBasic).toMatchObject({
      status: 200,
      json: { token_type: 'Bearer', expires_in: 3600, scope: oauth2EmulatorDefaultMerchant.scopes.join(' ') },
    });
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: clientSecret,
      scope: 'openid',
    });
    const viaPost = await askToken({ 'content-type': form }, body.toString());
    expect(viaPost).toMatchObject({ status: 200, json: { scope: 'openid' } });
    expect(await callApi(`Bearer ${viaPost.json.access_token}`)).toMatchObject({ status: 200, json: { clientId, scope: 'openid' } });
    expect(emulator.counters).toMatchObject({ tokenRequests: 2, tokensIssued: 2, apiCalls: 1 });
  });

  it('should answer each malformed request with invalid_request, and an unknown grant with unsupported_grant_type', async () => {
    await start();
    const post = `client_id=${encodeURIComponent(clientId)}&client_secret=${encodeURIComponent(clientSecret)}`;
    const cases: Array<[Record<string, string>, string, number, string]> = [
      [{ authorization: basic, 'content-type': 'application/json' }, '{"grant_type":"client_credentials"}', 400, 'invalid_request'],
      [
        { authorization: basic, 'content-type': form },
        'grant_type=client_credentials&grant_type=client_credentials',
        400,
        'invalid_request',
      ],
      [{ authorization: basic, 'content-type': form }, `grant_type=client_credentials&${post}`, 400, 'invalid_request'],
      [{ authorization: basic, 'content-type': form }, 'scope=openid', 400, 'invalid_request'],
      [{ authorization: basic, 'content-type': form }, 'grant_type=password', 400, 'unsupported_grant_type'],
      [{ authorization: basic, 'content-type': form }, 'grant_type=client_credentials&scope=admin', 400, 'invalid_scope'],
    ];
    for (const [headers, body, status, error] of cases) {
      expect(await askToken(headers, body), body).toMatchObject({ status, json: { error, error_description: expect.any(String) } });
    }
    expect(emulator.counters).toMatchObject({ tokenRequests: cases.length, rejectedTokenRequests: cases.length, tokensIssued: 0 });
  });

  it('should refuse a wrong client with 401 and a Basic challenge after Basic, 400 after the body (RFC 6749 section 5.2)', async () => {
    await start();
    const wrongBasic = `Basic ${Buffer.from(`${clientId}:xcanary-wrong`).toString('base64')}`;
    const afterBasic = await askToken({ authorization: wrongBasic, 'content-type': form }, 'grant_type=client_credentials');
    expect(afterBasic).toMatchObject({ status: 401, json: { error: 'invalid_client' } });
    expect(afterBasic.headers.get('www-authenticate')).toBe('Basic realm="oauth2-emulator"');
    const afterPost = await askToken({ 'content-type': form }, `grant_type=client_credentials&client_id=${clientId}&client_secret=wrong`);
    expect(afterPost).toMatchObject({ status: 400, json: { error: 'invalid_client' } });
    expect(await askToken({ 'content-type': form }, 'grant_type=client_credentials')).toMatchObject({ status: 401 });
  });

  it('should form-decode a Basic credential unless told to read it as it is', async () => {
    const merchant = { clientId: 'shop 1', clientSecret: 'xcanary+/=:' };
    const raw = `Basic ${Buffer.from(`${merchant.clientId}:${merchant.clientSecret}`).toString('base64')}`;
    const encoded = `Basic ${Buffer.from('shop+1:xcanary%2B%2F%3D%3A').toString('base64')}`;
    for (const [basicEncoding, accepted, refused] of [
      ['form-encoded', encoded, raw],
      ['as-is', raw, encoded],
    ] as const) {
      await start({ merchants: [merchant], basicEncoding });
      expect(
        (await askToken({ authorization: accepted, 'content-type': form }, 'grant_type=client_credentials')).status,
        basicEncoding,
      ).toBe(200);
      expect(
        (await askToken({ authorization: refused, 'content-type': form }, 'grant_type=client_credentials')).status,
        basicEncoding,
      ).toBe(401);
      await emulator.close();
    }
    await start();
  });

  it('should accept only the methods it is given, send expires_in as asked, and answer GET with 405', async () => {
    await start({ authMethods: ['client_secret_post'], expiresIn: 'string', tokenLifetimeMs: 900_000 });
    expect((await askToken({ authorization: basic, 'content-type': form }, 'grant_type=client_credentials')).status).toBe(401);
    const body = `grant_type=client_credentials&client_id=${clientId}&client_secret=${clientSecret}`;
    expect(await askToken({ 'content-type': form }, body)).toMatchObject({ status: 200, json: { expires_in: '900' } });
    expect((await askToken({}, '', 'GET')).status).toBe(405);
    await emulator.close();
    await start({ expiresIn: 'omitted' });
    expect((await askToken({ authorization: basic, 'content-type': form }, 'grant_type=client_credentials')).json).not.toHaveProperty(
      'expires_in',
    );
  });

  it('should guard its API with RFC 6750 challenges: none without a token, invalid_token for an expired or revoked one', async () => {
    await start();
    const token = (await askToken({ authorization: basic, 'content-type': form }, 'grant_type=client_credentials')).json.access_token;
    const missing = await callApi();
    expect(missing).toMatchObject({ status: 401, json: { error: 'invalid_token' } });
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="oauth2-emulator"');
    const unknown = await callApi('Bearer xcanary-unknown');
    expect(unknown.headers.get('www-authenticate')).toBe('Bearer realm="oauth2-emulator", error="invalid_token"');
    emulator.setClockOffset(3_600_000);
    expect((await callApi(`Bearer ${token}`)).status).toBe(401);
    emulator.setClockOffset(0);
    expect((await callApi(`Bearer ${token}`)).status).toBe(200);
    expect(emulator.revoke(String(token))).toBe(1);
    expect((await callApi(`Bearer ${token}`)).status).toBe(401);
    expect(emulator.counters).toMatchObject({ apiCalls: 5, unauthorizedApiCalls: 4 });
  });

  it('should accept a rotated secret beside the old one until that is revoked, and keep its tokens valid', async () => {
    await start();
    const token = (await askToken({ authorization: basic, 'content-type': form }, 'grant_type=client_credentials')).json.access_token;
    emulator.addSecret(clientId, 'xcanary-next');
    expect(emulator.revokeSecret(clientId, clientSecret)).toBe(true);
    expect((await askToken({ authorization: basic, 'content-type': form }, 'grant_type=client_credentials')).status).toBe(401);
    const next = `Basic ${Buffer.from(`${clientId}:xcanary-next`).toString('base64')}`;
    expect((await askToken({ authorization: next, 'content-type': form }, 'grant_type=client_credentials')).status).toBe(200);
    expect((await callApi(`Bearer ${token}`)).status).toBe(200);
    expect(emulator.secretCountersFor(clientId)).toMatchObject([
      { index: 0, revoked: true, tokenRequests: 2, revokedTokenRequests: 1, apiCalls: 1, revokedApiCalls: 1 },
      { index: 1, revoked: false, tokenRequests: 1 },
    ]);
  });
});

describe('createOAuth2Emulator as PayPal', () => {
  it('should answer /v1/oauth2/token with PayPal’s fields and a paypal-debug-id header', async () => {
    await start({ flavor: 'paypal', now: () => Date.UTC(2026, 10, 20, 10, 0, 0) });
    expect(emulator.tokenUrl).toBe(`${emulator.url}/v1/oauth2/token`);
    const answer = await askToken({ authorization: basic, 'content-type': form }, 'grant_type=client_credentials');
    expect(answer.status).toBe(200);
    expect(Object.keys(answer.json)).toEqual(['scope', 'access_token', 'token_type', 'app_id', 'expires_in', 'nonce']);
    expect(answer.json).toMatchObject({
      scope: oauth2EmulatorDefaultMerchant.scopes.join(' '),
      access_token: expect.stringMatching(/^A21AA/),
      token_type: 'Bearer',
      app_id: 'APP-80W284485P519543T',
      expires_in: 32400,
      nonce: expect.stringMatching(/^2026-11-20T10:00:00Z[\w-]{43}$/),
    });
    expect(answer.headers.get('paypal-debug-id')).toMatch(/^[0-9a-f]{13}$/);
  });

  it('should refuse as PayPal does: 401 Client Authentication failed, Grant Type is NULL, and tokens not found in cache', async () => {
    await start({ flavor: 'paypal' });
    const post = `grant_type=client_credentials&client_id=${clientId}&client_secret=${clientSecret}`;
    expect(await askToken({ 'content-type': form }, post)).toMatchObject({
      status: 401,
      json: { error: 'invalid_client', error_description: 'Client Authentication failed' },
    });
    const missingGrant = await askToken({ authorization: basic, 'content-type': form }, '');
    expect(missingGrant).toMatchObject({ status: 400, json: { error: 'unsupported_grant_type', error_description: 'Grant Type is NULL' } });
    expect(missingGrant.headers.get('paypal-debug-id')).toMatch(/^[0-9a-f]{13}$/);
    const api = await callApi('Bearer A21AAxcanary-unknown');
    expect(api).toMatchObject({ status: 401, json: { error: 'invalid_token', error_description: 'Access Token not found in cache' } });
    expect(api.headers.get('www-authenticate')).toBeNull();
  });

  it('should put paypal-debug-id on a status fault too', async () => {
    await start({ flavor: 'paypal' });
    emulator.fault({ kind: 'status', status: 503 });
    const answer = await askToken({ authorization: basic, 'content-type': form }, 'grant_type=client_credentials');
    expect(answer).toMatchObject({ status: 503, json: { error: 'server_error' } });
    expect(answer.headers.get('paypal-debug-id')).toMatch(/^[0-9a-f]{13}$/);
    expect(emulator.counters.faults).toBe(1);
  });
});
