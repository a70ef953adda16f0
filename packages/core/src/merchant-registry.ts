import { type AuthFetch, createAuthFetch, type RequestLike } from './bearer-fetch.js';
import { type CachePolicy, cachePolicyFieldIssues, durationProblem } from './cache-policy.js';
import type { Clock } from './clock.js';
import { ConfigurationError, type ConfigurationIssue, UnknownMerchantError } from './errors.js';
import { merchantsIssues, providersIssues } from './merchant-checks.js';
import { type HeldMerchant, MerchantDirectory } from './merchant-directory.js';
import type { MerchantHealth } from './merchant-health.js';
import { printableName } from './settings-checks.js';
import type { TokenCache } from './token-cache.js';
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
  /** This merchant's cache policy, over the registry's `policy` and `policies`; never passed to the provider. */
  policy?: Partial<CachePolicy> | undefined;
  [setting: string]: unknown;
}

/** What the registry reports: a cache's event and the merchants that use that cache (they share one token). */
export type MerchantTokenEvent = TokenEvent & {
  /** Ids of the merchants that share the cache, and so its token, when the event happened: a frozen array. */
  merchants: readonly string[];
};

/** How a registry asks a database or a secret manager for a merchant it does not hold. */
export type ResolveMerchant = (
  merchantId: string,
  context: {
    /** Aborted when the registry stops waiting (`resolveTimeoutMs`, or `close()`): pass it to your database call. */
    signal: AbortSignal;
  },
) => Promise<MerchantSettings | undefined>;

/** What {@link MerchantRegistry.reload} changed, by merchant id. */
export interface MerchantReloadResult {
  /** Merchants that were not configured before. */
  added: string[];
  /** Merchants whose settings changed: calls that start now use the new ones. */
  changed: string[];
  /** Merchants no longer configured: their calls are refused with `UnknownMerchantError`. */
  removed: string[];
  /** Merchants whose settings are the same: they keep their tokens. */
  unchanged: string[];
}

/** What {@link MerchantRegistry.warm} did for one merchant. */
export type MerchantWarmResult =
  | {
      /** The merchant warmed. */
      merchantId: string;
      /** A token is in hand. */
      ok: true;
    }
  | {
      /** The merchant warmed. */
      merchantId: string;
      /** No token: `error` says why. */
      ok: false;
      /** Why: a typed error of `@x/core` (`UnknownMerchantError`, `MerchantResolveError`, `TokenRequestError`, …). */
      error: unknown;
    };

/** Options of {@link createMerchantRegistry}. */
export interface MerchantRegistryOptions {
  /** Provider factories by name: `{ iamport: createIamportProvider, vipps: createVippsProvider }`. */
  providers: Readonly<Record<string, ProviderFactory>>;
  /**
   * Merchants by id: `{ 'shop-kr': { provider: 'iamport', impKey, impSecret } }`, checked and copied at creation;
   * change them with {@link MerchantRegistry.update}, {@link MerchantRegistry.remove} and
   * {@link MerchantRegistry.reload}. An entry may carry its own cache `policy`. Asked before `resolveMerchant`.
   * @default none
   */
  merchants?: Readonly<Record<string, MerchantSettings>> | undefined;
  /**
   * Asks a database or a secret manager for a merchant that `merchants` does not have: its entry (checked like one of
   * `merchants`), or `undefined` for an unknown merchant. Asked again in the background after `merchantTtlMs`, and at
   * once when the gateway rejects the merchant's credentials (for configured merchants too), so a rotated secret is
   * picked up before the rejection reaches the caller. Concurrent calls for one merchant share one question.
   * @default none: only `merchants` are known
   */
  resolveMerchant?: ResolveMerchant | undefined;
  /** How long a resolved merchant's settings are used before they are asked again (without holding calls up). @default 300_000 */
  merchantTtlMs?: number | undefined;
  /** How long `resolveMerchant` may take; a slower or failing answer is a retryable `MerchantResolveError`. @default 5_000 */
  resolveTimeoutMs?: number | undefined;
  /**
   * How many merchants' providers and caches are held at most; the least recently used go first, and come back on their
   * next call (their token from the store, when it is shared). Bounds the registry's default in-memory store too.
   * @default Infinity
   */
  maxActiveMerchants?: number | undefined;
  /** Where tokens are shared (e.g. `createRedisTokenStore`). @default one in-memory store for the registry */
  store?: TokenStore | undefined;
  /** Cache policy for every merchant, over each provider's own tuning. */
  policy?: Partial<CachePolicy> | undefined;
  /**
   * Cache policy by provider name, over `policy`: `{ vipps: { refreshAheadMs: 300_000 } }` leaves i'mport merchants
   * on their own tuning. A merchant's own `policy` entry goes over both.
   * @default none
   */
  policies?: Readonly<Record<string, Partial<CachePolicy>>> | undefined;
  /** Receives every cache's events, with the merchants concerned. */
  onEvent?: ((event: MerchantTokenEvent) => void) | undefined;
  /** The fetch for token requests and API calls. @default globalThis.fetch */
  fetch?: typeof globalThis.fetch | undefined;
  /** Clocks for every cache and for `merchantTtlMs` (tests). @default systemClock */
  clock?: Clock | undefined;
}

