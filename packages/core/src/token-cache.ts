import { type CachePolicy, resolveCachePolicy } from './cache-policy.js';
import { type Clock, systemClock } from './clock.js';
import {
  type AuthError,
  isAuthError,
  isRetryable,
  isTokenRequestError,
  TokenRequestError,
  TokenResponseError,
  TokenStoreError,
  type TokenStoreOperation,
} from './errors.js';
import { fingerprint } from './fingerprint.js';
import type { TokenEvent, TokenEventListener, TokenRequestReason } from './token-events.js';
import { isUsableAccessToken } from './token-http.js';
import type { ProviderToken, TokenProvider } from './token-provider.js';
import {
  checkStoredToken,
  createMemoryTokenStore,
  parseStoredToken,
  type StoredToken,
  serializeToken,
  type TokenStore,
  type TokenStoreLock,
} from './token-store.js';

/** A token ready to put in an `Authorization` header. */
export interface AccessToken {
  /** The token itself: a secret, so never log it; {@link fingerprint} identifies it safely. */
  readonly accessToken: string;
  /** Always `Bearer`: every supported gateway issues bearer tokens. */
  readonly tokenType: 'Bearer';
  /** Epoch milliseconds on the local clock. */
  readonly expiresAt: number;
}

/** Options of {@link TokenCache.getToken}. */
export interface GetTokenOptions {
  /** Aborts this caller's wait only; a shared request others wait on goes on. */
  signal?: AbortSignal | undefined;
  /** Ignore the cached token and wait for a new request's result (joins one already under way). */
  forceRefresh?: boolean | undefined;
}

/** Options of {@link createTokenCache}. */
export interface TokenCacheOptions {
  /** Overrides of the provider's cache policy, field by field. */
  policy?: Partial<CachePolicy> | undefined;
  /** Where tokens are shared. @default a new in-memory store */
  store?: TokenStore | undefined;
  /** The fetch used for token requests. @default globalThis.fetch */
  fetch?: typeof globalThis.fetch | undefined;
  /** Wall and monotonic clocks. @default systemClock */
  clock?: Clock | undefined;
  /** Receives what the cache does; never tokens or secrets. */
  onEvent?: TokenEventListener | undefined;
  /** Source of randomness for jitter, in [0, 1). @default Math.random */
  random?: (() => number) | undefined;
  /**
   * Applied once to each error before callers get it, e.g. to name the merchants (the registry does). Must return
   * an error free of secrets. @default the error as it is
   */
  annotateError?: ((error: unknown) => unknown) | undefined;
}

/** Caches one provider's token: single flight, refresh ahead, stale-while-failing, backoff. */
export interface TokenCache {
  /** The provider whose token this cache holds. */
  readonly provider: TokenProvider;
  /** The current token, or a fresh one when there is none worth handing out. */
  getToken(options?: GetTokenOptions): Promise<AccessToken>;
  /**
   * The token `getToken()` would hand out right now without waiting (starting a background refresh when its window
   * is open), or `undefined` when a caller would have to wait. Synchronous, for code that cannot await.
   */
  peekToken(): AccessToken | undefined;
  /**
   * Drops `accessToken` if it is still the current token (e.g. after a 401), here and in the store, and keeps any
   * process from taking it back. A stale 401 on an older token leaves a newer one alone. Never rejects.
   */
  invalidate(accessToken: string, options?: InvalidateOptions): Promise<void>;
}

/** Options of {@link TokenCache.invalidate}. */
export interface InvalidateOptions {
  /**
   * The token was refused on its first use, right after it replaced a dropped one: the API may refuse every token
   * (a key without that API product). The cache keeps it for a backoff step that grows with each such refusal, and
   * 401s within the step do not drop it, so the refusals cost one token request per step, not one per call.
   * @default false
   */
  refusedOnFirstUse?: boolean | undefined;
}

