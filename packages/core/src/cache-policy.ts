import { ConfigurationError, type ConfigurationIssue } from './errors.js';

/** How the token cache refreshes, retries and times out. Every field has a default. */
export interface CachePolicy {
  /**
   * Start refreshing in the background once less than this much life is left. Never more than half a token's
   * lifetime.
   * @default 300_000 (5 minutes)
   */
  refreshAheadMs: number;
  /**
   * Fraction of `refreshAheadMs` by which each process moves the start of its refresh window later, at random, so a
   * fleet does not refresh in lockstep. `0` disables it.
   * @default 0.2
   */
  refreshAheadJitter: number;
  /**
   * A token with less life than this left is never handed out: callers wait for a fresh one.
   * @default 10_000
   */
  minValidityMs: number;
  /**
   * Timeout of one token request.
   * @default 10_000
   */
  requestTimeoutMs: number;
  /**
   * First delay of the exponential backoff between failed (or unchanged) refreshes; full jitter is applied.
   * @default 1_000
   */
  retryBaseDelayMs: number;
  /**
   * Longest delay between two refresh attempts.
   * @default 60_000
   */
  retryMaxDelayMs: number;
  /**
   * After a failure that retrying cannot fix (rejected credentials), calls within this time get the same error
   * without a new request.
   * @default 10_000
   */
  failureCooldownMs: number;
  /**
   * How long a process waits for another process holding the store's lock to publish a token before requesting
   * one itself. Only used with a store that has `lock`.
   * @default 5_000
   */
  lockWaitMs: number;
}

/** The defaults every cache starts from. */
export const defaultCachePolicy: Readonly<CachePolicy> = Object.freeze({
  refreshAheadMs: 300_000,
  refreshAheadJitter: 0.2,
  minValidityMs: 10_000,
  requestTimeoutMs: 10_000,
  retryBaseDelayMs: 1_000,
  retryMaxDelayMs: 60_000,
  failureCooldownMs: 10_000,
  lockWaitMs: 5_000,
});

/**
 * Fills a policy from the defaults, then the provider's tuning, then the user's options; throws a
 * `ConfigurationError` naming every bad field.
 */
export function resolveCachePolicy(provider: string, ...layers: ReadonlyArray<Partial<CachePolicy> | undefined>): Readonly<CachePolicy> {
  const policy: CachePolicy = { ...defaultCachePolicy };
  for (const layer of layers) {
    if (layer === undefined) continue;
    for (const [key, value] of Object.entries(layer)) {
      if (value !== undefined && key in policy) policy[key as keyof CachePolicy] = value;
    }
  }
  const issues: ConfigurationIssue[] = [];
  for (const [key, value] of Object.entries(policy)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      issues.push({ path: `policy.${key}`, message: 'must be a finite number of at least 0' });
    }
  }
  if (policy.refreshAheadJitter > 1) issues.push({ path: 'policy.refreshAheadJitter', message: 'must be at most 1' });
  if (policy.retryMaxDelayMs < policy.retryBaseDelayMs) {
    issues.push({ path: 'policy.retryMaxDelayMs', message: 'must be at least retryBaseDelayMs' });
  }
  if (issues.length > 0) throw new ConfigurationError({ provider, issues });
  return Object.freeze(policy);
}
