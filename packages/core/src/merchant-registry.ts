import { type AuthFetch, createAuthFetch } from './bearer-fetch.js';
import { type CachePolicy, cachePolicyFieldIssues } from './cache-policy.js';
import type { Clock } from './clock.js';
import { ConfigurationError, type ConfigurationIssue, isAuthError, UnknownMerchantError } from './errors.js';
import { isReservedKey, merchantIdProblem, ownSettings, printableName, reservedKeyIssues } from './settings-checks.js';
import { createTokenCache, type TokenCache } from './token-cache.js';
import type { TokenEvent } from './token-events.js';
import type { TokenProvider } from './token-provider.js';
import { createMemoryTokenStore, type TokenStore } from './token-store.js';

/**
 * Creates a provider from one merchant's settings. A gateway package's `createXProvider` is one; give it a
 * `validateSettings` so the registry can report every merchant's problems at start without creating providers.
 */
export interface ProviderFactory {
  // Settings are whatever the gateway's factory takes; the registry validates them before calling it.
  // biome-ignore lint/suspicious/noExplicitAny: a factory's own settings type must be assignable here (parameters are contravariant).
  (settings: any): TokenProvider;
  /** Every problem with `settings`, paths relative to the settings object (`impSecret`). Never echoes a value. */
  validateSettings?: ((settings: unknown) => readonly ConfigurationIssue[]) | undefined;
}

/** One merchant's entry: the provider's name and its settings. */
export interface MerchantSettings {
  /** Name of a provider in the registry's `providers`, e.g. `iamport`. */
  provider: string;
  [setting: string]: unknown;
}

/** What the registry reports: a cache's event and the merchants that use that cache (they share one token). */
export type MerchantTokenEvent = TokenEvent & {
  /** Ids of the merchants that share the cache, and so its token, when the event happened: a frozen array. */
  merchants: readonly string[];
};

/** A token cache and the merchants that use it. */
interface SharedCache {
  cache: TokenCache;
  /** The registry's own list; never handed out. */
  merchants: string[];
  /** A frozen copy of `merchants` for events and errors, made when first needed after a merchant joined. */
  snapshot: readonly string[] | undefined;
}

/**
 * The merchants of a cache as events and errors carry them: a frozen copy, so the list a listener got stays as it was
 * and emptying it cannot erase merchant names from the registry's later errors.
 */
function merchantsOf(shared: SharedCache): readonly string[] {
  shared.snapshot ??= Object.freeze([...shared.merchants]);
  return shared.snapshot;
}

/** Options of {@link createMerchantRegistry}. */
export interface MerchantRegistryOptions {
  /** Provider factories by name: `{ iamport: createIamportProvider, vipps: createVippsProvider }`. */
  providers: Readonly<Record<string, ProviderFactory>>;
  /**
   * Merchants by id: `{ 'shop-kr': { provider: 'iamport', impKey, impSecret } }`. Read live, not copied: a merchant
   * added later is found, and checked on its first use as the others were at creation. A merchant already used keeps
   * the settings it started with.
   */
  merchants: Readonly<Record<string, MerchantSettings>>;
  /** Where tokens are shared (e.g. `createRedisTokenStore`). @default one in-memory store for the registry */
  store?: TokenStore | undefined;
  /** Cache policy for every merchant, over each provider's own tuning. */
  policy?: Partial<CachePolicy> | undefined;
  /** Receives every cache's events, with the merchants concerned. */
  onEvent?: ((event: MerchantTokenEvent) => void) | undefined;
  /** The fetch for token requests and API calls. @default globalThis.fetch */
  fetch?: typeof globalThis.fetch | undefined;
  /** Clocks for every cache (tests). @default systemClock */
  clock?: Clock | undefined;
}

/** Per-merchant bearer fetches and token caches, created on first use. */
export interface MerchantRegistry {
  /**
   * The merchant's bearer fetch, with the merchant's own API headers and the token of its credentials. Throws
   * `UnknownMerchantError` for an id not in the configuration.
   */
  fetch(merchantId: string): AuthFetch;
  /**
   * The merchant's token cache, shared with merchants that have the same credentials (its errors, and those of a
   * fetch or interceptor over it, name them all). Its `provider` is the first of them to be used: give
   * `provider(merchantId)` as the `provider` option of `createAuthInterceptor` for the merchant's own API headers.
   */
  tokens(merchantId: string): TokenCache;
  /** The merchant's own provider (its API headers), even where its cache is shared. */
  provider(merchantId: string): TokenProvider;
  /** Every configured merchant id. */
  merchants(): string[];
  /** Whether the id is configured. */
  has(merchantId: string): boolean;
}

