import { inspect } from 'node:util';
import { createCanary } from '@x/core/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createPortOneEmulator, type PortOneEmulator, portOneEmulatorDefaultMerchant } from './index.js';

let emulator: PortOneEmulator;
const time = Date.UTC(2026, 10, 30, 0, 0, 0);
const { storeId, apiSecret } = portOneEmulatorDefaultMerchant;

beforeAll(async () => {
  emulator = await createPortOneEmulator({ now: () => time });
});

afterAll(async () => {
  await emulator.close();
});

beforeEach(() => {
  emulator.clearFaults();
  emulator.setClockOffset(0);
  emulator.revoke();
  // Replaces the merchant: its added and revoked secrets are gone.
  emulator.addMerchant(portOneEmulatorDefaultMerchant);
  emulator.resetCounters();
  emulator.accessTokenLifetimeMs = 1_800_000;
  emulator.refreshTokenLifetimeMs = 86_400_000;
});

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

async function post(path: string, body: unknown): Promise<Answer> {
  const response = await fetch(`${emulator.url}${path}`, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function login(secret = apiSecret): Promise<{ accessToken: string; refreshToken: string }> {
  const { status, body } = await post('/login/api-secret', { apiSecret: secret });
  expect(status).toBe(200);
  return body as { accessToken: string; refreshToken: string };
}

const refresh = (refreshToken: string) => post('/token/refresh', { refreshToken });

async function payment(authorization?: string, id = 'payment-1'): Promise<Answer> {
  const response = await fetch(`${emulator.url}/payments/${id}`, { headers: authorization === undefined ? {} : { authorization } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const claimsOf = (jwt: string): Record<string, unknown> => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString());

describe('createPortOneEmulator tokens', () => {
  it('should issue an HS256 JWT with iat and exp 30 minutes apart, and an opaque refresh token holding the canary marker', async () => {
    const { accessToken, refreshToken } = await login();
    expect(JSON.parse(Buffer.from(accessToken.split('.')[0]!, 'base64url').toString())).toEqual({ alg: 'HS256', typ: 'JWT' });
    const claims = claimsOf(accessToken);
    expect(claims).toMatchObject({ sub: storeId, iat: time / 1000, exp: time / 1000 + 1800 });
    expect(refreshToken).toMatch(/^xcanary[0-9a-f]{48}$/);
  });

  it('should spend the previous refresh token on every login or refresh, refusing and counting a spent one', async () => {
    const first = await login();
    const second = await refresh(first.refreshToken);
    expect(second.status).toBe(200);
    expect(await refresh(first.refreshToken)).toMatchObject({ status: 401, body: { type: 'UNAUTHORIZED' } });
    await login();
    expect((await refresh(second.body.refreshToken as string)).status).toBe(401);
    expect(emulator.counters).toMatchObject({ loginRequests: 2, refreshRequests: 3, spentRefreshTokens: 2, rejectedTokenRequests: 2 });
    expect(emulator.countersFor(storeId).spentRefreshTokens).toBe(2);
  });

  it('should keep one live refresh token per API secret: a second secret of the store does not spend the first one’s', async () => {
    const other = createCanary('second-');
    emulator.addSecret(storeId, other);
    const first = await login();
    await login(other);
    expect((await refresh(first.refreshToken)).status).toBe(200);
  });

  it('should expire a refresh token after a day, and access tokens after their lifetime, both settable', async () => {
    emulator.refreshTokenLifetimeMs = 60_000;
    emulator.accessTokenLifetimeMs = 10_000;
    const { accessToken, refreshToken } = await login();
    expect(claimsOf(accessToken).exp).toBe(time / 1000 + 10);
    emulator.setClockOffset(10_000);
    expect((await payment(`Bearer ${accessToken}`)).status).toBe(401);
    emulator.setClockOffset(60_000);
    expect(await refresh(refreshToken)).toMatchObject({ status: 401, body: { message: 'The refresh token has expired.' } });
  });

  it('should answer 400 INVALID_REQUEST to a missing field or a body that is not JSON, 401 to an unknown secret or token', async () => {
    expect(await post('/login/api-secret', {})).toMatchObject({ status: 400, body: { type: 'INVALID_REQUEST' } });
    expect(await post('/login/api-secret', 'apiSecret=1')).toMatchObject({ status: 400, body: { type: 'INVALID_REQUEST' } });
    expect(await post('/token/refresh', { refreshToken: '' })).toMatchObject({ status: 400, body: { type: 'INVALID_REQUEST' } });
    expect(await post('/login/api-secret', { apiSecret: 'wrong' })).toMatchObject({ status: 401, body: { type: 'UNAUTHORIZED' } });
    expect(await refresh('xcanary-unknown')).toMatchObject({ status: 401, body: { type: 'UNAUTHORIZED' } });
    expect(emulator.counters).toMatchObject({ tokenRequests: 5, rejectedTokenRequests: 5, tokensIssued: 0 });
  });
});

describe('createPortOneEmulator payments', () => {
  it('should accept `Bearer <accessToken>` and `PortOne <apiSecret>`, and nothing else', async () => {
    const { accessToken } = await login();
    expect(await payment(`Bearer ${accessToken}`)).toMatchObject({ status: 200, body: { id: 'payment-1', status: 'PAID', storeId } });
    expect(await payment(`PortOne ${apiSecret}`)).toMatchObject({ status: 200, body: { id: 'payment-1', storeId } });
    for (const authorization of [
      undefined,
      accessToken,
      `PortOne ${accessToken}`,
      `Bearer ${apiSecret}`,
      'PortOne wrong',
      `Basic ${apiSecret}`,
    ]) {
      expect(await payment(authorization)).toMatchObject({ status: 401, body: { type: 'UNAUTHORIZED' } });
    }
    expect(emulator.counters).toMatchObject({ apiCalls: 8, staticApiCalls: 1, unauthorizedApiCalls: 6 });
    expect(emulator.countersFor(storeId).apiCalls).toBe(2);
  });

  it('should refuse a token whose claims were changed, since its signature no longer matches', async () => {
    const { accessToken } = await login();
    const [header, , signature] = accessToken.split('.');
    const claims = { ...claimsOf(accessToken), exp: time / 1000 + 86_400 };
    const forged = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
    expect((await payment(`Bearer ${forged}`)).status).toBe(401);
  });

  it('should refuse a revoked access token, and answer 404 PAYMENT_NOT_FOUND for a path that names no payment', async () => {
    const { accessToken } = await login();
    expect(emulator.revoke()).toBe(1);
    expect((await payment(`Bearer ${accessToken}`)).status).toBe(401);
    expect(await payment(`PortOne ${apiSecret}`, '%E0')).toMatchObject({ status: 404, body: { type: 'PAYMENT_NOT_FOUND' } });
  });
});

describe('createPortOneEmulator credential rotation', () => {
  it('should accept an added secret, refuse a revoked one (login, refresh and static calls), and count each by fingerprint', async () => {
    const next = createCanary('next-');
    emulator.addSecret(storeId, next);
    const old = await login();
    const fresh = await login(next);
    expect(emulator.revokeSecret(storeId, apiSecret)).toBe(true);
    expect((await post('/login/api-secret', { apiSecret })).status).toBe(401);
    expect((await refresh(old.refreshToken)).status).toBe(401);
    expect((await payment(`PortOne ${apiSecret}`)).status).toBe(401);
    // Access tokens already issued live on, and are counted against the secret they came from.
    expect((await payment(`Bearer ${old.accessToken}`)).status).toBe(200);
    expect((await refresh(fresh.refreshToken)).status).toBe(200);
    const [first, second] = emulator.secretCountersFor(storeId);
    expect(first).toMatchObject({ index: 0, revoked: true, tokenRequests: 2, revokedTokenRequests: 1, revokedApiCalls: 1 });
    expect(second).toMatchObject({ index: 1, revoked: false, tokenRequests: 1 });
    expect(JSON.stringify(emulator.secretCountersFor(storeId))).not.toContain('xcanary');
  });
});

describe('createPortOneEmulator faults', () => {
  it('should aim a fault at one token endpoint, both, or the API', async () => {
    const { refreshToken } = await login();
    emulator.fault({ kind: 'status', status: 503, target: 'refresh' });
    expect(await login()).toBeDefined();
    expect(await refresh(refreshToken)).toMatchObject({ status: 503, body: { type: 'INTERNAL_SERVER_ERROR' } });
    emulator.fault({ kind: 'status', status: 401, target: 'token', count: 2 });
    expect((await post('/login/api-secret', { apiSecret })).body).toEqual({
      type: 'UNAUTHORIZED',
      message: 'The request could not be processed.',
    });
    expect((await refresh(refreshToken)).status).toBe(401);
    emulator.fault({ kind: 'body', status: 403, body: { type: 'FORBIDDEN' }, target: 'api' });
    expect((await payment(`PortOne ${apiSecret}`)).status).toBe(403);
    expect(emulator.counters.faults).toBe(4);
  });

  it('should not spend a refresh token when a fault answered instead', async () => {
    const { refreshToken } = await login();
    emulator.fault({ kind: 'drop', target: 'refresh' });
    await expect(refresh(refreshToken)).rejects.toThrow();
    expect((await refresh(refreshToken)).status).toBe(200);
  });

  it('should show only its address and counters when logged, after it has seen requests', async () => {
    await login();
    for (const text of [inspect(emulator, { depth: 10, showHidden: true }), JSON.stringify(emulator)]) {
      expect(text).not.toContain('xcanary');
      expect(text).toContain(emulator.url);
    }
  });
});
