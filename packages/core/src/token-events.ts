import type { AuthError, TokenStoreError, TokenStoreOperation } from './errors.js';

/** Why the cache asked the provider for a token. */
export type TokenRequestReason =
  /** No token yet. */
  | 'initial'
  /** The current token is too close to expiry to hand out. */
  | 'expired'
  /** The current token entered its refresh-ahead window; callers are still served it. */
  | 'refresh-ahead'
  /** A caller asked for `forceRefresh`. */
  | 'forced'
  /** The current token was invalidated (e.g. after a 401). */
  | 'invalidated';

/** @inline Fields every event has; inlined so the docs show them on {@link TokenEvent} itself. */
interface EventBase {
  /** Short name of the gateway. */
  provider: string;
  /** The provider's non-secret cache key. */
  cacheKey: string;
  /** Wall-clock time of the event, epoch milliseconds. */
  time: number;
}

/** Something the token cache did, for logs and metrics. Never holds a token or a secret. */
export type TokenEvent = EventBase &
  (
    | {
        /** The cache asked the provider for a token. */
        type: 'token-requested';
        /** Why it asked. */
        reason: TokenRequestReason;
      }
    | {
        /** A new token is current, from the gateway or the store. */
        type: 'token-refreshed';
        /** Where the token came from: the gateway, or a store another process wrote. */
        source: 'provider' | 'store';
        /** Same token, later expiry (i'mport's extension window). */
        extended: boolean;
        /** Short hash of the token, to tell tokens apart in logs. */
        fingerprint: string;
        /** Time left until the new token expires. */
        expiresInMs: number;
        /** Time the request took; 0 for a store hit. */
        durationMs: number;
        /** The provider's non-secret figures, e.g. `clockSkewMs`. */
        diagnostics?: Readonly<Record<string, string | number | boolean>>;
      }
    | {
        /** The gateway returned the current token with the same expiry; the next attempt is scheduled. */
        type: 'token-unchanged';
        /** Short hash of the current token. */
        fingerprint: string;
        /** Time left until the current token expires. */
        expiresInMs: number;
        /** Time the request took. */
        durationMs: number;
        /** Backoff before the next refresh attempt, so an unchanged answer is not asked for again at once. */
        nextAttemptInMs: number;
      }
    | {
        /** A token request failed; callers waiting on it get `error`. */
        type: 'token-request-failed';
        /** What failed; anything else the provider threw arrives wrapped in a `TokenRequestError`. */
        error: AuthError;
        /** Whether asking again later can succeed (see {@link isRetryable}). */
        retryable: boolean;
        /** Time the request took before failing. */
        durationMs: number;
        /** For failures retrying cannot fix: how long callers get this error without a new request. */
        cooldownMs?: number;
      }
    | {
        /** A refresh failed but the current token is still valid: it keeps being served. */
        type: 'token-served-stale';
        /** Short hash of the token still being served. */
        fingerprint: string;
        /** Time left until that token expires. */
        remainingMs: number;
        /** Backoff before the next refresh attempt. */
        nextAttemptInMs: number;
      }
    | {
        /** The current token was dropped, e.g. after a 401; the next caller waits for a new one. */
        type: 'token-invalidated';
        /** Short hash of the dropped token. */
        fingerprint: string;
      }
    | {
        /**
         * A token was refused on its first use, right after it replaced a dropped one (or a 401 came within the backoff
         * step that started): the API may refuse every token (e.g. a key without that API product), so the token is
         * kept until the step ends instead of asking the gateway once per call.
         */
        type: 'token-invalidation-deferred';
        /** Short hash of the token that is kept. */
        fingerprint: string;
        /** Time until a 401 may drop the current token again. */
        nextAttemptInMs: number;
      }
    | {
        /** The store failed; the cache carries on with its own copy and the gateway. */
        type: 'store-error';
        /** The store method that failed. */
        operation: TokenStoreOperation;
        /**
         * What the store threw, as it threw it; or a {@link TokenStoreError} when the call took longer than
         * `storeTimeoutMs` or returned a value that is not a valid token (never quoted).
         */
        error: unknown;
      }
    | {
        /** Another holder had the store's lock; this process waited for its token. */
        type: 'lock-waited';
        /** How long this process waited. */
        waitedMs: number;
        /** Whether the other holder's token arrived in time; if not, this process requested one itself. */
        received: boolean;
        /**
         * `true` when the holder left without a token (it failed, or died and its lock ran out) and this process took
         * the lock, so it asked the gateway while the others went on waiting.
         */
        lockTaken?: true;
      }
  );

/** Receives {@link TokenEvent}s. Exceptions it throws are swallowed: logging must not break auth. */
export type TokenEventListener = (event: TokenEvent) => void;