/**
 * Creates a registry of merchants, each on the gateway its configuration names. Every merchant's settings are
 * checked now and all problems reported in one `ConfigurationError`; providers and caches are created on first use,
 * so 100,000 merchants cost nothing until called. Merchants with the same credentials share one token.
 *
 * Merchant ids are 1–128 characters without control characters or surrounding whitespace, and never a name of
 * `Object.prototype` (`__proto__`, `constructor`, …) or `prototype`; no settings key may be such a name either.
 * Only a merchant's own properties are read, so a polluted `Object.prototype` cannot add a setting.
 *
 * @example
 * const registry = createMerchantRegistry({
 *   providers: { iamport: createIamportProvider, vipps: createVippsProvider },
 *   merchants: (await loadMerchantConfig('merchants.json')).merchants,
 * });
 * const response = await registry.fetch('shop-kr')('/payments/imp_448280090638');
 *
 * @throws {@link ConfigurationError} with every problem of every merchant (unknown provider, bad id, bad settings),
 * each naming the merchant and the path of the setting, and every bad field of `policy` (e.g. a duration over
 * {@link maxDurationMs}).
 */
export function createMerchantRegistry(options: MerchantRegistryOptions): MerchantRegistry {
  const { providers, merchants } = options;
  // The provider names, read once: creation checks every merchant against them, and first use checks one again.
  const known = typeof providers === 'object' && providers !== null ? Object.keys(providers) : [];
  // The policy too, so that a bad duration stops the start, not a merchant's first call.
  const issues = [...validateMerchants(providers, known, merchants), ...cachePolicyFieldIssues(options.policy)];
  if (issues.length > 0) throw new ConfigurationError({ issues });

  const store = options.store ?? createMemoryTokenStore(options.clock === undefined ? {} : { clock: options.clock });
  /** One cache per credential (`cacheKey`), with the merchants that use it. */
  const caches = new Map<string, SharedCache>();
  const tokensOf = new Map<string, TokenCache>();
  /** A merchant's own provider, where it is not its cache's (it shares the credentials of a merchant used before). */
  const providerOf = new Map<string, TokenProvider>();
  const fetchOf = new Map<string, AuthFetch>();
  const listener = options.onEvent;

  const createCache = (provider: TokenProvider, shared: SharedCache): TokenCache =>
    // Annotated: the bearer fetches and interceptors over the cache name the merchants in their own errors too.
    createTokenCache(provider, {
      store,
      policy: options.policy,
      fetch: options.fetch,
      clock: options.clock,
      onEvent: listener === undefined ? undefined : (event) => listener({ ...event, merchants: merchantsOf(shared) }),
      // Errors name the merchants; a cache shared by merchants with the same credentials names them all.
      merchants: () => merchantsOf(shared),
    });

  const tokens = (merchantId: string): TokenCache => {
    const cached = tokensOf.get(merchantId);
    if (cached !== undefined) return cached;
    const entry = typeof merchantId === 'string' && Object.hasOwn(merchants, merchantId) ? merchants[merchantId] : undefined;
    if (entry === undefined) throw new UnknownMerchantError(printableName(String(merchantId)));
    // Checked again on first use: `merchants` is read live, and an entry added or changed since creation was not checked.
    const issues = merchantIssues(providers, known, merchantId, entry);
    if (issues.length > 0) throw new ConfigurationError({ issues });
    // Own properties only, copied as they were for validation; `provider` is the registry's, not the gateway's setting.
    const { provider: name, ...settings } = ownSettings(entry) as MerchantSettings;
    const provider = providers[name]!(settings);
    let shared = caches.get(provider.cacheKey);
    if (shared === undefined) {
      // The cache reads the merchants from this entry at each event, so it names those who join later too.
      const created = { merchants: [], snapshot: undefined } as unknown as SharedCache;
      created.cache = createCache(provider, created);
      shared = created;
      caches.set(provider.cacheKey, shared);
    } else {
      providerOf.set(merchantId, provider);
    }
    shared.merchants.push(merchantId);
    shared.snapshot = undefined;
    tokensOf.set(merchantId, shared.cache);
    return shared.cache;
  };

  return {
    fetch(merchantId) {
      let authFetch = fetchOf.get(merchantId);
      if (authFetch === undefined) {
        const cache = tokens(merchantId);
        // The cache's annotation names the merchants in the fetch's errors; the merchant's own API headers go out.
        authFetch = createAuthFetch(cache, { fetch: options.fetch, provider: providerOf.get(merchantId) });
        fetchOf.set(merchantId, authFetch);
      }
      return authFetch;
    },
    tokens,
    provider: (merchantId) => {
      const cache = tokens(merchantId);
      return providerOf.get(merchantId) ?? cache.provider;
    },
    merchants: () => Object.keys(merchants),
    has: (merchantId) => Object.hasOwn(merchants, merchantId),
  };
}

