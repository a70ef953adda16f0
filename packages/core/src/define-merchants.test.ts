/**
 * `defineMerchants` is a compile-time check: the `@ts-expect-error` lines and `expectTypeOf` assertions here fail
 * `pnpm typecheck` (this file is in the package's tsconfig), and the `it` blocks run them too.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { CachePolicy } from './cache-policy.js';
import { defineMerchants, type MerchantConfigFor, type MerchantSettingsFor, type ProviderSettingsOf } from './define-merchants.js';
import { ConfigurationError } from './errors.js';
import { resolveMerchantConfig } from './merchant-config.js';
import { createMerchantRegistry, type MerchantSettings, type ProviderFactory } from './merchant-registry.js';
import type { TokenProvider } from './token-provider.js';

/** Settings of a made-up gateway: one required secret, optional rest. */
interface AcmeSettings {
  /** Required. */
  apiKey: string;
  /** Optional. */
  region?: 'eu' | 'us' | undefined;
}

/** Settings of another, to tell the two apart. */
interface GlobexSettings {
  /** Required. */
  clientId: string;
  /** Required. */
  clientSecret: string;
}

const tokenProvider = (name: string, key: string): TokenProvider => ({
  provider: name,
  cacheKey: `${name}:${key}`,
  baseUrl: 'http://127.0.0.1:1',
  requestToken: async () => ({ accessToken: `${name}-token`, expiresAt: Date.now() + 60_000 }),
});
const createAcmeProvider = (settings: AcmeSettings): TokenProvider => tokenProvider('acme', settings.apiKey);
const createGlobexProvider = (settings: GlobexSettings): TokenProvider => tokenProvider('globex', settings.clientId);
const providers = { acme: createAcmeProvider, globex: createGlobexProvider };

describe('defineMerchants', () => {
  it('should return the merchants object itself, typed for createMerchantRegistry', () => {
    const input = {
      'shop-eu': { provider: 'acme', apiKey: 'acme-key', region: 'eu' },
      'shop-us': { provider: 'globex', clientId: 'globex-id', clientSecret: 'globex-secret', policy: { refreshAheadMs: 30_000 } },
    } as const;
    const merchants = defineMerchants(providers, input);

    expect(merchants).toBe(input);
    expectTypeOf(merchants).toHaveProperty('shop-eu');
    expectTypeOf(merchants).toHaveProperty('shop-us');
    expectTypeOf(merchants['shop-eu']).toEqualTypeOf<MerchantSettingsFor<typeof providers>>();
    expectTypeOf(merchants).toExtend<Readonly<Record<string, MerchantSettings>>>();
    const registry = createMerchantRegistry({ providers, merchants });
    expect(registry.merchants()).toEqual(['shop-eu', 'shop-us']);
  });

  it('should type an entry given to update() with satisfies', async () => {
    const registry = createMerchantRegistry({ providers, merchants: {} });
    await registry.update('shop-eu', { provider: 'acme', apiKey: 'acme-key' } satisfies MerchantSettingsFor<typeof providers>);
    // @ts-expect-error `apiKee` is not a setting of acme
    const misspelt = { provider: 'acme', apiKee: 'acme-key' } satisfies MerchantSettingsFor<typeof providers>;

    expect(registry.merchants()).toEqual(['shop-eu']);
    expect(misspelt.provider).toBe('acme');
    await registry.close();
  });

  it("should type each entry by the factory its provider names, with the registry's provider and policy keys", () => {
    type Entry = MerchantSettingsFor<typeof providers>;
    type Written<T> = { [Key in keyof T]: T[Key] };
    expectTypeOf<Written<Extract<Entry, { provider: 'acme' }>>>().toEqualTypeOf<{
      provider: 'acme';
      policy?: Partial<CachePolicy> | undefined;
      apiKey: string;
      region?: 'eu' | 'us' | undefined;
    }>();
    expectTypeOf<Entry['provider']>().toEqualTypeOf<'acme' | 'globex'>();
    expectTypeOf<ProviderSettingsOf<typeof createGlobexProvider>>().toEqualTypeOf<GlobexSettings>();
    // A factory typed only as ProviderFactory takes anything: its merchants are checked by the registry alone.
    expectTypeOf<ProviderSettingsOf<ProviderFactory>>().toBeAny();
  });

  it('should refuse a misspelt setting, a missing one, an unknown provider and a bad policy at compile time', () => {
    // defineMerchants itself checks nothing at run time: it hands each object back as it is, for the registry to check.
    const misspelt = defineMerchants(providers, {
      // @ts-expect-error `apiKee` is not a setting of acme (and `apiKey` is missing)
      'shop-eu': { provider: 'acme', apiKee: 'acme-key' },
    });
    const extra = defineMerchants(providers, {
      // @ts-expect-error `regoin` is not a setting of acme
      'shop-eu': { provider: 'acme', apiKey: 'acme-key', regoin: 'eu' },
    });
    const missing = defineMerchants(providers, {
      // @ts-expect-error globex requires `clientSecret`
      'shop-us': { provider: 'globex', clientId: 'globex-id' },
    });
    const crossed = defineMerchants(providers, {
      // @ts-expect-error `apiKey` is acme's, not globex's
      'shop-us': { provider: 'globex', apiKey: 'acme-key' },
    });
    const unknownProvider = defineMerchants(providers, {
      // @ts-expect-error there is no provider `acmee`
      'shop-eu': { provider: 'acmee', apiKey: 'acme-key' },
    });
    const badPolicy = defineMerchants(providers, {
      // @ts-expect-error `refreshAhead` is not a field of CachePolicy
      'shop-eu': { provider: 'acme', apiKey: 'acme-key', policy: { refreshAhead: 30_000 } },
    });
    const wrongType = defineMerchants(providers, {
      // @ts-expect-error `region` is 'eu' or 'us'
      'shop-eu': { provider: 'acme', apiKey: 'acme-key', region: 'asia' },
    });
    for (const merchants of [misspelt, extra, missing, crossed, badPolicy, wrongType]) expect(Object.keys(merchants)).toHaveLength(1);
    expect(() => createMerchantRegistry({ providers, merchants: unknownProvider })).toThrow(ConfigurationError);
  });

  it('should type a configuration with $env and $file references for satisfies', () => {
    const config = {
      merchants: {
        'shop-eu': { provider: 'acme', apiKey: { $env: 'ACME_API_KEY' }, region: 'eu' },
        'shop-us': { provider: 'globex', clientId: 'globex-id', clientSecret: { $file: '/run/secrets/globex' } },
      },
    } satisfies MerchantConfigFor<typeof providers>;
    const misspelt = {
      merchants: {
        // @ts-expect-error `apiKee` is not a setting of acme
        'shop-eu': { provider: 'acme', apiKee: { $env: 'ACME_API_KEY' } },
      },
    } satisfies MerchantConfigFor<typeof providers>;
    const badReference = {
      merchants: {
        // @ts-expect-error `$envv` is neither a value nor a reference
        'shop-eu': { provider: 'acme', apiKey: { $envv: 'ACME_API_KEY' } },
      },
    } satisfies MerchantConfigFor<typeof providers>;

    const resolved = resolveMerchantConfig(
      { merchants: { 'shop-eu': config.merchants['shop-eu'] } },
      { env: { ACME_API_KEY: 'acme-key' } },
    );
    expect(resolved.merchants).toEqual({ 'shop-eu': { provider: 'acme', apiKey: 'acme-key', region: 'eu' } });
    expect([misspelt, badReference].length).toBe(2);
  });
});