interface Entry {
  readonly token: AccessToken;
  /** Resolved once, handed to every hit: the hot path allocates nothing. */
  readonly promise: Promise<AccessToken>;
  readonly fingerprint: string;
  /** Monotonic time from which a background refresh may start. */
  readonly refreshAt: number;
  /** Monotonic time from which the token is no longer handed out. */
  readonly staleAt: number;
  /** Monotonic time of expiry. */
  readonly deadline: number;
  /** How long the request that brought it took (0 from a store): latency blurs the expiry a provider computes. */
  readonly requestMs: number;
  /** The token's lifetime as first issued: it caps the refresh-ahead window at half of it. */
  readonly lifetimeMs: number;
}

/** A failure with no token to serve: callers get `error` until `until` instead of starting a new request. */
interface Backoff {
  readonly error: unknown;
  /** Monotonic time from which a new request may start. */
  readonly until: number;
}

/** A token dropped after a 401: never taken back from a store, whichever process writes it there again. */
interface Tombstone {
  /** Monotonic time until which it is kept: the token's expiry, or the longest a request on the wire may take. */
  readonly until: number;
  /** Counts drops, so a request already on the wire at this drop can be told from a later one (clocks can stand still). */
  readonly drop: number;
}

/** Default {@link TokenProvider.expiryResolutionMs}: most gateways state expiries in whole seconds. */
const defaultExpiryResolutionMs = 1_000;
/** Shortest delay between two refresh attempts, unless the policy's backoff ceiling is lower. */
const minimumRetryDelayMs = 100;
/** How often a process waiting on another holder's lock looks in the store. */
const lockPollMs = 50;
/** Tombstones kept per cache at most: a 401 storm must not grow memory. */
const maxTombstones = 16;
/** A store's value under this suffix of the cache key marks a dropped token (by fingerprint) as never to be used. */
const tombstoneSuffix = ':dropped:';

const cacheBrand = Symbol.for('@x/core.token-cache');

/** True when `value` is a {@link TokenCache} made by {@link createTokenCache} (any copy of the package). */
export function isTokenCache(value: unknown): value is TokenCache {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[cacheBrand] === true;
}

/**
 * Creates the token cache for one provider.
 *
 * @example
 * const tokens = createTokenCache(createIamportProvider({ impKey, impSecret }));
 * const { accessToken } = await tokens.getToken();
 *
 * @throws {@link ConfigurationError} when `options.policy` has a bad field (negative, not finite, jitter above 1).
 */
export function createTokenCache(provider: TokenProvider, options: TokenCacheOptions = {}): TokenCache {
  return new ProviderTokenCache(provider, options);
}

type EventBody = DistributiveOmit<TokenEvent, 'provider' | 'cacheKey' | 'time'>;

/**
 * One class rather than a closure per operation: a registry of many merchants holds one small object per cache. It
 * sets no timer that outlives a call, so a cache nobody holds any more is collected with its token at the next GC.
 */
class ProviderTokenCache implements TokenCache {
  readonly provider: TokenProvider;
  readonly #policy: Readonly<CachePolicy>;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #store: TokenStore;
  readonly #fetch: typeof globalThis.fetch;
  readonly #listener: TokenEventListener | undefined;
  readonly #annotateError: ((error: unknown) => unknown) | undefined;
  /** Per process, the refresh window starts a little later at random, so a fleet spreads its refreshes. */
  readonly #aheadFactor: number;

  #current: Entry | undefined;
  #inflight: Promise<Entry> | undefined;
  /** Monotonic time before which no background refresh starts (backoff after a failed or unchanged refresh). */
  #nextAttemptAt = 0;
  #failedAttempts = 0;
  #backoff: Backoff | undefined;
  /** Dropped tokens by fingerprint, and gateway restatements that ended one too soon to hand out. */
  readonly #tombstones = new Map<string, Tombstone>();
  /** Monotonic time before which a 401 does not drop the current token (it was issued in place of a dropped one). */
  #invalidateNotBefore = 0;
  #invalidationStreak = 0;
  #lastInvalidationAt = Number.NEGATIVE_INFINITY;
  #drops = 0;
  #storeFailures = 0;

