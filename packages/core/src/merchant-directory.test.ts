import { createManualClock, type ManualClock } from '@x/test-support/clock';
import { startTestTokenServer, type TestTokenServer, testProvider } from '@x/test-support/token-server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type ConfigurationError,
  type ConfigurationIssue,
  createMemoryTokenStore,
  createMerchantRegistry,
  isConfigurationError,
  isMerchantResolveError,
  isRegistryClosedError,
  isRetryable,
  isTokenRequestError,
  isUnknownMerchantError,
  type MerchantRegistryOptions,
  type MerchantSettings,
  type ProviderFactory,
  TokenRequestError,
} from './index.js';
import { cacheKeyOf } from './provider/index.js';

let server: TestTokenServer;
let clock: ManualClock;
/** Secrets the "gateway" accepts: a request with any other is rejected, as a rotated-out secret is. */
let validSecrets: Set<string>;
/** Which secret each token request used. */
let usedSecrets: string[];

beforeEach(async () => {
  clock = createManualClock();
  server = await startTestTokenServer({ now: clock.now, lifetimeMs: 3_600_000 });
  validSecrets = new Set(['s1-xcanary']);
  usedSecrets = [];
});
afterEach(async () => {
  await server.close();
});

/** A gateway whose token endpoint rejects secrets not in `validSecrets`, over the test server's real socket. */
function testFactory(): ProviderFactory {
  const factory: ProviderFactory = (settings: { apiKey: string; apiSecret: string; label?: string }) => {
    const base = testProvider(server, {
      cacheKey: cacheKeyOf('test', [server.url, settings.apiKey, settings.apiSecret]),
      apiHeaders: settings.label === undefined ? undefined : { 'x-label': settings.label },
    });
    return {
      ...base,
      async requestToken(context) {
        usedSecrets.push(settings.apiSecret);
        if (!validSecrets.has(settings.apiSecret)) {
          throw new TokenRequestError('The gateway rejected the credentials', {
            provider: 'test',
            reason: 'rejected',
            retryable: false,
            status: 401,
          });
        }
        return base.requestToken(context);
      },
    };
  };
  factory.validateSettings = (settings) => {
    const issues: ConfigurationIssue[] = [];
    const record = settings as Record<string, unknown>;
    for (const name of ['apiKey', 'apiSecret']) {
      if (typeof record[name] !== 'string' || record[name] === '') issues.push({ path: name, message: 'required' });
    }
    return issues;
  };
  return factory;
}

/** An in-memory "database" behind `resolveMerchant`, counting its questions. */
function database(rows: Record<string, MerchantSettings | undefined>) {
  const db = {
    rows,
    asked: [] as string[],
    resolveMerchant: async (merchantId: string): Promise<MerchantSettings | undefined> => {
      db.asked.push(merchantId);
      return db.rows[merchantId] === undefined ? undefined : { ...db.rows[merchantId]! };
    },
  };
  return db;
}

const entry = (apiSecret: string, extra: Record<string, unknown> = {}): MerchantSettings => ({
  provider: 'test',
  apiKey: 'k1',
  apiSecret,
  ...extra,
});

