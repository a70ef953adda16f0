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
    | { type: 'token-requested'; reason: TokenRequestReason }
    | {
        type: 'token-refreshed';
        /** Where the token came from: the gateway, or a store another process wrote. */
        source: 'provider' | 'store';
        /** Same token, later expiry (i'mport's extension window). */
        extended: boolean;
        /** Short hash of the token, to tell tokens apart in logs. */
        fingerprint: string;
        expiresInMs: number;
        /** Time the request took; 0 for a store hit. */
        durationMs: number;
        /** The provider's non-secret figures, e.g. `clockSkewMs`. */
        diagnostics?: Readonly<Record<string, string | number | boolean>>;
      }
    | {
        /** The gateway returned the current token with the same expiry; the next attempt is scheduled. */
        type: 'token-unchanged';
        fingerprint: string;
        expiresInMs: number;
        durationMs: number;
        nextAttemptInMs: number;
      }
    | {
        type: 'token-request-failed';
        error: unknown;
        retryable: boolean;
        durationMs: number;
        /** For failures retrying cannot fix: how long callers get this error without a new request. */
        cooldownMs?: number;
      }
    | {
        /** A refresh failed but the current token is still valid: it keeps being served. */
        type: 'token-served-stale';
        fingerprint: string;
        remainingMs: number;
        nextAttemptInMs: number;
      }
    | { type: 'token-invalidated'; fingerprint: string }
    | {
        /** The store failed; the cache carries on with its own copy and the gateway. */
        type: 'store-error';
        operation: 'get' | 'set' | 'delete' | 'lock';
        error: unknown;
      }
    | {
        /** Another holder had the store's lock; this process waited for its token. */
        type: 'lock-waited';
        waitedMs: number;
        /** Whether the other holder's token arrived in time; if not, this process requested one itself. */
        received: boolean;
      }
  );

/** Receives {@link TokenEvent}s. Exceptions it throws are swallowed: logging must not break auth. */
export type TokenEventListener = (event: TokenEvent) => void;