  constructor(provider: TokenProvider, options: TokenCacheOptions) {
    this.provider = provider;
    this.#policy = sharedPolicy(provider, options.policy);
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#store = options.store ?? createMemoryTokenStore({ clock: this.#clock });
    this.#fetch = options.fetch ?? fetchFromGlobal;
    this.#listener = options.onEvent;
    this.#annotateError = options.annotateError;
    this.#aheadFactor = 1 - this.#policy.refreshAheadJitter * this.#random();
  }

  getToken(options?: GetTokenOptions): Promise<AccessToken> {
    const entry = this.#current;
    if (entry !== undefined && options?.forceRefresh !== true) {
      const servable = this.#servable(entry);
      if (servable !== undefined) return servable.promise;
    }
    const reason: TokenRequestReason =
      options?.forceRefresh === true ? 'forced' : entry !== undefined ? 'expired' : this.#tombstones.size > 0 ? 'invalidated' : 'initial';
    return this.#waitForFresh(options, reason);
  }

  peekToken(): AccessToken | undefined {
    const entry = this.#current;
    return entry === undefined ? undefined : this.#servable(entry)?.token;
  }

  /**
   * `entry` if it may be handed out now, starting a background refresh once its window is open. Decided from the
   * clock at every call, never by a timer: a process frozen between requests (a serverless runtime) must not hand
   * out a token past its time.
   */
  #servable(entry: Entry): Entry | undefined {
    const now = this.#clock.monotonic();
    if (now < entry.refreshAt) return entry;
    if (now >= entry.staleAt) return undefined;
    if (this.#inflight === undefined && now >= this.#nextAttemptAt) void this.#refresh('refresh-ahead');
    return entry;
  }

  async invalidate(accessToken: string, options?: InvalidateOptions): Promise<void> {
    const entry = this.#current;
    if (entry === undefined || entry.token.accessToken !== accessToken) return;
    const now = this.#clock.monotonic();
    if (options?.refusedOnFirstUse === true) this.#invalidateNotBefore = now + this.#invalidationDelay(now);
    if (now < this.#invalidateNotBefore) {
      this.#emit({
        type: 'token-invalidation-deferred',
        fingerprint: entry.fingerprint,
        nextAttemptInMs: Math.round(this.#invalidateNotBefore - now),
      });
      return;
    }
    this.#current = undefined;
    this.#bury(entry.fingerprint, entry.deadline);
    this.#nextAttemptAt = 0;
    this.#emit({ type: 'token-invalidated', fingerprint: entry.fingerprint });
    const remainingMs = Math.ceil(entry.deadline - now);
    // In the store too, so no process takes it back, even if someone writes the old value there again.
    if (remainingMs > 0) void this.#storeCall('set', () => this.#store.set(this.#tombstoneKey(entry.fingerprint), '1', remainingMs));
    const stored = await this.#storeCall('get', () => this.#store.get(this.provider.cacheKey));
    if (stored !== undefined && parseStoredToken(stored, this.#clock.now())?.accessToken === accessToken) {
      await this.#storeCall('delete', () => this.#store.delete(this.provider.cacheKey, stored));
    }
  }

  /**
   * How long a token refused on its first use is kept despite 401s: a backoff step that grows with each such refusal
   * and starts again after a quiet spell, so an API that refuses every fresh token costs one token request per step.
   */
  #invalidationDelay(now: number): number {
    if (now - this.#lastInvalidationAt > 2 * this.#policy.retryMaxDelayMs) this.#invalidationStreak = 0;
    this.#lastInvalidationAt = now;
    const delay = this.#jitteredDelay(this.#invalidationStreak);
    this.#invalidationStreak += 1;
    return delay;
  }