function registryWith(options: Partial<MerchantRegistryOptions>) {
  return createMerchantRegistry({ providers: { test: testFactory() }, clock, ...options });
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('createMerchantRegistry with resolveMerchant', () => {
  it('should resolve a merchant on its first call, once for concurrent calls, and keep it', async () => {
    const db = database({ 'shop-db': entry('s1-xcanary') });
    const registry = registryWith({ resolveMerchant: db.resolveMerchant });

    const responses = await Promise.all(Array.from({ length: 5 }, () => registry.fetch('shop-db')('/api/x')));
    expect(responses.map((response) => response.status)).toEqual([200, 200, 200, 200, 200]);
    await registry.fetch('shop-db')('/api/x');
    expect(db.asked).toEqual(['shop-db']);
    expect(server.tokenRequests).toBe(1);
    expect(registry.has('shop-db')).toBe(true);
    expect(registry.merchants()).toEqual(['shop-db']);
  });

  it('should ask the configured merchants first and the resolver only for the others', async () => {
    const db = database({ 'shop-kr': entry('s1-xcanary', { apiKey: 'from-db' }) });
    const registry = registryWith({ merchants: { 'shop-kr': entry('s1-xcanary') }, resolveMerchant: db.resolveMerchant });
    expect((await registry.fetch('shop-kr')('/api/x')).status).toBe(200);
    expect(db.asked).toEqual([]);
  });

  it('should refuse an id the resolver does not know with UnknownMerchantError, and never ask for an invalid id', async () => {
    const db = database({});
    const registry = registryWith({ resolveMerchant: db.resolveMerchant });
    const error = await rejectionOf(registry.fetch('nobody')('/api/x'));
    expect(isUnknownMerchantError(error), String(error)).toBe(true);
    expect(error).toMatchObject({ merchant: 'nobody' });
    expect(isUnknownMerchantError(await rejectionOf(Promise.resolve().then(() => registry.fetch('__proto__')('/api/x'))))).toBe(true);
    expect(isUnknownMerchantError(await rejectionOf(Promise.resolve().then(() => registry.fetch(' padded')('/api/x'))))).toBe(true);
    expect(db.asked).toEqual(['nobody']);
  });

  it('should refuse a bad resolved entry with a ConfigurationError naming the merchant, never a value', async () => {
    const db = database({ 'shop-bad': { provider: 'test', apiKey: 'secret-xcanary' } as MerchantSettings });
    const registry = registryWith({ resolveMerchant: db.resolveMerchant });
    const error = await rejectionOf(registry.fetch('shop-bad')('/api/x'));
    expect(isConfigurationError(error), String(error)).toBe(true);
    expect((error as ConfigurationError).issues).toEqual([
      { path: 'merchants.shop-bad.apiSecret', message: 'required', merchant: 'shop-bad', provider: 'test' },
    ]);
    expect(JSON.stringify(error)).not.toContain('xcanary');
    expect(String(error)).not.toContain('xcanary');
  });

  it('should turn a resolver that throws into a retryable MerchantResolveError that does not quote it', async () => {
    let fail = true;
    const registry = registryWith({
      resolveMerchant: async () => {
        if (fail) throw new Error('connect ECONNREFUSED postgres://admin:pw-xcanary@db');
        return entry('s1-xcanary');
      },
    });
    const error = await rejectionOf(registry.fetch('shop-db')('/api/x'));
    expect(isMerchantResolveError(error), String(error)).toBe(true);
    expect(error).toMatchObject({ reason: 'failed', merchant: 'shop-db', retryable: true });
    expect(isRetryable(error)).toBe(true);
    expect(JSON.stringify(error)).not.toContain('xcanary');
    expect(String(error)).not.toContain('xcanary');
    fail = false;
    expect((await registry.fetch('shop-db')('/api/x')).status).toBe(200);
  });

  it('should stop waiting for a hung resolver after resolveTimeoutMs and abort its signal', async () => {
    let signal: AbortSignal | undefined;
    const registry = registryWith({
      resolveTimeoutMs: 20,
      resolveMerchant: (_id, context) => {
        signal = context.signal;
        return new Promise(() => undefined);
      },
    });
    const error = await rejectionOf(registry.fetch('shop-hung')('/api/x'));
    expect(isMerchantResolveError(error), String(error)).toBe(true);
    expect(error).toMatchObject({ reason: 'timeout', merchant: 'shop-hung' });
    expect(signal?.aborted).toBe(true);
  });

  it('should serve the cached settings after merchantTtlMs while asking again in the background', async () => {
    const db = database({ 'shop-db': entry('s1-xcanary', { label: 'old' }) });
    const registry = registryWith({ resolveMerchant: db.resolveMerchant, merchantTtlMs: 60_000 });
    await registry.fetch('shop-db')('/api/x');
    clock.advance(60_000);
    db.rows['shop-db'] = entry('s1-xcanary', { label: 'new' });

    // Not held up: this call goes out on the settings in hand, and the resolver is asked beside it.
    await registry.fetch('shop-db')('/api/x');
    expect(server.apiCalls.at(-1)?.headers['x-label']).toBe('old');
    expect(db.asked).toEqual(['shop-db', 'shop-db']);
    await registry.fetch('shop-db')('/api/x');
    expect(server.apiCalls.at(-1)?.headers['x-label']).toBe('new');
    // Same credentials: the token stayed.
    expect(server.tokenRequests).toBe(1);
    expect(db.asked).toHaveLength(2);
  });

  it('should keep the settings in hand when new ones cannot be built, with nothing rejecting unhandled', async () => {
    const factory = testFactory();
    const fragile: ProviderFactory = Object.assign(
      (settings: { apiKey: string }) => {
        if (settings.apiKey === 'boom') throw new Error('the factory failed');
        return factory(settings);
      },
      { validateSettings: factory.validateSettings },
    );
    const db = database({ 'shop-db': entry('s1-xcanary') });
    const registry = createMerchantRegistry({
      providers: { test: fragile },
      clock,
      resolveMerchant: db.resolveMerchant,
      merchantTtlMs: 60_000,
    });
    await registry.fetch('shop-db')('/api/x');
    db.rows['shop-db'] = entry('s1-xcanary', { apiKey: 'boom' });
    clock.advance(60_000);
    for (let call = 0; call < 3; call += 1) expect((await registry.fetch('shop-db')('/api/x')).status).toBe(200);
    // Asked once more, then not on every call: the next question waits for a retry delay, and then comes.
    expect(db.asked).toEqual(['shop-db', 'shop-db']);
    clock.advance(60_000);
    await registry.fetch('shop-db')('/api/x');
    expect(db.asked).toHaveLength(3);
  });

  it('should forget a resolved merchant the resolver no longer knows once its settings are old', async () => {
    const db = database({ 'shop-db': entry('s1-xcanary') });
    const registry = registryWith({ resolveMerchant: db.resolveMerchant, merchantTtlMs: 60_000 });
    await registry.fetch('shop-db')('/api/x');
    db.rows['shop-db'] = undefined;
    clock.advance(60_000);
    await registry.fetch('shop-db')('/api/x');
    await Promise.resolve();
    expect(isUnknownMerchantError(await rejectionOf(registry.fetch('shop-db')('/api/x')))).toBe(true);
    expect(registry.has('shop-db')).toBe(false);
  });

  it('should pick up a rotated secret on the first rejection, before the error reaches the caller', async () => {
    const db = database({ 'shop-db': entry('s1-xcanary') });
    const registry = registryWith({ resolveMerchant: db.resolveMerchant });
    const earlier = registry.fetch('shop-db');
    expect((await earlier('/api/x')).status).toBe(200);

    // Rotation: the source has the new secret, the gateway revoked the old one, and the token has run out.
    db.rows['shop-db'] = entry('s2-xcanary');
    validSecrets = new Set(['s2-xcanary']);
    clock.advance(3_600_000);

    const responses = await Promise.all([earlier('/api/x'), registry.fetch('shop-db')('/api/x'), earlier('/api/x')]);
    expect(responses.map((response) => response.status)).toEqual([200, 200, 200]);
    expect(usedSecrets).toEqual(['s1-xcanary', 's1-xcanary', 's2-xcanary']);
    expect(db.asked).toEqual(['shop-db', 'shop-db']);
  });

  it('should let the rejection stand when the source has the same settings, asking once per rejection', async () => {
    const db = database({ 'shop-db': entry('wrong-xcanary') });
    const registry = registryWith({ resolveMerchant: db.resolveMerchant });
    const errors = await Promise.all(Array.from({ length: 4 }, () => rejectionOf(registry.fetch('shop-db')('/api/x'))));
    for (const error of errors) expect(isTokenRequestError(error) && error.reason === 'rejected', String(error)).toBe(true);
    // One question at first use and one for the rejection that every caller shared.
    expect(db.asked).toEqual(['shop-db', 'shop-db']);
    expect(usedSecrets).toEqual(['wrong-xcanary']);

    // The user fixes the secret: the next rejection (after the cool-down) picks it up.
    db.rows['shop-db'] = entry('s1-xcanary');
    clock.advance(600_000);
    expect((await registry.fetch('shop-db')('/api/x')).status).toBe(200);
    expect(usedSecrets).toEqual(['wrong-xcanary', 'wrong-xcanary', 's1-xcanary']);
  });

  it('should ask the resolver after a configured merchant is rejected, and use what it says', async () => {
    const db = database({ 'shop-kr': entry('s2-xcanary') });
    validSecrets = new Set(['s2-xcanary']);
    const registry = registryWith({ merchants: { 'shop-kr': entry('s1-xcanary') }, resolveMerchant: db.resolveMerchant });
    expect((await registry.fetch('shop-kr')('/api/x')).status).toBe(200);
    expect(usedSecrets).toEqual(['s1-xcanary', 's2-xcanary']);
    expect(db.asked).toEqual(['shop-kr']);
  });
});

describe('MerchantRegistry.update, remove and reload', () => {
  it('should check an update first and change nothing when it is bad', async () => {
    const registry = registryWith({ merchants: { 'shop-kr': entry('s1-xcanary') } });
    await registry.fetch('shop-kr')('/api/x');
    const error = await rejectionOf(registry.update('shop-kr', { provider: 'test', apiKey: 'k1' } as MerchantSettings));
    expect(isConfigurationError(error)).toBe(true);
    expect(error).toMatchObject({ merchant: 'shop-kr' });
    expect((await registry.fetch('shop-kr')('/api/x')).status).toBe(200);
    expect(server.tokenRequests).toBe(1);
  });

  it('should use new credentials for calls after an update, never the old token, and keep the token when they are the same', async () => {
    validSecrets.add('s2-xcanary');
    const registry = registryWith({ merchants: { 'shop-kr': entry('s1-xcanary') } });
    const earlier = registry.fetch('shop-kr');
    await earlier('/api/x');
    const oldToken = server.apiCalls.at(-1)?.headers.authorization;

    await registry.update('shop-kr', entry('s1-xcanary', { label: 'same-credentials' }));
    await earlier('/api/x');
    expect(server.apiCalls.at(-1)?.headers).toMatchObject({ authorization: oldToken, 'x-label': 'same-credentials' });
    expect(server.tokenRequests).toBe(1);

    await registry.update('shop-kr', entry('s2-xcanary'));
    await earlier('/api/x');
    expect(server.apiCalls.at(-1)?.headers.authorization).not.toBe(oldToken);
    expect(usedSecrets).toEqual(['s1-xcanary', 's2-xcanary']);
  });

  it('should refuse every call after remove, through fetches handed out before, and agree in has and merchants', async () => {
    const db = database({ 'shop-db': entry('s1-xcanary') });
    const registry = registryWith({ merchants: { 'shop-kr': entry('s1-xcanary') }, resolveMerchant: db.resolveMerchant });
    const kr = registry.fetch('shop-kr');
    const fromDb = registry.fetch('shop-db');
    await kr('/api/x');
    await fromDb('/api/x');

    await registry.remove('shop-kr');
    await registry.remove('shop-db');
    for (const authFetch of [kr, fromDb, () => registry.fetch('shop-kr')('/api/x')]) {
      const error = await rejectionOf(Promise.resolve().then(() => authFetch('/api/x')));
      expect(isUnknownMerchantError(error), String(error)).toBe(true);
    }
    expect(() => registry.tokens('shop-db')).toThrow(/Unknown merchant id "shop-db": removed/);
    expect(registry.has('shop-kr')).toBe(false);
    expect(registry.merchants()).toEqual([]);
    // Removed stays removed, whatever the resolver says, until the merchant is added back.
    expect(db.asked).toEqual(['shop-db']);

    await registry.update('shop-db', entry('s1-xcanary'));
    expect((await fromDb('/api/x')).status).toBe(200);
  });

  it('should reload all-or-nothing, report adds, changes and removals, and keep the tokens of unchanged merchants', async () => {
    validSecrets.add('s2-xcanary');
    const registry = registryWith({
      merchants: { a: entry('s1-xcanary'), b: entry('s1-xcanary', { apiKey: 'k2' }), c: entry('s1-xcanary', { apiKey: 'k3' }) },
    });
    await Promise.all(['a', 'b', 'c'].map((id) => registry.fetch(id)('/api/x')));
    expect(server.tokenRequests).toBe(3);

    const bad = await rejectionOf(registry.reload({ a: entry('s1-xcanary'), d: { provider: 'nowhere' } }));
    expect(isConfigurationError(bad)).toBe(true);
    expect(registry.merchants()).toEqual(['a', 'b', 'c']);

    const result = await registry.reload({
      a: entry('s1-xcanary'),
      b: entry('s2-xcanary', { apiKey: 'k2' }),
      d: entry('s1-xcanary', { apiKey: 'k4' }),
    });
    expect(result).toEqual({ added: ['d'], changed: ['b'], removed: ['c'], unchanged: ['a'] });
    await Promise.all(['a', 'b', 'd'].map((id) => registry.fetch(id)('/api/x')));
    // b's new secret and d: two requests; a kept its token.
    expect(server.tokenRequests).toBe(5);
    expect(isUnknownMerchantError(await rejectionOf(Promise.resolve().then(() => registry.fetch('c')('/api/x'))))).toBe(true);
  });
});

describe('createMerchantRegistry with maxActiveMerchants', () => {
  it('should hold at most maxActiveMerchants, and serve an evicted merchant again from the shared store', async () => {
    const store = createMemoryTokenStore({ clock });
    const db = database(Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`m${i}`, entry('s1-xcanary', { apiKey: `k${i}` })])));
    const registry = registryWith({ resolveMerchant: db.resolveMerchant, maxActiveMerchants: 4, store });
    for (let i = 0; i < 20; i += 1) expect((await registry.fetch(`m${i}`)('/api/x')).status).toBe(200);
    expect(registry.merchants()).toHaveLength(4);
    expect(server.tokenRequests).toBe(20);

    // m0 was evicted long ago: resolved again, and its token comes from the store.
    expect((await registry.fetch('m0')('/api/x')).status).toBe(200);
    expect(server.tokenRequests).toBe(20);
    expect(db.asked.filter((id) => id === 'm0')).toHaveLength(2);
    expect(registry.merchants()).toHaveLength(4);
  });

  it('should keep a merchant called all the time while others come and go', async () => {
    const db = database(Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`m${i}`, entry('s1-xcanary', { apiKey: `k${i}` })])));
    const registry = registryWith({ resolveMerchant: db.resolveMerchant, maxActiveMerchants: 4 });
    for (let i = 1; i < 30; i += 1) {
      await registry.fetch('m0')('/api/x');
      await registry.fetch(`m${i}`)('/api/x');
    }
    expect(db.asked.filter((id) => id === 'm0')).toHaveLength(1);
  });

  it('should bound the in-memory store: the oldest values go first', async () => {
    const store = createMemoryTokenStore({ maxEntries: 2 });
    await store.set('a', '1', 60_000);
    await store.set('b', '2', 60_000);
    await store.set('a', '3', 60_000);
    await store.set('c', '4', 60_000);
    expect([await store.get('a'), await store.get('b'), await store.get('c')]).toEqual(['3', undefined, '4']);
    expect(() => createMemoryTokenStore({ maxEntries: 0 })).toThrow(/maxEntries/);
  });

  it('should refuse a maxActiveMerchants that is not a positive integer', () => {
    for (const maxActiveMerchants of [0, -1, 1.5, Number.NaN]) {
      expect(() => registryWith({ maxActiveMerchants })).toThrow(/maxActiveMerchants: must be a positive integer/);
    }
  });
});