/** Per-merchant bearer fetches and token caches, created on first use, changed while the servers run. */
export interface MerchantRegistry {
  /**
   * The merchant's bearer fetch, with the merchant's own API headers and the token of its credentials. Every call
   * looks the merchant up afresh (resolving it when needed), so a fetch obtained earlier follows `update`, `reload`
   * and rotations, and is refused with `UnknownMerchantError` after `remove`. Throws `UnknownMerchantError` at once
   * for an id no source can have (not configured, and no `resolveMerchant`).
   */
  fetch(merchantId: string): AuthFetch;
  /**
   * The merchant's token cache now, shared with merchants that have the same credentials (its errors, and those of a
   * fetch or interceptor over it, name them all). Its `provider` is the first of them to be used: give
   * `provider(merchantId)` as the `provider` option of `createAuthInterceptor` for the merchant's own API headers.
   * A cache is for the credentials it was made for: it does not follow `update` or a rotation, as `fetch` does.
   * Throws `UnknownMerchantError` for a merchant not configured and not resolved yet (`await warm([id])` first).
   */
  tokens(merchantId: string): TokenCache;
  /** The merchant's own provider (its API headers), even where its cache is shared. Throws as `tokens` does. */
  provider(merchantId: string): TokenProvider;
  /** The merchant ids configured, then those resolved and held. */
  merchants(): string[];
  /** Whether the id is configured, or resolved and held. */
  has(merchantId: string): boolean;
  /**
   * Configures one merchant (as an entry of `merchants`). Checked first: a `ConfigurationError` changes nothing. Calls
   * that start after it resolves use the new settings; calls in flight finish on the old ones. A merchant whose
   * credentials did not change keeps its token; the old credentials' token is never sent for new ones.
   */
  update(merchantId: string, settings: MerchantSettings): Promise<void>;
  /**
   * Removes a merchant: every later call, through any fetch the registry handed out, is refused with
   * `UnknownMerchantError`, and `resolveMerchant` is not asked for it until `update` or `reload` adds it back.
   */
  remove(merchantId: string): Promise<void>;
  /**
   * Replaces the whole configuration (`merchants`), checked all-or-nothing first, then applied as adds, changes and
   * removals. Unchanged merchants keep their tokens.
   */
  reload(merchants: Readonly<Record<string, MerchantSettings>>): Promise<MerchantReloadResult>;
  /**
   * Fetches tokens ahead (cold starts, rarely used merchants), a few merchants at a time, and reports each one's
   * success or typed error; never rejects for a merchant's failure.
   * @param merchantIds - @default the configured merchants and those held
   */
  warm(merchantIds?: readonly string[]): Promise<MerchantWarmResult[]>;
  /**
   * Where each merchant's token stands now, one entry per token cache with the merchants that share it: the cache's
   * state, the time its token has left and the last failure's error code (see {@link TokenCache.health}); `cold` for
   * a merchant not held yet, `unknown` for one the registry cannot call. Never a token or a secret. Synchronous, and
   * it only reads: no merchant is built, resolved, or moved in the least-recently-used order. The answer grows with
   * the question, never with the registry: without ids it lists the merchants held (bounded by `maxActiveMerchants`),
   * each once; with ids, each asked merchant once, with a count of those sharing its cache.
   * @param merchantIds - @default the merchants held
   */
  health(merchantIds?: readonly string[]): MerchantHealth[];
  /** Stops every resolver call in flight (their signals abort); every later call is refused with `RegistryClosedError`. */
  close(): Promise<void>;
}