  #bury(tokenFingerprint: string, deadline: number): void {
    const now = this.#clock.monotonic();
    for (const [key, tombstone] of this.#tombstones) {
      if (tombstone.until <= now || this.#tombstones.size >= maxTombstones) this.#tombstones.delete(key);
    }
    this.#drops += 1;
    // At least as long as a request already on the wire may take to bring the dropped token back.
    this.#tombstones.set(tokenFingerprint, { until: Math.max(deadline, now + this.#policy.requestTimeoutMs), drop: this.#drops });
  }

  #buried(tokenFingerprint: string): Tombstone | undefined {
    const tombstone = this.#tombstones.get(tokenFingerprint);
    if (tombstone === undefined || tombstone.until > this.#clock.monotonic()) return tombstone;
    this.#tombstones.delete(tokenFingerprint);
    return undefined;
  }

  #tombstoneKey(tokenFingerprint: string): string {
    return `${this.provider.cacheKey}${tombstoneSuffix}${tokenFingerprint}`;
  }

  #emit(event: EventBody): void {
    const listener = this.#listener;
    if (listener === undefined) return;
    try {
      const result: unknown = listener({
        provider: this.provider.provider,
        cacheKey: this.provider.cacheKey,
        time: this.#clock.now(),
        ...event,
      } as TokenEvent);
      // An async listener's rejection would otherwise surface as an unhandled rejection.
      if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function') (result as PromiseLike<unknown>).then(undefined, noop);
    } catch {
      // A listener that throws must not break authentication.
    }
  }

  #makeEntry(stored: StoredToken, requestMs: number): Entry {
    const policy = this.#policy;
    const remaining = stored.expiresAt - this.#clock.now();
    const deadline = this.#clock.monotonic() + remaining;
    const ahead = Math.min(policy.refreshAheadMs, stored.lifetimeMs / 2) * this.#aheadFactor;
    const token: AccessToken = Object.freeze({
      accessToken: stored.accessToken,
      tokenType: 'Bearer',
      expiresAt: stored.expiresAt,
    });
    return {
      token,
      promise: Promise.resolve(token),
      fingerprint: fingerprint(stored.accessToken),
      // A refresh-ahead window shorter than minValidityMs must not let the hit path hand out a stale token.
      refreshAt: Math.min(deadline - ahead, deadline - policy.minValidityMs),
      staleAt: deadline - policy.minValidityMs,
      deadline,
      requestMs,
      lifetimeMs: stored.lifetimeMs,
    };
  }

  /** Two deadlines of one token closer than this state the same expiry: the gateway's precision plus the latencies. */
  #sameExpiryToleranceMs(a: Entry, b: Entry): number {
    return (this.provider.expiryResolutionMs ?? defaultExpiryResolutionMs) + a.requestMs + b.requestMs;
  }

  /** Full jitter over an exponential ceiling, with a floor: a draw of ~0 would let every call start a request. */
  #jitteredDelay(step: number): number {
    const policy = this.#policy;
    const ceiling = Math.min(policy.retryMaxDelayMs, policy.retryBaseDelayMs * 2 ** step);
    return Math.max(this.#random() * ceiling, Math.min(ceiling, minimumRetryDelayMs));
  }

  /** The next backoff step after a failed or unchanged refresh; a gateway's `Retry-After` (429, 503) lengthens it. */
  #backoffDelay(error?: unknown): number {
    const delay = this.#jitteredDelay(this.#failedAttempts);
    this.#failedAttempts += 1;
    const retryAfter = retryAfterMs(error, this.#clock.now());
    return retryAfter === undefined ? delay : Math.max(delay, Math.min(retryAfter, this.#policy.retryMaxDelayMs));
  }

  /**
   * Calls the store, bounded by `storeTimeoutMs`: a store that fails or never answers is reported and treated as
   * absent. A lock that arrives after its time-out is released at once, so it holds no one up.
   */
  #storeCall<T>(operation: TokenStoreOperation, call: () => Promise<T>): Promise<T | undefined> {
    const timeoutMs = this.#policy.storeTimeoutMs;
    return new Promise<T | undefined>((resolve) => {
      let settled = false;
      const fail = (error: unknown): void => {
        settled = true;
        this.#storeFailures += 1;
        this.#emit({ type: 'store-error', operation, error });
        resolve(undefined);
      };
      const timer = setTimeout(() => {
        if (settled) return;
        fail(
          new TokenStoreError(`Token store ${operation} did not settle within storeTimeoutMs (${timeoutMs} ms)`, {
            provider: this.provider.provider,
            operation,
            reason: 'timeout',
          }),
        );
      }, timeoutMs);
      let promise: Promise<T>;
      try {
        promise = Promise.resolve(call());
      } catch (error) {
        promise = Promise.reject(error);
      }
      promise.then(
        (value) => {
          clearTimeout(timer);
          if (!settled) {
            settled = true;
            resolve(value);
          } else if (operation === 'lock') {
            (value as TokenStoreLock | undefined)?.release().catch(noop);
          }
        },
        (error: unknown) => {
          clearTimeout(timer);
          if (!settled) fail(error);
        },
      );
    });
  }

  /** A token from the store that is better than what we hold, or `undefined`. */
  async #readStore(): Promise<Entry | undefined> {
    const value = await this.#storeCall('get', () => this.#store.get(this.provider.cacheKey));
    if (value === undefined) return undefined;
    const stored = typeof value === 'string' ? checkStoredToken(value, this.#clock.now()) : 'not a string';
    if (typeof stored === 'string') {
      const error = new TokenStoreError(`The store's value is not a valid token (${stored}); ignored`, {
        provider: this.provider.provider,
        operation: 'get',
        reason: 'invalid-value',
      });
      this.#emit({ type: 'store-error', operation: 'get', error });
      return undefined;
    }
    const tokenFingerprint = fingerprint(stored.accessToken);
    if (this.#buried(tokenFingerprint) !== undefined) return undefined;
    const entry = this.#makeEntry(stored, 0);
    const current = this.#current;
    // Compared as the wall-clock expiries both were written with: a wall clock that jumped since reads them alike.
    if (current !== undefined && stored.expiresAt <= current.token.expiresAt + this.#sameExpiryToleranceMs(current, entry))
      return undefined;
    if (this.#clock.monotonic() >= entry.refreshAt) return undefined;
    // Another process dropped it after a 401: someone wrote it back, or the drop raced its publication.
    const dropped = await this.#storeCall('get', () => this.#store.get(this.#tombstoneKey(tokenFingerprint)));
    if (dropped !== undefined) {
      this.#bury(tokenFingerprint, entry.deadline);
      return undefined;
    }
    return entry;
  }

  #adopt(entry: Entry, source: 'provider' | 'store', diagnostics?: ProviderToken['diagnostics']): Entry {
    const current = this.#current;
    const extended = current !== undefined && current.token.accessToken === entry.token.accessToken && entry.deadline > current.deadline;
    this.#current = entry;
    this.#nextAttemptAt = 0;
    this.#failedAttempts = 0;
    this.#backoff = undefined;
    this.#emit({
      type: 'token-refreshed',
      source,
      extended,
      fingerprint: entry.fingerprint,
      expiresInMs: Math.round(entry.deadline - this.#clock.monotonic()),
      durationMs: entry.requestMs,
      ...(diagnostics === undefined ? {} : { diagnostics }),
    });
    return entry;
  }

  async #requestFromProvider(reason: TokenRequestReason): Promise<Entry> {
    const { provider } = this;
    const clock = this.#clock;
    const policy = this.#policy;
    this.#emit({ type: 'token-requested', reason });
    const started = clock.monotonic();
    const dropsBefore = this.#drops;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), policy.requestTimeoutMs);
    timer.unref?.();
    let result: ProviderToken;
    try {
      // Raced against the timeout so a provider that ignores the signal cannot hold every caller forever.
      result = await Promise.race([
        provider.requestToken({ signal: controller.signal, fetch: this.#fetch, now: clock.now }),
        rejectOnAbort(controller.signal),
      ]);
      validateToken(provider.provider, result);
    } catch (error) {
      const failure = controller.signal.aborted
        ? new TokenRequestError(`Token request timed out after ${policy.requestTimeoutMs} ms`, {
            provider: provider.provider,
            reason: 'timeout',
            retryable: true,
            cause: error,
          })
        : toAuthError(provider.provider, error);
      this.#emit({
        type: 'token-request-failed',
        error: failure,
        retryable: isRetryable(failure),
        durationMs: Math.round(clock.monotonic() - started),
        ...(isRetryable(failure) ? {} : { cooldownMs: policy.failureCooldownMs }),
      });
      throw failure;
    } finally {
      clearTimeout(timer);
    }
    const tokenFingerprint = fingerprint(result.accessToken);
    const tombstone = this.#buried(tokenFingerprint);
    if (tombstone !== undefined && tombstone.drop > dropsBefore) {
      // The gateway chose this answer before the token was dropped (a 401 came back while the request was on the
      // wire): ask once more, so the callers who dropped it do not retry with it. A request started after the drop
      // is believed, even if it brings the same token back.
      return this.#requestFromProvider('invalidated');
    }
    const current = this.#current;
    const sameToken = current !== undefined && current.token.accessToken === result.accessToken;
    // A restated token keeps the lifetime it was issued with: an extension or a cut does not make it a short-lived one.
    const remainingMs = result.expiresAt - clock.now();
    const lifetimeMs = sameToken ? Math.max(current.lifetimeMs, remainingMs) : remainingMs;
    const entry = this.#makeEntry(
      { accessToken: result.accessToken, expiresAt: result.expiresAt, lifetimeMs },
      Math.round(clock.monotonic() - started),
    );
    if (sameToken && Math.abs(entry.deadline - current.deadline) < this.#sameExpiryToleranceMs(current, entry)) {
      // i'mport answers "same token, same expiry" outside its extension window: not an error, not a reason to ask
      // again at once. Compared on the monotonic clock: after a wall-clock jump the same expiry reads differently.
      const nextAttemptInMs = this.#backoffDelay();
      this.#nextAttemptAt = clock.monotonic() + nextAttemptInMs;
      this.#emit({
        type: 'token-unchanged',
        fingerprint: current.fingerprint,
        expiresInMs: Math.round(current.deadline - clock.monotonic()),
        durationMs: entry.requestMs,
        nextAttemptInMs: Math.round(nextAttemptInMs),
      });
      return current;
    }
    if (clock.monotonic() >= entry.staleAt) {
      // The gateway says the token we hold ends sooner than we thought: stop handing it out (an earlier expiry that
      // leaves enough life is simply adopted below), and never take it back from the store.
      if (sameToken) {
        this.#current = undefined;
        // Until the held expiry, not the restated one: the store keeps its copy that long.
        this.#bury(tokenFingerprint, Math.max(entry.deadline, current.deadline));
      }
      throw new TokenResponseError(
        `The token expires in ${Math.round(entry.deadline - clock.monotonic())} ms, less than minValidityMs (${policy.minValidityMs} ms)`,
        { provider: provider.provider, field: 'expiresAt' },
      );
    }
    if (tombstone !== undefined) {
      // Asked for after the drop and still good: the gateway stands by it, so it may be shared again.
      this.#tombstones.delete(tokenFingerprint);
      void this.#storeCall('delete', () => this.#store.delete(this.#tombstoneKey(tokenFingerprint)));
    }
    this.#adopt(entry, 'provider', result.diagnostics);
    const value = serializeToken({ accessToken: result.accessToken, expiresAt: result.expiresAt, lifetimeMs });
    // Not awaited: callers have their token; a slow store must not hold them up.
    void this.#storeCall('set', () => this.#store.set(provider.cacheKey, value, Math.max(1, result.expiresAt - clock.now())));
    return entry;
  }

  /** Waits, bounded, for the lock holder's token to reach the store. */
  async #waitForHolder(): Promise<Entry | undefined> {
    const clock = this.#clock;
    const { lockWaitMs } = this.#policy;
    const started = clock.monotonic();
    // Bounded twice: by the clock, and by the number of polls, so an injected clock that stands still cannot hang it.
    const polls = Math.ceil(lockWaitMs / lockPollMs);
    for (let poll = 0; poll < polls && clock.monotonic() - started < lockWaitMs; poll += 1) {
      await delay(lockPollMs);
      const failuresBefore = this.#storeFailures;
      const entry = await this.#readStore();
      if (entry !== undefined) {
        this.#emit({ type: 'lock-waited', waitedMs: Math.round(clock.monotonic() - started), received: true });
        return entry;
      }
      // A store that fails now cannot bring the holder's token: ask the gateway rather than wait out lockWaitMs.
      if (this.#storeFailures !== failuresBefore) break;
    }
    this.#emit({ type: 'lock-waited', waitedMs: Math.round(clock.monotonic() - started), received: false });
    return undefined;
  }

  async #obtain(reason: TokenRequestReason): Promise<Entry> {
    const store = this.#store;
    const failuresBefore = this.#storeFailures;
    const fromStore = reason === 'forced' ? undefined : await this.#readStore();
    if (fromStore !== undefined) return this.#adopt(fromStore, 'store');
    // A store that fails or hangs holds no lock worth taking: each more call would only hold callers up again.
    if (store.lock === undefined || this.#storeFailures !== failuresBefore) return this.#requestFromProvider(reason);
    const lock = await this.#storeCall('lock', () =>
      store.lock!(this.provider.cacheKey, this.#policy.requestTimeoutMs + this.#policy.lockWaitMs),
    );
    // A broken store holds no lock anyone could be waiting on: waiting lockWaitMs would only delay every caller.
    if (this.#storeFailures !== failuresBefore) return this.#requestFromProvider(reason);
    if (lock === undefined) {
      const fromHolder = await this.#waitForHolder();
      if (fromHolder !== undefined) return this.#adopt(fromHolder, 'store');
      return this.#requestFromProvider(reason);
    }
    try {
      // Another holder may have stored a token between our read and our lock.
      const stored = reason === 'forced' ? undefined : await this.#readStore();
      return stored === undefined ? await this.#requestFromProvider(reason) : this.#adopt(stored, 'store');
    } finally {
      // Not awaited: the token is stored (or not); the release must not hold callers up.
      void this.#storeCall('release', () => lock.release());
    }
  }

  #refresh(reason: TokenRequestReason): Promise<Entry> {
    if (this.#inflight !== undefined) return this.#inflight;
    const attempt = this.#obtain(reason).then(
      (entry) => {
        this.#inflight = undefined;
        return entry;
      },
      (error: unknown) => {
        this.#inflight = undefined;
        const now = this.#clock.monotonic();
        const current = this.#current;
        const annotated = this.#annotate(error);
        if (current !== undefined && now < current.staleAt) {
          const nextAttemptInMs = this.#backoffDelay(error);
          this.#nextAttemptAt = now + nextAttemptInMs;
          this.#emit({
            type: 'token-served-stale',
            fingerprint: current.fingerprint,
            remainingMs: Math.round(current.deadline - now),
            nextAttemptInMs: Math.round(nextAttemptInMs),
          });
          throw annotated;
        }
        // No token to serve: later callers share this error until the backoff (or the cool-down of a rejection) ends.
        const waitMs = isRetryable(error) ? this.#backoffDelay(error) : this.#policy.failureCooldownMs;
        this.#backoff = { error: annotated, until: now + waitMs };
        throw annotated;
      },
    );
    this.#inflight = attempt;
    // Background refreshes have no caller: their failures are handled above, never unhandled.
    attempt.catch(noop);
    return attempt;
  }

  async #waitForFresh(options: GetTokenOptions | undefined, reason: TokenRequestReason): Promise<AccessToken> {
    const signal = options?.signal;
    const backoff = this.#backoff;
    // After a failure with no token to serve, callers share its error until the backoff ends: a storm of calls against
    // a failing token endpoint costs one request per backoff step, not one per call.
    if (backoff !== undefined && options?.forceRefresh !== true && this.#clock.monotonic() < backoff.until) throw backoff.error;
    const entry = await abortable(this.#refresh(reason), signal);
    const now = this.#clock.monotonic();
    if (now >= entry.staleAt) {
      const leftMs = Math.round(entry.deadline - now);
      throw this.#annotate(
        new TokenResponseError(
          `The gateway returned a token that expires in ${leftMs} ms, less than minValidityMs (${this.#policy.minValidityMs} ms)`,
          {
            provider: this.provider.provider,
            field: 'expiresAt',
          },
        ),
      );
    }
    return entry.token;
  }

  #annotate(error: unknown): unknown {
    if (this.#annotateError === undefined) return error;
    try {
      return this.#annotateError(error);
    } catch {
      return error;
    }
  }
}

