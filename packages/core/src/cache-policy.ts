import { ConfigurationError, type ConfigurationIssue } from './errors.js';

/**
 * How the token cache refreshes, retries and times out. Every field has a default; every duration (`…Ms`) is 0 to
 * {@link maxDurationMs}.
 */
export interface CachePolicy {
  /**
   * Start refreshing in the background once less than this much life is left. Never more than half a token's
   * lifetime, nor more than `maxRefreshAheadMs`.
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
   * A token with less life than this left is never handed out: callers wait for a fresh one. Lower it with the
   * lifetimes when testing against an emulator that issues tokens of seconds.
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
  /**
   * Longest time the cache waits for one call to its token store (`get`, `set`, `lock`, …). A store call that takes
   * longer counts as a failed one (a `store-error` event) and the cache carries on without the store.
   * @default 1_000
   */
  storeTimeoutMs: number;
  /**
   * The most `refreshAheadMs` can be, whichever layer sets it. A gateway that renews a token only near its expiry
   * declares it in its tuning (i'mport: 60_000, its last minute), so that a policy meant for other gateways does not
   * make the cache poll it for the same token. Set it in your own policy only to lift such a bound.
   * @default 2_147_483_647 ({@link maxDurationMs}: no bound)
   */
  maxRefreshAheadMs: number;
}

/**
 * The longest duration any option takes: 2^31−1 ms, about 24.8 days. Node's timers fire a longer delay after 1 ms
 * (with a `TimeoutOverflowWarning`), so a longer timeout would time out at once instead of never.
 */
export const maxDurationMs = 2_147_483_647;

/**
 * What is wrong with a duration option in milliseconds, or `undefined` when it is usable: a finite number from 0
 * (above 0 with `positive`) to {@link maxDurationMs}.
 */
export function durationProblem(value: unknown, options: { positive?: boolean | undefined } = {}): string | undefined {
  const positive = options.positive ?? false;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (positive && value === 0)) {
    return positive ? 'must be a finite number greater than 0' : 'must be a finite number of at least 0';
  }
  if (value > maxDurationMs) return `must be at most ${maxDurationMs} (2^31-1 ms, about 24.8 days: a longer timer fires at once)`;
  return undefined;
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
  storeTimeoutMs: 1_000,
  maxRefreshAheadMs: maxDurationMs,
});

/**
 * Fills a policy from the defaults, then the provider's tuning, then the user's options, and holds `refreshAheadMs` to
 * `maxRefreshAheadMs`; throws a `ConfigurationError` naming every bad field.
 */
export function resolveCachePolicy(provider: string, ...layers: ReadonlyArray<Partial<CachePolicy> | undefined>): Readonly<CachePolicy> {
  const policy: CachePolicy = { ...defaultCachePolicy };
  for (const layer of layers) {
    if (layer === undefined) continue;
    for (const [key, value] of Object.entries(layer)) {
      if (value !== undefined && key in policy) policy[key as keyof CachePolicy] = value;
    }
  }
  const issues = cachePolicyFieldIssues(policy);
  if (policy.retryMaxDelayMs < policy.retryBaseDelayMs) {
    issues.push({ path: 'policy.retryMaxDelayMs', message: 'must be at least retryBaseDelayMs' });
  }
  if (issues.length > 0) throw new ConfigurationError({ provider, issues });
  // A bound, not an error: a registry-wide `refreshAheadMs` is right for some gateways and merely capped for others.
  policy.refreshAheadMs = Math.min(policy.refreshAheadMs, policy.maxRefreshAheadMs);
  return Object.freeze(policy);
}

function fractionProblem(value: unknown): string | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return 'must be a finite number of at least 0';
  return value > 1 ? 'must be at most 1' : undefined;
}

/**
 * What is wrong with each field of a policy or of one layer of it, each on its own (undefined fields and unknown keys
 * are skipped; how fields relate is checked once the layers are merged). The registry checks its `policy` with it when
 * it is created, before any cache exists.
 */
export function cachePolicyFieldIssues(layer: Partial<CachePolicy> | undefined): ConfigurationIssue[] {
  const issues: ConfigurationIssue[] = [];
  for (const [key, value] of Object.entries(layer ?? {})) {
    if (value === undefined || !(key in defaultCachePolicy)) continue;
    // Every field but the jitter, a fraction, is a duration.
    const problem = key === 'refreshAheadJitter' ? fractionProblem(value) : durationProblem(value);
    if (problem !== undefined) issues.push({ path: `policy.${key}`, message: problem });
  }
  return issues;
}
