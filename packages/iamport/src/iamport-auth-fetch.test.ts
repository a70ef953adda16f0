import {
  type Clock,
  createAuthFetch,
  createTokenCache,
  isTokenRequestError,
  isTokenResponseError,
  type TokenCache,
  type TokenCacheOptions,
  type TokenEvent,
  type TokenRequestError,
} from '@x/core';
import { createCanary } from '@x/core/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createIamportProvider } from './iamport-token-provider.js';
import { createIamportEmulator, type IamportEmulator, type IamportEmulatorOptions, type IamportFault } from './testing/index.js';

/** 200 with `now` and `expired_at` as strings. */
const wrongTypes: IamportFault = {
  kind: 'body',
  body: { code: 0, message: null, response: { access_token: createCanary('', 33), now: '1700000000', expired_at: '1700001800' } },
};
/** 200 without `response.access_token`. */
const missingField: IamportFault = {
  kind: 'body',
  body: { code: 0, message: null, response: { now: 1_700_000_000, expired_at: 1_700_001_800 } },
};

const start = Date.UTC(2024, 2, 1, 0, 0, 0);
const minute = 60_000;
const hour = 60 * minute;

interface Harness {
  emulator: IamportEmulator;
  clock: Clock;
  advance(milliseconds: number): void;
  events: TokenEvent[];
  /** The cache behind `iamport`: calling `getToken` alone drives refreshes without an API call. */
  cache: TokenCache;
  iamport: ReturnType<typeof createAuthFetch>;
  /** Waits until every token request the cache started has ended (refreshed, unchanged or failed). */
  settle(): Promise<void>;
  eventsOf<T extends TokenEvent['type']>(type: T): Array<Extract<TokenEvent, { type: T }>>;
}

const emulators: IamportEmulator[] = [];

afterEach(async () => {
  await Promise.all(emulators.splice(0).map((emulator) => emulator.close()));
});

