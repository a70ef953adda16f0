import { inspect } from 'node:util';
import { startTestTokenServer, type TestTokenServer, testProvider } from '@x/test-support/token-server';
import fc from 'fast-check';
import { Agent, request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type ConfigurationError,
  type ConfigurationIssue,
  createAuthFetch,
  createMerchantRegistry,
  isConfigurationError,
  isForeignOriginError,
  isTokenRequestError,
  isUnknownMerchantError,
  type MerchantSettings,
  type MerchantTokenEvent,
  type ProviderFactory,
} from './index.js';
import { cacheKeyOf } from './provider/index.js';
import { createAuthInterceptor } from './undici/index.js';

let server: TestTokenServer;
let created: number;

beforeEach(async () => {
  server = await startTestTokenServer();
  created = 0;
});
afterEach(async () => {
  await server.close();
});

/** A gateway factory for the test server: `apiKey`/`apiSecret` settings, validated like a real provider. */
function testFactory(): ProviderFactory {
  const factory: ProviderFactory = (settings: { apiKey: string; apiSecret: string }) => {
    created += 1;
    return testProvider(server, { cacheKey: cacheKeyOf('test', [server.url, settings.apiKey, settings.apiSecret]) });
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

describe('createMerchantRegistry', () => {
  it('should give each merchant a bearer fetch on its own gateway', async () => {
    const registry = createMerchantRegistry({
      providers: { test: testFactory() },
      merchants: { 'shop-a': { provider: 'test', apiKey: 'a', apiSecret: 'secret-a' } },
    });
    const response = await registry.fetch('shop-a')('/api/payments/1');
    expect(response.status).toBe(200);
    expect(server.apiCalls[0]?.headers.authorization).toMatch(/^Bearer token-/);
    expect(registry.merchants()).toEqual(['shop-a']);
    expect(registry.has('shop-a')).toBe(true);
  });

  it('should report every problem of every merchant at once, with paths and without secret values', () => {
    let error: unknown;
    try {
      createMerchantRegistry({
        providers: { test: testFactory() },
        merchants: {
          'shop-kr': { provider: 'test', apiKey: 'k', apiSecret: '' },
          'shop-no': { provider: 'vipps', clientSecret: 'very-secret-value' },
          'shop-x': { provider: 'test', apiSecret: 'another-secret' },
        },
      });
    } catch (caught) {
      error = caught;
    }
    expect(isConfigurationError(error)).toBe(true);
    const issues = (error as ConfigurationError).issues.map((issue) => `${issue.path}: ${issue.message}`);
    expect(issues).toEqual([
      'merchants.shop-kr.apiSecret: required',
      'merchants.shop-no.provider: unknown provider; known: test',
      'merchants.shop-x.apiKey: required',
    ]);
    const text = `${(error as Error).message} ${JSON.stringify(error)} ${inspect(error)}`;
    expect(text).not.toContain('very-secret-value');
    expect(text).not.toContain('another-secret');
  });

  it('should refuse a bad policy, such as a duration over 2^31-1 ms, at creation rather than on first use', () => {
    const create = () =>
      createMerchantRegistry({
        providers: { test: testFactory() },
        merchants: { 'shop-a': { provider: 'test', apiKey: 'a', apiSecret: 'secret-a' } },
        policy: { requestTimeoutMs: 2 ** 31, lockWaitMs: -1, retryMaxDelayMs: undefined },
      });
    expect(create).toThrowError(
      expect.objectContaining({
        name: 'ConfigurationError',
        issues: [
          { path: 'policy.requestTimeoutMs', message: expect.stringMatching(/^must be at most 2147483647 /) },
          { path: 'policy.lockWaitMs', message: 'must be a finite number of at least 0' },
        ],
      }),
    );
    expect(created).toBe(0);
  });

  it('should throw a typed error naming an unknown merchant', () => {
    const registry = createMerchantRegistry({ providers: { test: testFactory() }, merchants: {} });
    expect(() => registry.fetch('nobody')).toThrowError(/nobody/);
    try {
      registry.tokens('nobody');
    } catch (error) {
      expect(isUnknownMerchantError(error)).toBe(true);
    }
    expect.assertions(2);
  });

  it('should copy merchants at creation, so later changes to the object go through update or reload', async () => {
    const merchants: Record<string, MerchantSettings> = { first: { provider: 'test', apiKey: 'k', apiSecret: 's' } };
    const registry = createMerchantRegistry({ providers: { test: testFactory() }, merchants });
    merchants.later = { provider: 'test', apiKey: 'k2', apiSecret: 's2' };
    merchants.first = { provider: 'elsewhere', apiKey: 'k3', apiSecret: 's3' };

    expect(() => registry.fetch('later')).toThrow(expect.objectContaining({ code: 'X_UNKNOWN_MERCHANT' }));
    expect((await registry.tokens('first').getToken()).accessToken).toBeTypeOf('string');
    const error = await registry.update('odd', 'secret-xcanary' as unknown as MerchantSettings).catch((caught: unknown) => caught);
    expect(isConfigurationError(error), String(error)).toBe(true);
    expect((error as ConfigurationError).issues.map((issue) => `${issue.path}: ${issue.message}`)).toEqual([
      'merchants.odd: must be an object with a "provider" and its settings',
    ]);
    expect(JSON.stringify(error)).not.toContain('xcanary');
    await registry.update('later', merchants.later);
    expect((await registry.tokens('later').getToken()).accessToken).toBeTypeOf('string');
    expect(created).toBe(2);
  });

  it('should share one token between merchants with the same credentials and never across different ones', async () => {
    const registry = createMerchantRegistry({
      providers: { test: testFactory() },
      merchants: {
        a1: { provider: 'test', apiKey: 'a', apiSecret: 'secret-a' },
        a2: { provider: 'test', apiKey: 'a', apiSecret: 'secret-a' },
        b: { provider: 'test', apiKey: 'b', apiSecret: 'secret-b' },
      },
    });
    const results = await Promise.all(Array.from({ length: 300 }, (_, index) => registry.tokens(['a1', 'a2', 'b'][index % 3]!).getToken()));
    const byMerchant = (offset: number): Set<string> =>
      new Set(results.filter((_, index) => index % 3 === offset).map((token) => token.accessToken));
    expect(byMerchant(0).size).toBe(1);
    expect(byMerchant(0)).toEqual(byMerchant(1));
    expect(byMerchant(2).size).toBe(1);
    expect([...byMerchant(2)][0]).not.toBe([...byMerchant(0)][0]);
    expect(server.tokenRequests).toBe(2);
  });

  it('should create providers lazily, so a huge registry starts without creating any', () => {
    const merchants = Object.fromEntries(
      Array.from({ length: 100_000 }, (_, index) => [`m${index}`, { provider: 'test', apiKey: `k${index}`, apiSecret: `s${index}` }]),
    );
    const registry = createMerchantRegistry({ providers: { test: testFactory() }, merchants });
    expect(created).toBe(0);
    registry.tokens('m42');
    registry.tokens('m42');
    expect(created).toBe(1);
    expect(registry.merchants()).toHaveLength(100_000);
  });

  it('should name the merchant in token errors without changing the shared error', async () => {
    server.mode = 500;
    const registry = createMerchantRegistry({
      providers: { test: testFactory() },
      merchants: { 'shop-kr': { provider: 'test', apiKey: 'a', apiSecret: 'secret-a' } },
    });
    const error = await registry
      .fetch('shop-kr')('/api/payments/1')
      .catch((caught: unknown) => caught);
    expect(isTokenRequestError(error)).toBe(true);
    expect((error as Error).message).toMatch(/^\[test, merchant shop-kr\] /);
    expect((error as { merchant?: string }).merchant).toBe('shop-kr');
    expect(server.apiCalls).toHaveLength(0);
  });

  it('should name every merchant sharing a failing credential in the error of its token cache', async () => {
    server.mode = 401;
    const registry = createMerchantRegistry({
      providers: { test: testFactory() },
      merchants: {
        a1: { provider: 'test', apiKey: 'a', apiSecret: 'secret-a' },
        a2: { provider: 'test', apiKey: 'a', apiSecret: 'secret-a' },
      },
    });
    expect(registry.tokens('a1')).toBe(registry.tokens('a2'));
    const first = await registry
      .tokens('a1')
      .getToken()
      .catch((caught: unknown) => caught);
    expect((first as Error).message).toMatch(/^\[test, merchants a1, a2\] /);
    // The cool-down hands out the very same error, without a new request.
    const again = await registry
      .tokens('a2')
      .getToken()
      .catch((caught: unknown) => caught);
    expect(again).toBe(first);
    expect(server.tokenRequests).toBe(1);
  });

  it("should send each merchant's own API headers over the token it shares with merchants of the same credentials", async () => {
    // Same credentials (one cacheKey, one token), each merchant its own API header, as Vipps' Vipps-System-*.
    const factory: ProviderFactory = (settings: { apiKey: string; apiSecret: string; system: string }) =>
      testProvider(server, {
        cacheKey: cacheKeyOf('test', [server.url, settings.apiKey, settings.apiSecret]),
        apiHeaders: { 'X-System-Name': settings.system },
      });
    const registry = createMerchantRegistry({
      providers: { test: factory },
      merchants: {
        one: { provider: 'test', apiKey: 'a', apiSecret: 'secret-a', system: 'shop-one' },
        two: { provider: 'test', apiKey: 'a', apiSecret: 'secret-a', system: 'shop-two' },
      },
    });

    await registry.fetch('one')('/api/payments/1');
    await registry.fetch('two')('/api/payments/2');
    await registry.fetch('one')('/api/payments/3');

    expect(server.apiCalls.map((call) => call.headers['x-system-name'])).toEqual(['shop-one', 'shop-two', 'shop-one']);
    expect(new Set(server.apiCalls.map((call) => call.headers.authorization)).size).toBe(1);
    expect(server.tokenRequests).toBe(1);
    expect(registry.tokens('one')).toBe(registry.tokens('two'));
    expect(registry.provider('one').apiHeaders).toEqual({ 'X-System-Name': 'shop-one' });
    expect(registry.provider('two').apiHeaders).toEqual({ 'X-System-Name': 'shop-two' });
  });

  it("should name the merchants in the errors of a fetch or an interceptor over a merchant's cache", async () => {
    const registry = createMerchantRegistry({
      providers: { test: testFactory() },
      merchants: {
        a1: { provider: 'test', apiKey: 'a', apiSecret: 'secret-a' },
        a2: { provider: 'test', apiKey: 'a', apiSecret: 'secret-a' },
      },
    });
    // In the order of first use.
    registry.tokens('a1');
    registry.tokens('a2');
    const agent = new Agent();
    const elsewhere = 'http://127.0.0.1:9/api/payments';

    try {
      const errors = [
        await registry
          .fetch('a1')(elsewhere)
          .catch((caught: unknown) => caught),
        await createAuthFetch(registry.tokens('a1'))(elsewhere).catch((caught: unknown) => caught),
        await request(elsewhere, { dispatcher: agent.compose(createAuthInterceptor(registry.tokens('a1'))) }).catch(
          (caught: unknown) => caught,
        ),
      ];

      for (const error of errors) {
        expect(isForeignOriginError(error)).toBe(true);
        expect(error).toMatchObject({ provider: 'test', merchant: 'a1, a2', origin: 'http://127.0.0.1:9' });
        expect((error as Error).message).toMatch(/^\[test, merchants a1, a2\] Refused to send a bearer token to http:\/\/127\.0\.0\.1:9/);
      }
    } finally {
      await agent.close();
    }
  });

  it('should name the merchants on the error itself, one object from the event to every caller, its stack too', async () => {
    server.mode = 401;
    const failed: unknown[] = [];
    const registry = createMerchantRegistry({
      providers: { test: testFactory() },
      merchants: { a1: { provider: 'test', apiKey: 'a', apiSecret: 'secret-a' } },
      onEvent: (event) => {
        if (event.type === 'token-request-failed') failed.push(event.error);
      },
    });
    const [first, second] = await Promise.all([
      registry
        .tokens('a1')
        .getToken()
        .catch((caught: unknown) => caught),
      registry
        .fetch('a1')('/api/payments')
        .catch((caught: unknown) => caught),
    ]);
    expect(first).toBe(failed[0]);
    expect(second).toBe(first);
    expect(first).toMatchObject({ merchant: 'a1', provider: 'test' });
    expect((first as Error).message).toMatch(/^\[test, merchant a1\] /);
    expect((first as Error).stack).toContain('[test, merchant a1] ');
  });

  it('should give each event a frozen copy of the merchants, so a listener cannot erase them from later errors', async () => {
    server.mode = 401;
    const seen: Array<readonly string[]> = [];
    const registry = createMerchantRegistry({
      providers: { test: testFactory() },
      merchants: {
        a1: { provider: 'test', apiKey: 'a', apiSecret: 'secret-a' },
        a2: { provider: 'test', apiKey: 'a', apiSecret: 'secret-a' },
      },
      onEvent: (event) => {
        seen.push(event.merchants);
        // A careless listener: it empties the list it was given (a frozen one throws, which the cache swallows).
        (event.merchants as string[]).length = 0;
      },
    });
    registry.tokens('a1');
    registry.tokens('a2');
    const error = await registry
      .tokens('a1')
      .getToken()
      .catch((caught: unknown) => caught);
    expect((error as Error).message).toMatch(/^\[test, merchants a1, a2\] /);
    expect(seen.length).toBeGreaterThan(0);
    for (const merchants of seen) {
      expect(Object.isFrozen(merchants)).toBe(true);
      expect(merchants).toEqual(['a1', 'a2']);
    }
  });

  it('should report events with the merchants that use the cache', async () => {
    const events: MerchantTokenEvent[] = [];
    const registry = createMerchantRegistry({
      providers: { test: testFactory() },
      merchants: { 'shop-a': { provider: 'test', apiKey: 'a', apiSecret: 'secret-a' } },
      onEvent: (event) => events.push(event),
    });
    await registry.tokens('shop-a').getToken();
    expect(events.map((event) => event.type)).toEqual(['token-requested', 'token-refreshed']);
    expect(events[0]?.merchants).toEqual(['shop-a']);
  });
});

describe('createMerchantRegistry with hostile configuration', () => {
  const configurationErrorOf = (merchants: unknown): ConfigurationError => {
    try {
      createMerchantRegistry({ providers: { test: testFactory() }, merchants: merchants as Record<string, MerchantSettings> });
    } catch (error) {
      if (isConfigurationError(error)) return error;
      throw error;
    }
    throw new Error('expected a ConfigurationError');
  };
  const valid = { provider: 'test', apiKey: 'key', apiSecret: 'secret-xcanary' };

  it('should refuse prototype-pollution names as merchant ids, also as own keys from JSON.parse', () => {
    const merchants = JSON.parse(
      `{"__proto__": {"provider": "test", "polluted": true}, "constructor": ${JSON.stringify(valid)},
        "prototype": ${JSON.stringify(valid)}, "hasOwnProperty": ${JSON.stringify(valid)}, "ok": ${JSON.stringify(valid)}}`,
    );
    const error = configurationErrorOf(merchants);
    expect(error.issues.map((issue) => issue.path)).toEqual([
      'merchants.__proto__',
      'merchants.constructor',
      'merchants.prototype',
      'merchants.hasOwnProperty',
    ]);
    for (const issue of error.issues) expect(issue.message).toMatch(/reserved name/);
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('should not find prototype names as merchants in a valid registry', () => {
    const registry = createMerchantRegistry({ providers: { test: testFactory() }, merchants: { ok: valid } });
    for (const name of ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString']) {
      expect(registry.has(name)).toBe(false);
      expect(() => registry.fetch(name)).toThrowError(expect.objectContaining({ code: 'X_UNKNOWN_MERCHANT' }));
    }
    expect(() => registry.tokens(undefined as unknown as string)).toThrowError(expect.objectContaining({ code: 'X_UNKNOWN_MERCHANT' }));
  });

  it('should refuse reserved settings keys with the merchant, the provider and the path, and pollute nothing', () => {
    const entry = JSON.parse(
      `{"provider": "test", "apiKey": "key", "apiSecret": "s", "__proto__": {"polluted": 1}, "constructor": {"prototype": {"polluted": 2}}}`,
    );
    const error = configurationErrorOf({ 'shop-kr': entry });
    expect(error.issues).toEqual([
      { path: 'merchants.shop-kr.__proto__', message: expect.stringMatching(/reserved name/), merchant: 'shop-kr', provider: 'test' },
      { path: 'merchants.shop-kr.constructor', message: expect.stringMatching(/reserved name/), merchant: 'shop-kr', provider: 'test' },
    ]);
    expect(error.merchant).toBe('shop-kr');
    expect(error.provider).toBe('test');
    expect(error.message).toMatch(/^\[test, merchant shop-kr\] Invalid configuration:/);
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('should accept objects without a prototype and ignore inherited settings', async () => {
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, valid);
    const merchants = Object.assign(Object.create(null) as Record<string, MerchantSettings>, { bare });
    const registry = createMerchantRegistry({ providers: { test: testFactory() }, merchants });
    expect((await registry.fetch('bare')('/api/payments/1')).status).toBe(200);

    const inherits = Object.assign(Object.create({ apiSecret: 'inherited' }) as Record<string, unknown>, { provider: 'test', apiKey: 'k' });
    expect(configurationErrorOf({ inherits }).issues.map((issue) => issue.path)).toEqual(['merchants.inherits.apiSecret']);
  });

  it('should refuse empty, over-long and control-character merchant ids without printing them whole', () => {
    const long = 'm'.repeat(1_000_000);
    const error = configurationErrorOf({ '': valid, [long]: valid, 'shop\r\nkr': valid, ' shop': valid });
    expect(error.issues.map((issue) => issue.message)).toEqual([
      'merchant id must not be empty',
      'merchant id must be at most 128 characters',
      'merchant id must not contain control characters',
      'merchant id must not start or end with whitespace',
    ]);
    expect(error.issues[2]?.path).toBe('merchants.shop\\u000d\\u000akr');
    expect(error.message.length).toBeLessThan(1_000);
    expect(error.message).not.toMatch(/\r/);
  });

  it('should refuse merchants that are not objects, and unknown or reserved provider names without quoting them', () => {
    const error = configurationErrorOf({
      a: 'secret-xcanary',
      b: ['x'],
      c: null,
      d: { provider: 'constructor' },
      e: { provider: 42 },
      // A provider name from an environment variable that held a secret instead.
      f: { provider: 'xcanary-from-env' },
    });
    expect(error.issues.map((issue) => `${issue.path}: ${issue.message}`)).toEqual([
      'merchants.a: must be an object with a "provider" and its settings',
      'merchants.b: must be an object with a "provider" and its settings',
      'merchants.c: must be an object with a "provider" and its settings',
      'merchants.d.provider: unknown provider; known: test',
      'merchants.e.provider: required; one of: test',
      'merchants.f.provider: unknown provider; known: test',
    ]);
    expect(`${error.message}${JSON.stringify(error)}${inspect(error, { depth: Infinity, showHidden: true })}`).not.toContain('xcanary');
    expect(() => createMerchantRegistry({ providers: { test: testFactory() }, merchants: [] as never })).toThrowError(
      /merchants: must be an object/,
    );
  });

  it('should report missing providers as a ConfigurationError, with the merchants still checked', () => {
    for (const providers of [null, undefined]) {
      expect(() => createMerchantRegistry({ providers: providers as never, merchants: { m: { provider: 'test' } } })).toThrowError(
        expect.objectContaining({
          name: 'ConfigurationError',
          issues: [
            { path: 'providers', message: 'at least one provider factory is required' },
            { path: 'merchants.m.provider', message: 'unknown provider; known: none', merchant: 'm' },
          ],
        }),
      );
    }
  });

  it("should not pass on a factory's error message, which may quote a secret", () => {
    const factory: ProviderFactory = (settings: { secret: string }) => {
      throw new TypeError(`bad secret ${settings.secret}`);
    };
    let caught: unknown;
    try {
      createMerchantRegistry({ providers: { leaky: factory }, merchants: { m: { provider: 'leaky', secret: 'xcanary-1' } } });
    } catch (error) {
      caught = error;
    }
    expect(isConfigurationError(caught)).toBe(true);
    expect((caught as ConfigurationError).issues).toEqual([
      { path: 'merchants.m', message: "the provider's validation threw TypeError", merchant: 'm', provider: 'leaky' },
    ]);
    expect(`${inspect(caught, { depth: Infinity })}${JSON.stringify(caught)}`).not.toContain('xcanary');
  });

  it('should answer any merchants value with a registry or a ConfigurationError, never another error', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything({ withNullPrototype: true, withObjectString: true, withBigInt: true, withDate: true, withMap: true }),
          fc.dictionary(
            fc.oneof(fc.string(), fc.constantFrom('__proto__', 'constructor', 'prototype', 'hasOwnProperty')),
            fc.oneof(
              fc.record({ provider: fc.constantFrom('test', 'constructor', '__proto__'), apiKey: fc.anything(), apiSecret: fc.anything() }),
              fc.anything({ withNullPrototype: true }),
            ),
          ),
        ),
        (merchants) => {
          try {
            createMerchantRegistry({ providers: { test: testFactory() }, merchants: merchants as Record<string, MerchantSettings> });
          } catch (error) {
            if (!isConfigurationError(error)) throw error;
          }
          expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('polluted');
        },
      ),
      { numRuns: 500 },
    );
    // 500 random registries: seconds on a loaded 2-core machine, not a time limit on the behaviour.
  }, 30_000);
});