function validateMerchants(
  providers: Readonly<Record<string, ProviderFactory>>,
  known: readonly string[],
  merchants: Readonly<Record<string, MerchantSettings>>,
): ConfigurationIssue[] {
  const issues: ConfigurationIssue[] = [];
  if (known.length === 0) issues.push({ path: 'providers', message: 'at least one provider factory is required' });
  for (const name of known) {
    if (typeof providers[name] !== 'function') {
      issues.push({ path: `providers.${printableName(name)}`, message: 'must be a provider factory (a function)' });
    }
  }
  if (typeof merchants !== 'object' || merchants === null || Array.isArray(merchants)) {
    issues.push({ path: 'merchants', message: 'must be an object of merchant id to settings' });
    return issues;
  }
  for (const merchantId of Object.keys(merchants)) issues.push(...merchantIssues(providers, known, merchantId, merchants[merchantId]));
  return issues;
}

/** What is wrong with one merchant's id and entry; `known` are the provider names (empty when `providers` is not an object). */
function merchantIssues(
  providers: Readonly<Record<string, ProviderFactory>>,
  known: readonly string[],
  merchantId: string,
  entry: unknown,
): ConfigurationIssue[] {
  const path = `merchants.${printableName(merchantId)}`;
  const idProblem = merchantIdProblem(merchantId);
  if (idProblem !== undefined) return [{ path, message: idProblem }];
  const own = ownSettings(entry);
  if (own === undefined) return [{ path, message: 'must be an object with a "provider" and its settings', merchant: merchantId }];
  const { provider: name, ...settings } = own;
  if (typeof name !== 'string' || name === '') {
    return [{ path: `${path}.provider`, message: `required; one of: ${known.join(', ')}`, merchant: merchantId }];
  }
  // `known` is empty when `providers` is not an object (reported by the caller), and `Object.hasOwn(null, …)` would throw.
  const factory = known.length > 0 && Object.hasOwn(providers, name) && !isReservedKey(name) ? providers[name] : undefined;
  if (typeof factory !== 'function') {
    // Not quoted: the name may come from an `$env` variable that holds a secret instead.
    return [
      {
        path: `${path}.provider`,
        message: `unknown provider; known: ${known.length === 0 ? 'none' : known.join(', ')}`,
        merchant: merchantId,
      },
    ];
  }
  const about = { merchant: merchantId, provider: name };
  // The reserved keys were left out of `settings`, so the provider's validation cannot see them: reported here.
  return [...reservedKeyIssues(entry), ...settingsIssues(factory, settings)].map((issue) => ({
    path: issue.path === '' ? path : `${path}.${issue.path}`,
    message: issue.message,
    ...about,
  }));
}

function settingsIssues(factory: ProviderFactory, settings: Record<string, unknown>): readonly ConfigurationIssue[] {
  try {
    if (factory.validateSettings !== undefined) return factory.validateSettings(settings);
    // A factory without a validator is checked by creating its provider once.
    factory(settings);
    return [];
  } catch (error) {
    if (isAuthError(error) && 'issues' in error) return (error as ConfigurationError).issues;
    // Only the error's name: a third-party factory's message may quote the value it refused.
    return [{ path: '', message: `the provider's validation threw ${error instanceof Error ? error.name : typeof error}` }];
  }
}