/** Merchants warmed at once. */
const warmConcurrency = 8;

/**
 * Creates a registry of merchants, each on the gateway its configuration names: configured up front (`merchants`),
 * asked of a database or secret manager on demand (`resolveMerchant`), or both, and changed while the servers run
 * (`update`, `remove`, `reload`). Every configured merchant's settings are checked now and all problems reported in one
 * `ConfigurationError`; providers and caches are created on first use, so 100,000 merchants cost nothing until
 * called, and `maxActiveMerchants` bounds how many are held. Merchants with the same credentials share one token.
 *
 * Merchant ids are 1–128 characters without control characters or surrounding whitespace, and never a name of
 * `Object.prototype` (`__proto__`, `constructor`, …) or `prototype`; no settings key may be such a name either.
 * Only a merchant's own properties are read, so a polluted `Object.prototype` cannot add a setting.
 *
 * @example
 * const registry = createMerchantRegistry({
 *   providers: { iamport: createIamportProvider, vipps: createVippsProvider },
 *   merchants: (await loadMerchantConfig('merchants.json')).merchants,
 *   resolveMerchant: async (id, { signal }) => (await db.merchant(id, { signal }))?.settings,
 * });
 * const response = await registry.fetch('shop-kr')('/payments/imp_448280090638');
 *
 * @throws {@link ConfigurationError} with every problem of every merchant (unknown provider, bad id, bad settings),
 * each naming the merchant and the path of the setting, and every bad option (a `policy` field over
 * {@link maxDurationMs}, a `maxActiveMerchants` that is not a positive integer, …).
 */
