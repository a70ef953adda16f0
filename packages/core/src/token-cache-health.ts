import { type ErrorCode, isAuthError, isRetryable } from './errors.js';

/**
 * Where a token cache stands, as {@link TokenCache.health} reads it:
 * - `cold`: no token to hand out, and no request failed since the last one: never asked yet (or the first request is
 *   under way), or its token expired or was dropped after a 401 and nobody has asked since.
 * - `fresh`: a token is handed out at once.
 * - `refreshing`: a token is handed out at once while a request for the next one is under way.
 * - `serving-stale`: the last refresh failed; the token, still valid, is handed out until a retry succeeds.
 * - `failing`: no token to hand out; the last request failed and retrying can help (a backoff step, then a retry).
 * - `cooling-down`: no token to hand out; the gateway rejected the credentials, and callers get that error for
 *   `failureCooldownMs` before the next request.
 */
export type TokenCacheState = 'cold' | 'fresh' | 'refreshing' | 'serving-stale' | 'failing' | 'cooling-down';

/** The states in which a cache hands out a token at once. */
const usableStates: ReadonlySet<TokenCacheState> = new Set(['fresh', 'refreshing', 'serving-stale']);

/** Whether a cache in `state` hands out a token without waiting (`fresh`, `refreshing`, `serving-stale`). */
export function servesToken(state: string): boolean {
  return usableStates.has(state as TokenCacheState);
}

/** What a failed token request's error was: its stable fields only, never its message (nor anything it quotes). */
export interface TokenErrorSummary {
  /** The error's {@link ErrorCode}; `unknown` for an error that is not one of `@x`'s. */
  readonly code: ErrorCode | 'unknown';
  /** Why, in one word, where the error class says (`rejected`, `http`, `network`, `timeout`, …). */
  readonly reason?: string;
  /** The HTTP status of the token response, when one arrived. */
  readonly status?: number;
}

/** A token cache's state, read without side effects: never a token or a secret. */
export interface TokenCacheHealth {
  /** Where the cache stands. */
  readonly state: TokenCacheState;
  /**
   * Time the token handed out has left until it expires, in milliseconds on the cache's monotonic clock; `undefined`
   * when no token is handed out (`cold`, `failing`, `cooling-down`).
   */
  readonly expiresInMs: number | undefined;
  /** Whether a token request is under way. */
  readonly requesting: boolean;
  /**
   * After a failure: the time until the cache asks again (the backoff step, or the cool-down), 0 once it is over and
   * the next call (or refresh) asks; `undefined` when nothing failed since the last token.
   */
  readonly retryInMs: number | undefined;
  /** The error of the last failed request since the cache last got a token; `undefined` when none failed. */
  readonly lastError: TokenErrorSummary | undefined;
}

/** A failed request as the cache remembers it for {@link TokenCacheHealth}: summarised once, when it failed. */
export interface FailureRecord {
  readonly summary: TokenErrorSummary;
  readonly retryable: boolean;
}

/** Records a failed request's error for health read-outs, keeping none of the error itself. */
export function recordFailure(error: unknown): FailureRecord {
  return { summary: summarizeError(error), retryable: isRetryable(error) };
}

/** The stable, secret-free fields of an error: its code, and its one-word reason and HTTP status where it has them. */
export function summarizeError(error: unknown): TokenErrorSummary {
  if (!isAuthError(error)) return Object.freeze({ code: 'unknown' });
  const { reason, status } = error as { reason?: unknown; status?: unknown };
  return Object.freeze({
    code: error.code,
    ...(typeof reason === 'string' ? { reason } : {}),
    ...(typeof status === 'number' ? { status } : {}),
  });
}