Object.defineProperty(ProviderTokenCache.prototype, cacheBrand, { value: true });

/** Resolved policies by (provider tuning, user options): a registry's thousands of caches share one object. */
const resolvedPolicies = new WeakMap<object, WeakMap<object, Readonly<CachePolicy>>>();
const noPolicy = {};

function sharedPolicy(provider: TokenProvider, overrides: Partial<CachePolicy> | undefined): Readonly<CachePolicy> {
  const tuning = provider.cachePolicy ?? noPolicy;
  let byOverrides = resolvedPolicies.get(tuning);
  if (byOverrides === undefined) {
    byOverrides = new WeakMap();
    resolvedPolicies.set(tuning, byOverrides);
  }
  let policy = byOverrides.get(overrides ?? noPolicy);
  if (policy === undefined) {
    policy = resolveCachePolicy(provider.provider, provider.cachePolicy, overrides);
    byOverrides.set(overrides ?? noPolicy, policy);
  }
  return policy;
}

function fetchFromGlobal(input: Parameters<typeof globalThis.fetch>[0], init?: RequestInit): Promise<Response> {
  return globalThis.fetch(input, init);
}

function validateToken(provider: string, token: ProviderToken): void {
  if (typeof token?.accessToken !== 'string' || token.accessToken === '') {
    throw new TokenResponseError('The provider returned no access token', { provider, field: 'accessToken' });
  }
  // A third-party provider may not parse with accessTokenSchema: a token that cannot go into a header would
  // otherwise fail the first API call with fetch's TypeError.
  if (!isUsableAccessToken(token.accessToken)) {
    throw new TokenResponseError('The provider returned an access token that is not visible ASCII', { provider, field: 'accessToken' });
  }
  if (typeof token.expiresAt !== 'number' || !Number.isFinite(token.expiresAt)) {
    throw new TokenResponseError('The provider returned no valid expiry', { provider, field: 'expiresAt' });
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
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function toAuthError(provider: string, error: unknown): AuthError {
  if (isAuthError(error)) return error;
  return new TokenRequestError(`Token request failed: ${error instanceof Error ? error.message : String(error)}`, {
    provider,
    reason: 'network',
    retryable: true,
    cause: error,
  });
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function rejectOnAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

function delay(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

function noop(): void {}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