export function createMerchantRegistry(options: MerchantRegistryOptions): MerchantRegistry {
  const { providers } = options;
  // The provider names, read once: creation checks every merchant against them, and later entries are checked again.
  const known = typeof providers === 'object' && providers !== null ? Object.keys(providers) : [];
  const issues = [
    ...providersIssues(providers, known),
    ...(options.merchants === undefined ? [] : merchantsIssues(providers, known, options.merchants)),
    ...optionIssues(options),
  ];
  if (issues.length > 0) throw new ConfigurationError({ issues });

  const maxActive = options.maxActiveMerchants ?? Number.POSITIVE_INFINITY;
  // Bounded with the merchants: an evicted merchant's token (and its tombstones) make room instead of piling up.
  const store =
    options.store ??
    createMemoryTokenStore({
      ...(options.clock === undefined ? {} : { clock: options.clock }),
      ...(Number.isFinite(maxActive) ? { maxEntries: 4 * maxActive } : {}),
    });
  const directory = new MerchantDirectory(options, known, store);

  const authFetchOf = (merchant: HeldMerchant): AuthFetch => {
    const { shared } = merchant;
    // The cache's annotation names the merchants in the fetch's errors. Merchants on the cache's own provider share
    // its fetch; one with API headers of its own (Vipps' `Vipps-System-*`) has a fetch that sends them.
    if (merchant.provider === shared.cache.provider) {
      shared.authFetch ??= createAuthFetch(shared.cache, { fetch: options.fetch });
      return shared.authFetch;
    }
    merchant.authFetch ??= createAuthFetch(shared.cache, { fetch: options.fetch, provider: merchant.provider });
    return merchant.authFetch;
  };

  const liveFetch = (merchantId: string): AuthFetch =>
    async function merchantFetch(input, init) {
      // A Request's body is read once: when a rejection may send the call again on new settings, it is read first.
      const replayable = directory.resolves ? await withBodyRead(input, init) : init;
      return directory.withMerchant(merchantId, (merchant) => authFetchOf(merchant)(input, replayable));
    };

  const inHand = (merchantId: string): HeldMerchant => {
    const merchant = directory.inHand(merchantId);
    if (merchant === undefined) {
      throw new UnknownMerchantError(
        printableName(merchantId),
        'not resolved yet (await registry.warm([id]) first, or use registry.fetch)',
      );
    }
    return merchant;
  };

  return {
    fetch(merchantId) {
      const merchant = directory.inHand(merchantId);
      if (merchant === undefined) return liveFetch(merchantId);
      merchant.live ??= liveFetch(merchantId);
      return merchant.live;
    },
    tokens: (merchantId) => inHand(merchantId).shared.cache,
    provider: (merchantId) => inHand(merchantId).provider,
    merchants: () => directory.ids(),
    has: (merchantId) => directory.has(merchantId),
    update: async (merchantId, settings) => directory.update(merchantId, settings),
    remove: async (merchantId) => directory.remove(merchantId),
    reload: async (merchants) => directory.reload(merchants),
    async warm(merchantIds) {
      const ids = merchantIds === undefined ? directory.ids() : [...merchantIds];
      const results: MerchantWarmResult[] = new Array(ids.length);
      let next = 0;
      const worker = async (): Promise<void> => {
        for (let index = next++; index < ids.length; index = next++) {
          const merchantId = ids[index]!;
          try {
            await directory.withMerchant(merchantId, (merchant) => merchant.shared.cache.getToken());
            results[index] = { merchantId, ok: true };
          } catch (error) {
            results[index] = { merchantId, ok: false, error };
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(warmConcurrency, ids.length) }, worker));
      return results;
    },
    health: (merchantIds) => directory.health(merchantIds),
    close: async () => directory.close(),
  };
}

/** A Request's body read into bytes and given as `init.body`, so the call can be sent twice; other inputs as they are. */
async function withBodyRead(input: string | URL | RequestLike, init: RequestInit | undefined): Promise<RequestInit | undefined> {
  if (typeof input === 'string' || input instanceof URL || input.body === null || input.body === undefined) return init;
  if (init?.body !== undefined) return init;
  return { ...init, body: await input.arrayBuffer() };
}

/** What is wrong with the registry's own options (merchants are checked by {@link merchantsIssues}). */
function optionIssues(options: MerchantRegistryOptions): ConfigurationIssue[] {
  const issues = [...cachePolicyFieldIssues(options.policy)];
  for (const [name, layer] of Object.entries(options.policies ?? {})) {
    issues.push(
      ...cachePolicyFieldIssues(layer).map((issue) => ({
        ...issue,
        path: `policies.${printableName(name)}.${issue.path.slice('policy.'.length)}`,
      })),
    );
  }
  if (options.resolveMerchant !== undefined && typeof options.resolveMerchant !== 'function') {
    issues.push({ path: 'resolveMerchant', message: 'must be a function (merchantId, { signal }) => Promise<settings | undefined>' });
  }
  for (const key of ['merchantTtlMs', 'resolveTimeoutMs'] as const) {
    const problem = options[key] === undefined ? undefined : durationProblem(options[key], { positive: true });
    if (problem !== undefined) issues.push({ path: key, message: problem });
  }
  const max = options.maxActiveMerchants;
  if (max !== undefined && max !== Number.POSITIVE_INFINITY && !(Number.isSafeInteger(max) && max > 0)) {
    issues.push({ path: 'maxActiveMerchants', message: 'must be a positive integer (or Infinity)' });
  }
  return issues;
}