describe('MerchantRegistry.warm and close', () => {
  it('should fetch tokens ahead and report each merchant', async () => {
    const db = database({ 'shop-db': entry('s1-xcanary'), 'shop-wrong': entry('wrong-xcanary', { apiKey: 'k9' }) });
    const registry = registryWith({ merchants: { 'shop-kr': entry('s1-xcanary', { apiKey: 'k2' }) }, resolveMerchant: db.resolveMerchant });
    const results = await registry.warm(['shop-kr', 'shop-db', 'shop-wrong', 'nobody']);
    expect(results.map((result) => [result.merchantId, result.ok])).toEqual([
      ['shop-kr', true],
      ['shop-db', true],
      ['shop-wrong', false],
      ['nobody', false],
    ]);
    expect(results[2]).toMatchObject({ error: { reason: 'rejected' } });
    expect(isUnknownMerchantError((results[3] as { error: unknown }).error)).toBe(true);
    expect(server.tokenRequests).toBe(2);
    // Warmed: the calls make no token request, and the resolved merchant's cache is at hand.
    await registry.fetch('shop-db')('/api/x');
    expect(server.tokenRequests).toBe(2);
    expect((await registry.warm()).map((result) => result.merchantId)).toEqual(['shop-kr', 'shop-db', 'shop-wrong']);
  });

  it('should refuse every call after close and abort the resolvers in flight', async () => {
    let signal: AbortSignal | undefined;
    const registry = registryWith({
      merchants: { 'shop-kr': entry('s1-xcanary') },
      resolveMerchant: (_id, context) => {
        signal = context.signal;
        return new Promise(() => undefined);
      },
    });
    const kr = registry.fetch('shop-kr');
    const pending = rejectionOf(registry.fetch('shop-db')('/api/x'));
    await Promise.resolve();
    await registry.close();
    expect(isRegistryClosedError(await pending)).toBe(true);
    expect(signal?.aborted).toBe(true);
    expect(isRegistryClosedError(await rejectionOf(kr('/api/x')))).toBe(true);
    expect(() => registry.fetch('shop-kr')).toThrow(expect.objectContaining({ code: 'X_REGISTRY_CLOSED' }));
    expect(isRetryable(await pending)).toBe(false);
  });
});