/** One manual clock drives both the emulated i'mport server and the token cache, so hours pass in milliseconds. */
async function harness(
  emulatorOptions: IamportEmulatorOptions = {},
  options: Omit<TokenCacheOptions, 'clock' | 'onEvent'> & { impSecret?: string } = {},
): Promise<Harness> {
  let wall = start;
  let monotonic = 0;
  const clock: Clock = { now: () => wall, monotonic: () => monotonic };
  const emulator = await createIamportEmulator({ now: clock.now, tokenFormat: 'canary', ...emulatorOptions });
  emulators.push(emulator);
  const events: TokenEvent[] = [];
  const { impSecret = emulator.defaultMerchant.impSecret, ...authOptions } = options;
  const provider = createIamportProvider({ impKey: emulator.defaultMerchant.impKey, impSecret, baseUrl: emulator.url });
  const cache = createTokenCache(provider, {
    random: () => 0.5,
    ...authOptions,
    clock,
    onEvent: (event) => events.push(event),
  });
  const iamport = createAuthFetch(cache);
  const eventsOf = <T extends TokenEvent['type']>(type: T) =>
    events.filter((event): event is Extract<TokenEvent, { type: T }> => event.type === type);
  return {
    emulator,
    clock,
    advance(milliseconds) {
      wall += milliseconds;
      monotonic += milliseconds;
    },
    events,
    cache,
    iamport,
    eventsOf,
    async settle() {
      // A background refresh reads the (in-memory) store before it announces itself: let those microtasks run.
      await new Promise((resolve) => setImmediate(resolve));
      await vi.waitFor(
        () => {
          const ended =
            eventsOf('token-refreshed').filter((event) => event.source === 'provider').length +
            eventsOf('token-unchanged').length +
            eventsOf('token-request-failed').length;
          expect(ended).toBe(eventsOf('token-requested').length);
        },
        { timeout: 5_000, interval: 5 },
      );
    },
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

describe("createAuthFetch with the i'mport provider", () => {
  it('should request one token for many concurrent calls', async () => {
    const { emulator, iamport } = await harness();
    const responses = await Promise.all(Array.from({ length: 50 }, (_, index) => iamport(`/payments/imp_${index}`)));
    expect(responses.map((response) => response.status)).toEqual(Array(50).fill(200));
    const body = (await responses[7]!.json()) as { code: number; response: { imp_uid: string } };
    expect(body).toMatchObject({ code: 0, response: { imp_uid: 'imp_7' } });
    expect(emulator.counters).toMatchObject({ tokenRequests: 1, tokensIssued: 1, apiCalls: 50, unauthorizedApiCalls: 0 });
  });

  describe.each([
    ['in sync with ours', 0],
    ['9 hours ahead', 9 * hour],
    ['10 minutes behind', -10 * minute],
  ])("over two hours with i'mport's clock %s", (_, clockOffsetMs) => {
    it('should keep one token alive through the extension window, never get a 401, and report the skew', async () => {
      const { emulator, cache, iamport, advance, settle, eventsOf } = await harness({ clockOffsetMs });
      const stepMs = 10_000;
      const runMs = 2 * hour;
      for (let elapsed = 0; elapsed <= runMs; elapsed += stepMs) {
        // Every 10 s the token is asked for; every minute it is also used, so an expired token would show as a 401.
        if (elapsed % minute === 0) {
          const response = await iamport('/payments/imp_448280090638');
          expect(response.status).toBe(200);
          await response.arrayBuffer();
        } else {
          await cache.getToken();
        }
        await settle();
        advance(stepMs);
      }

      const [first, ...later] = eventsOf('token-refreshed');
      expect(first?.expiresInMs).toBe(30 * minute);
      expect(first?.diagnostics?.clockSkewMs).toBe(clockOffsetMs);
      expect(later.length).toBeGreaterThan(0);
      for (const event of later) {
        expect(event).toMatchObject({ extended: true, fingerprint: first?.fingerprint });
        expect(event.diagnostics?.clockSkewMs).toBe(clockOffsetMs);
      }

      // random() is 0.5, so the refresh window opens 45 s before expiry (50 s less 10 % jitter); the first step in
      // it is at 29:20, and each extension moves expiry, and so the next refresh, 5 minutes later.
      const firstRefreshMs = Math.ceil((30 * minute - 45_000) / stepMs) * stepMs;
      const expectedRequests = 1 + 1 + Math.floor((runMs - firstRefreshMs) / (5 * minute));
      expect(emulator.counters).toMatchObject({
        tokenRequests: expectedRequests,
        tokensIssued: 1,
        tokensExtended: expectedRequests - 1,
        tokensReused: 0,
        unauthorizedApiCalls: 0,
      });
      expect(eventsOf('token-unchanged')).toEqual([]);
    }, 20_000);
  });

  it('should serve scaled-down lifetimes (6 s tokens, 4 s extensions) without an error reaching a caller', async () => {
    // i'mport's expiries come in whole seconds: a 4 s extension is an extension, not "the same expiry" read twice.
    const { emulator, cache, iamport, advance, settle, eventsOf } = await harness(
      { tokenLifetimeMs: 6_000, extensionWindowMs: 2_000, extensionMs: 4_000 },
      { policy: { refreshAheadMs: 3_000, minValidityMs: 500, retryBaseDelayMs: 100, retryMaxDelayMs: 1_000 } },
    );
    const stepMs = 100;
    for (let elapsed = 0; elapsed <= minute; elapsed += stepMs) {
      if (elapsed % 1_000 === 0) {
        const response = await iamport('/payments/imp_448280090638');
        expect(response.status).toBe(200);
        await response.arrayBuffer();
      } else {
        await cache.getToken();
      }
      await settle();
      advance(stepMs);
    }
    expect(eventsOf('token-refreshed').filter((event) => event.extended).length).toBeGreaterThan(5);
    expect(eventsOf('token-request-failed')).toEqual([]);
    expect(emulator.counters.unauthorizedApiCalls).toBe(0);
  });

  it('should not poll during the minutes before the extension window', async () => {
    const { emulator, cache, iamport, advance, settle } = await harness();
    await iamport('/payments/imp_1');
    for (let elapsed = 0; elapsed < 29 * minute; elapsed += 5_000) {
      advance(5_000);
      await cache.getToken();
      await settle();
    }
    expect(emulator.counters.tokenRequests).toBe(1);
  });

  it("should not ask before i'mport's last minute when a policy meant for Vipps refreshes 5 minutes ahead", async () => {
    // A registry-wide `refreshAheadMs: 300_000` reaches i'mport merchants too. i'mport answers every request before
    // a token's last minute with the same token and expiry, so a refresh window opened earlier only polls.
    const { emulator, cache, iamport, advance, settle, eventsOf } = await harness({}, { policy: { refreshAheadMs: 300_000 } });
    const stepMs = 10_000;
    const runMs = hour;
    for (let elapsed = 0; elapsed <= runMs; elapsed += stepMs) {
      if (elapsed % minute === 0) {
        const response = await iamport('/payments/imp_448280090638');
        expect(response.status).toBe(200);
        await response.arrayBuffer();
      } else {
        await cache.getToken();
      }
      await settle();
      advance(stepMs);
    }

    // As with i'mport's own tuning: one token, then one extension each time the last minute comes round.
    const firstRefreshMs = Math.ceil((30 * minute - 54_000) / stepMs) * stepMs;
    const expectedRequests = 1 + 1 + Math.floor((runMs - firstRefreshMs) / (5 * minute));
    expect(emulator.counters).toMatchObject({
      tokenRequests: expectedRequests,
      tokensIssued: 1,
      tokensExtended: expectedRequests - 1,
      tokensReused: 0,
      unauthorizedApiCalls: 0,
    });
    expect(eventsOf('token-unchanged')).toEqual([]);
  }, 20_000);

  it("should answer a revoked token's 401 with one new token and one retry", async () => {
    const { emulator, iamport, eventsOf } = await harness();
    expect((await iamport('/payments/imp_1')).status).toBe(200);
    const revoked = emulator.currentToken()!.accessToken;
    emulator.revoke(revoked);
    const response = await iamport('/payments/imp_2');
    expect(response.status).toBe(200);
    expect(emulator.currentToken()!.accessToken).not.toBe(revoked);
    expect(emulator.counters).toMatchObject({ tokenRequests: 2, tokensIssued: 2, apiCalls: 3, unauthorizedApiCalls: 1 });
    expect(eventsOf('token-invalidated')).toHaveLength(1);
  });

  it.each<[IamportFault, Partial<TokenRequestError>]>([
    [
      { kind: 'status', status: 503 },
      { reason: 'http', status: 503, retryable: true },
    ],
    [{ kind: 'html' }, { reason: 'http', status: 502, retryable: true }],
    [{ kind: 'drop' }, { reason: 'network', retryable: true }],
    [{ kind: 'truncated' }, { reason: 'network', retryable: true }],
    [
      { kind: 'slow', delayMs: 5_000 },
      { reason: 'timeout', retryable: true },
    ],
  ])(
    'should fail the first call on a %o fault with a retryable TokenRequestError, then recover after the backoff',
    async (fault, expected) => {
      const { emulator, iamport, advance } = await harness({}, { policy: { requestTimeoutMs: 300 } });
      emulator.fault(fault);
      const error = await rejection(iamport('/payments/imp_1'));
      expect(isTokenRequestError(error), String(error)).toBe(true);
      expect(error, String(error)).toMatchObject(expected);
      // Within the backoff step (500 ms with jitter drawing 0.5) callers share the error; then one asks again.
      expect(await rejection(iamport('/payments/imp_1'))).toBe(error);
      expect(emulator.counters.tokenRequests).toBe(1);
      advance(1_000);
      expect((await iamport('/payments/imp_1')).status).toBe(200);
      expect(emulator.counters.tokenRequests).toBe(2);
    },
  );

  it.each([
    [{ kind: 'html', status: 200 }, ''],
    [{ kind: 'malformed' }, ''],
    [wrongTypes, 'response.now'],
    [missingField, 'response.access_token'],
  ] as Array<[IamportFault, string]>)('should fail the first call on a %o fault with a TokenResponseError', async (fault, field) => {
    const { emulator, iamport, advance } = await harness();
    emulator.fault(fault);
    const error = await rejection(iamport('/payments/imp_1'));
    expect(isTokenResponseError(error)).toBe(true);
    expect(error).toMatchObject({ provider: 'iamport', field });
    advance(1_000);
    expect((await iamport('/payments/imp_1')).status).toBe(200);
  });

  it.each<IamportFault>([
    { kind: 'status', status: 500 },
    { kind: 'html' },
    { kind: 'malformed' },
    wrongTypes,
    missingField,
    { kind: 'truncated' },
    { kind: 'drop' },
    { kind: 'slow', delayMs: 2_000 },
  ])('should keep serving the still-valid token when a refresh meets a %o fault, then extend it', async (fault) => {
    const { emulator, iamport, advance, settle, eventsOf } = await harness({}, { policy: { requestTimeoutMs: 200 } });
    await iamport('/payments/imp_1');
    const token = emulator.currentToken()!;
    advance(29 * minute + 20_000);
    emulator.fault(fault);
    const during = await iamport('/payments/imp_2');
    expect(during.status).toBe(200);
    await settle();
    expect(eventsOf('token-request-failed')).toHaveLength(1);
    expect(eventsOf('token-served-stale')).toHaveLength(1);

    // After the backoff (random 0.5 of 1 s), the next call refreshes again, inside the window: same token, extended.
    advance(1_000);
    expect((await iamport('/payments/imp_3')).status).toBe(200);
    await settle();
    expect(eventsOf('token-refreshed').at(-1)).toMatchObject({ extended: true });
    expect(emulator.currentToken()).toEqual({ accessToken: token.accessToken, expiresAt: token.expiresAt + 5 * minute });
    expect(emulator.counters).toMatchObject({ tokenRequests: 3, tokensIssued: 1, tokensExtended: 1, unauthorizedApiCalls: 0 });
  });

  it("should not hammer i'mport with rejected credentials: one request per cooldown", async () => {
    const { emulator, iamport, advance } = await harness({}, { impSecret: 'not-the-secret' });
    const errors = [];
    for (let attempt = 0; attempt < 5; attempt += 1) errors.push(await rejection(iamport('/payments/imp_1')));
    errors.push(...(await Promise.all(Array.from({ length: 5 }, () => rejection(iamport('/payments/imp_1'))))));
    for (const error of errors) {
      expect(error).toMatchObject({ reason: 'rejected', retryable: false, status: 401, providerCode: -1 });
    }
    expect((errors[0] as TokenRequestError).providerMessage).toBe('imp_key, imp_secret 파라미터가 누락되었거나 올바르지 않습니다.');
    expect(emulator.counters).toMatchObject({ tokenRequests: 1, rejectedTokenRequests: 1, apiCalls: 0 });
    advance(10_000);
    await rejection(iamport('/payments/imp_1'));
    expect(emulator.counters.tokenRequests).toBe(2);
  });

  it("should keep each merchant's token separate", async () => {
    const shopA = { impKey: 'imp_shop_a', impSecret: 'secret-a-0001' };
    const shopB = { impKey: 'imp_shop_b', impSecret: 'secret-b-0002' };
    const emulator = await createIamportEmulator({ merchants: [shopA, shopB], tokenFormat: 'canary' });
    emulators.push(emulator);
    const a = createAuthFetch(createTokenCache(createIamportProvider({ ...shopA, baseUrl: emulator.url })));
    const b = createAuthFetch(createIamportProvider({ ...shopB, baseUrl: emulator.url }));
    await Promise.all([a('/payments/imp_1'), a('/payments/imp_2'), b('/payments/imp_3')]);
    expect(emulator.currentToken('imp_shop_a')?.accessToken).not.toBe(emulator.currentToken('imp_shop_b')?.accessToken);
    expect(emulator.countersFor('imp_shop_a')).toMatchObject({ tokenRequests: 1, apiCalls: 2 });
    expect(emulator.countersFor('imp_shop_b')).toMatchObject({ tokenRequests: 1, apiCalls: 1 });
  });
});
