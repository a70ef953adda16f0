import type { TokenCache } from './token-cache.js';
import type { TokenCacheState, TokenErrorSummary } from './token-cache-health.js';

/**
 * Where a merchant's token stands: its cache's {@link TokenCacheState}, or `unknown` for an id the registry cannot
 * call (not configured, removed, not resolvable, or the registry is closed).
 */
export type MerchantHealthState = TokenCacheState | 'unknown';

/**
 * One token cache of a registry and the merchants on it, as {@link MerchantRegistry.health} reports it. Merchants
 * with the same credentials share one cache, and so one entry; a merchant not held has an entry of its own.
 */
export interface MerchantHealth {
  /** The merchants this entry answers for: those asked that use the cache (without ids: every merchant on it). */
  readonly merchants: readonly string[];
  /** The gateway: the cache's provider, or the `provider` setting of a merchant not held; `undefined` when unknown. */
  readonly provider: string | undefined;
  /** How many held merchants share the cache, and so its token; 0 for a merchant not held, which has no cache yet. */
  readonly sharedBy: number;
  /** The cache's state; `cold` for a merchant not held (configured, or one `resolveMerchant` may give). */
  readonly state: MerchantHealthState;
  /** Time the token handed out has left, in milliseconds on the registry's clock; `undefined` when none is handed out. */
  readonly expiresInMs: number | undefined;
  /** Whether a token request is under way. */
  readonly requesting: boolean;
  /** After a failure: the time until the cache asks again (0 once due); `undefined` when nothing failed. */
  readonly retryInMs: number | undefined;
  /** The error of the last failed request since the cache last got a token: its code, reason and HTTP status. */
  readonly lastError: TokenErrorSummary | undefined;
}

/** The entry of a held cache, for `merchants`. */
export function cacheHealthEntry(cache: TokenCache, merchants: readonly string[], sharedBy: number): MerchantHealth {
  return { merchants, provider: cache.provider.provider, sharedBy, ...cache.health() };
}

/** The entry of a merchant the registry does not hold: `cold` (it can be called) or `unknown`. */
export function unheldEntry(merchantId: string, provider: string | undefined, state: 'cold' | 'unknown'): MerchantHealth {
  return {
    merchants: [merchantId],
    provider,
    sharedBy: 0,
    state,
    expiresInMs: undefined,
    requesting: false,
    retryInMs: undefined,
    lastError: undefined,
  };
}