describe('createMerchantRegistry policies', () => {
  it("should apply a provider's policy to its merchants only, and a merchant's own policy over it", async () => {
    const providers = { test: testFactory(), other: testFactory() };
    const registry = createMerchantRegistry({
      providers,
      clock,
      // Refresh ahead for almost the whole lifetime (capped at half of it by the cache): every call past half refreshes.
      policies: { test: { refreshAheadMs: 3_000_000, refreshAheadJitter: 0 } },
      merchants: {
        t: entry('s1-xcanary'),
        o: { ...entry('s1-xcanary', { apiKey: 'k2' }), provider: 'other' },
        own: entry('s1-xcanary', { apiKey: 'k3', policy: { refreshAheadMs: 0 } }),
      },
    });
    for (const id of ['t', 'o', 'own']) await registry.fetch(id)('/api/x');
    clock.advance(2_000_000);
    for (const id of ['t', 'o', 'own']) await registry.tokens(id).getToken();
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Only `t` refreshed ahead; `o` (another provider) and `own` (its own policy) did not.
    expect(server.tokenRequests).toBe(4);
  });

  it('should refuse bad policies by provider and per merchant, naming the path', () => {
    const error = (() => {
      try {
        registryWith({
          policies: { test: { refreshAheadMs: -1 } },
          merchants: { 'shop-kr': entry('s1-xcanary', { policy: { refreshAheadMs: 'soon', refreshAhed: 1 } }) },
        });
      } catch (caught) {
        return caught as ConfigurationError;
      }
    })();
    expect(error?.issues.map((issue) => issue.path).sort()).toEqual([
      'merchants.shop-kr.policy.refreshAheadMs',
      'merchants.shop-kr.policy.refreshAhed',
      'policies.test.refreshAheadMs',
    ]);
  });
});
