import type { CachePolicy } from './cache-policy.js';
import { isTokenRequestError } from './errors.js';

/** Shortest delay between two attempts, unless the policy's backoff ceiling is lower. */
export const minimumRetryDelayMs = 100;

/**
 * The token cache's timing of attempts after failures: an exponential backoff with full jitter and a floor, for
 * refreshes that failed or changed nothing, and a second one, for tokens the API refused on their first use.
 */
export class TokenBackoff {
  readonly #policy: Readonly<CachePolicy>;
  readonly #random: () => number;
  /** Failed or unchanged attempts since the last token was adopted. */
  #failures = 0;
  /** Tokens refused on their first use, in a row (a quiet spell starts the count again). */
  #refusals = 0;
  #lastRefusalAt = Number.NEGATIVE_INFINITY;

  constructor(policy: Readonly<CachePolicy>, random: () => number) {
    this.#policy = policy;
    this.#random = random;
  }

  /** The next step after a failed or unchanged attempt; a gateway's `Retry-After` (429, 503) lengthens it. */
  afterFailure(error: unknown, wallNow: number): number {
    const delay = this.#jittered(this.#failures);
    this.#failures += 1;
    const retryAfter = retryAfterMs(error, wallNow);
    return retryAfter === undefined ? delay : Math.max(delay, Math.min(retryAfter, this.#policy.retryMaxDelayMs));
  }

  /** A token was adopted: the next failure starts from the first step again. */
  reset(): void {
    this.#failures = 0;
  }

  /**
   * How long a token refused on its first use is kept despite 401s: a step that grows with each such refusal and
   * starts again after a quiet spell, so an API that refuses every fresh token costs one token request per step.
   */
  afterRefusal(monotonicNow: number): number {
    if (monotonicNow - this.#lastRefusalAt > 2 * this.#policy.retryMaxDelayMs) this.#refusals = 0;
    this.#lastRefusalAt = monotonicNow;
    const delay = this.#jittered(this.#refusals);
    this.#refusals += 1;
    return delay;
  }

  /** Full jitter over an exponential ceiling, with a floor: a draw of ~0 would let every call start a request. */
  #jittered(step: number): number {
    const policy = this.#policy;
    const ceiling = Math.min(policy.retryMaxDelayMs, policy.retryBaseDelayMs * 2 ** step);
    return Math.max(this.#random() * ceiling, Math.min(ceiling, minimumRetryDelayMs));
  }
}

/**
 * How long a 429 or 503 asks clients to wait (`Retry-After`: seconds, or an HTTP date on the wall clock `now`), or
 * `undefined`. A value that is neither is ignored.
 */
export function retryAfterMs(error: unknown, now: number): number | undefined {
  if (!isTokenRequestError(error) || (error.status !== 429 && error.status !== 503)) return undefined;
  const header = error.response?.headers.get('retry-after')?.trim();
  if (header === undefined || header === '') return undefined;
  if (/^\d+$/.test(header)) return Number(header) * 1000;
  // An HTTP date starts with the day's name; `Date.parse` would also take "-5" for a year.
  const date = /^[A-Za-z]/.test(header) ? Date.parse(header) : Number.NaN;
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
