import { type CachePolicy, resolveCachePolicy } from './cache-policy.js';
import { type Clock, systemClock } from './clock.js';
import { isAuthError, isRetryable, TokenRequestError, TokenResponseError } from './errors.js';
import { fingerprint } from './fingerprint.js';
import type { TokenEvent, TokenEventListener, TokenRequestReason } from './token-events.js';
import { isUsableAccessToken } from './token-http.js';
import type { ProviderToken, TokenProvider } from './token-provider.js';
import {
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
   * Drops `accessToken` if it is still the current token (e.g. after a 401), here and in the store. A stale 401 on
   * an older token leaves a newer one alone. Never rejects.
   */
  invalidate(accessToken: string): Promise<void>;
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
}

/** Two expiries closer than this count as "unchanged" (response latency and whole-second clocks). */
const unchangedToleranceMs = 5_000;
/** Shortest delay between two refresh attempts, unless the policy's backoff ceiling is lower. */
const minimumRetryDelayMs = 100;
/** How often a process waiting on another holder's lock looks in the store. */
const lockPollMs = 50;
/** Node's longest timer; a longer delay fires after 1 ms with a `TimeoutOverflowWarning`. */
const maxTimerDelayMs = 2_147_483_647;

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
 * One class rather than a closure per operation: a registry of many merchants holds one small object per cache.
 * With the system clock, a timer marks the end of a token's fresh period, so the hit path reads no clock at all.
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
  /** The current entry while it is fresh, cleared by a timer: lets the hit path skip the clock (system clock only). */
  #fresh: Entry | undefined;
  #freshTimer: ReturnType<typeof setTimeout> | undefined;
  #inflight: Promise<Entry> | undefined;
  /** Monotonic time before which no background refresh starts (backoff after a failed or unchanged refresh). */
  #nextAttemptAt = 0;
  #failedAttempts = 0;
  #cooldown: { error: unknown; until: number } | undefined;
  /**
   * The last token invalidated here, or restated by the gateway as ending too soon to hand out: never taken back from
   * the store, whose delete may still be under way (or which still holds the old expiry).
   */
  #invalidated: string | undefined;
  /** Counts invalidations, so a token request can tell whether one happened while it was on the wire. */
  #invalidations = 0;
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
    const fresh = this.#fresh;
    if (fresh !== undefined && options?.forceRefresh !== true) return fresh.promise;
    const entry = this.#current;
    if (entry !== undefined && options?.forceRefresh !== true) {
      const servable = this.#servable(entry);
      if (servable !== undefined) return servable.promise;
    }
    const reason: TokenRequestReason =
      options?.forceRefresh === true
        ? 'forced'
        : entry !== undefined
          ? 'expired'
          : this.#invalidated !== undefined
            ? 'invalidated'
            : 'initial';
    return this.#waitForFresh(options, reason);
  }

  peekToken(): AccessToken | undefined {
    const fresh = this.#fresh;
    if (fresh !== undefined) return fresh.token;
    const entry = this.#current;
    return entry === undefined ? undefined : this.#servable(entry)?.token;
  }

  /** `entry` if it may be handed out now, starting a background refresh once its window is open. */
  #servable(entry: Entry): Entry | undefined {
    const now = this.#clock.monotonic();
    if (now < entry.refreshAt) return entry;
    if (now >= entry.staleAt) return undefined;
    if (this.#inflight === undefined && now >= this.#nextAttemptAt) void this.#refresh('refresh-ahead');
    return entry;
  }

  async invalidate(accessToken: string): Promise<void> {
    const entry = this.#current;
    if (entry === undefined || entry.token.accessToken !== accessToken) return;
    this.#setCurrent(undefined);
    this.#invalidated = accessToken;
    this.#invalidations += 1;
    this.#nextAttemptAt = 0;
    this.#emit({ type: 'token-invalidated', fingerprint: entry.fingerprint });
    const stored = await this.#storeCall('get', () => this.#store.get(this.provider.cacheKey));
    if (parseStoredToken(stored)?.accessToken === accessToken) {
      await this.#storeCall('delete', () => this.#store.delete(this.provider.cacheKey, stored));
    }
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

  #setCurrent(entry: Entry | undefined): void {
    this.#current = entry;
    this.#fresh = undefined;
    if (this.#freshTimer !== undefined) clearTimeout(this.#freshTimer);
    this.#freshTimer = undefined;
    if (entry === undefined || this.#clock !== systemClock) return;
    const freshForMs = entry.refreshAt - this.#clock.monotonic();
    if (freshForMs <= 0) return;
    this.#fresh = entry;
    // A weak reference: a pending timer must not keep a cache nobody uses alive until its token's refresh time.
    const cache = new WeakRef(this);
    // A token fresh for longer than a timer can wait (about 24.8 days) leaves the fast path early, which is harmless.
    const delayMs = Math.min(freshForMs, maxTimerDelayMs);
    this.#freshTimer = setTimeout(() => {
      const self = cache.deref();
      if (self !== undefined && self.#fresh === entry) {
        self.#fresh = undefined;
        self.#freshTimer = undefined;
      }
    }, delayMs);
    this.#freshTimer.unref?.();
  }

  #makeEntry(stored: StoredToken): Entry {
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
    };
  }

  #backoffDelay(): number {
    const policy = this.#policy;
    const ceiling = Math.min(policy.retryMaxDelayMs, policy.retryBaseDelayMs * 2 ** this.#failedAttempts);
    this.#failedAttempts += 1;
    // Full jitter can draw ~0; without a floor every call in the refresh window would start another request.
    return Math.max(this.#random() * ceiling, Math.min(ceiling, minimumRetryDelayMs));
  }

  async #storeCall<T>(operation: 'get' | 'set' | 'delete' | 'lock', call: () => Promise<T>): Promise<T | undefined> {
    try {
      return await call();
    } catch (error) {
      this.#storeFailures += 1;
      this.#emit({ type: 'store-error', operation, error });
      return undefined;
    }
  }

  /** A token from the store that is better than what we hold, or `undefined`. */
  async #readStore(): Promise<Entry | undefined> {
    const stored = parseStoredToken(await this.#storeCall('get', () => this.#store.get(this.provider.cacheKey)));
    if (stored === undefined || stored.accessToken === this.#invalidated) return undefined;
    const current = this.#current;
    if (current !== undefined && stored.expiresAt <= current.token.expiresAt + unchangedToleranceMs) return undefined;
    const entry = this.#makeEntry(stored);
    return this.#clock.monotonic() < entry.refreshAt ? entry : undefined;
  }

  #adopt(entry: Entry, source: 'provider' | 'store', durationMs: number, diagnostics?: ProviderToken['diagnostics']): Entry {
    const current = this.#current;
    const extended = current !== undefined && current.token.accessToken === entry.token.accessToken && entry.deadline > current.deadline;
    this.#setCurrent(entry);
    this.#invalidated = undefined;
    this.#nextAttemptAt = 0;
    this.#failedAttempts = 0;
    this.#cooldown = undefined;
    this.#emit({
      type: 'token-refreshed',
      source,
      extended,
      fingerprint: entry.fingerprint,
      expiresInMs: Math.round(entry.deadline - this.#clock.monotonic()),
      durationMs,
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
    const invalidationsBefore = this.#invalidations;
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
    if (result.accessToken === this.#invalidated && this.#invalidations !== invalidationsBefore) {
      // The gateway chose this answer before the token was invalidated (a 401 came back while the request was on the
      // wire): ask once more, so the callers who invalidated it do not retry with it. A request started after the
      // invalidation is believed, even if it brings the same token back.
      return this.#requestFromProvider('invalidated');
    }
    const durationMs = Math.round(clock.monotonic() - started);
    const lifetimeMs = result.expiresAt - clock.now();
    const entry = this.#makeEntry({ accessToken: result.accessToken, expiresAt: result.expiresAt, lifetimeMs });
    const current = this.#current;
    const sameToken = current !== undefined && current.token.accessToken === result.accessToken;
    if (sameToken && Math.abs(entry.deadline - current.deadline) < unchangedToleranceMs) {
      // i'mport answers "same token, same expiry" outside its extension window: not an error, not a reason to ask
      // again at once. Compared on the monotonic clock: after a wall-clock jump the same expiry reads differently.
      const nextAttemptInMs = this.#backoffDelay();
      this.#nextAttemptAt = clock.monotonic() + nextAttemptInMs;
      this.#emit({
        type: 'token-unchanged',
        fingerprint: current.fingerprint,
        expiresInMs: Math.round(current.deadline - clock.monotonic()),
        durationMs,
        nextAttemptInMs: Math.round(nextAttemptInMs),
      });
      return current;
    }
    if (clock.monotonic() >= entry.staleAt) {
      // The gateway says the token we hold ends sooner than we thought: stop handing it out (an earlier expiry that
      // leaves enough life is simply adopted below), and never take it back from the store.
      if (sameToken) {
        this.#setCurrent(undefined);
        this.#invalidated = result.accessToken;
      }
      throw new TokenResponseError(
        `The token expires in ${Math.round(entry.deadline - clock.monotonic())} ms, less than minValidityMs (${policy.minValidityMs} ms)`,
        { provider: provider.provider, field: 'expiresAt' },
      );
    }
    this.#adopt(entry, 'provider', durationMs, result.diagnostics);
    const value = serializeToken({ accessToken: result.accessToken, expiresAt: result.expiresAt, lifetimeMs });
    await this.#storeCall('set', () => this.#store.set(provider.cacheKey, value, Math.max(1, result.expiresAt - clock.now())));
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
    const fromStore = reason === 'forced' ? undefined : await this.#readStore();
    if (fromStore !== undefined) return this.#adopt(fromStore, 'store', 0);
    if (store.lock === undefined) return this.#requestFromProvider(reason);
    let lock: TokenStoreLock | undefined;
    try {
      lock = await store.lock(this.provider.cacheKey, this.#policy.requestTimeoutMs + this.#policy.lockWaitMs);
    } catch (error) {
      // A broken store holds no lock anyone could be waiting on: waiting lockWaitMs would only delay every caller.
      this.#emit({ type: 'store-error', operation: 'lock', error });
      return this.#requestFromProvider(reason);
    }
    if (lock === undefined) {
      const fromHolder = await this.#waitForHolder();
      if (fromHolder !== undefined) return this.#adopt(fromHolder, 'store', 0);
      return this.#requestFromProvider(reason);
    }
    try {
      // Another holder may have stored a token between our read and our lock.
      const stored = reason === 'forced' ? undefined : await this.#readStore();
      return stored === undefined ? await this.#requestFromProvider(reason) : this.#adopt(stored, 'store', 0);
    } finally {
      await this.#storeCall('lock', () => lock.release());
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
        if (current !== undefined && now < current.staleAt) {
          const nextAttemptInMs = this.#backoffDelay();
          this.#nextAttemptAt = now + nextAttemptInMs;
          this.#emit({
            type: 'token-served-stale',
            fingerprint: current.fingerprint,
            remainingMs: Math.round(current.deadline - now),
            nextAttemptInMs: Math.round(nextAttemptInMs),
          });
          throw this.#annotate(error);
        }
        const annotated = this.#annotate(error);
        if (!isRetryable(error)) this.#cooldown = { error: annotated, until: now + this.#policy.failureCooldownMs };
        throw annotated;
      },
    );
    this.#inflight = attempt;
    // Background refreshes have no caller: their failures are handled above, never unhandled.
    attempt.catch(noop);
    return attempt;
  }

  async #waitForFresh(options: GetTokenOptions | undefined, reason: TokenRequestReason): Promise<AccessToken> {
    const cooldown = this.#cooldown;
    if (cooldown !== undefined && this.#clock.monotonic() < cooldown.until && options?.forceRefresh !== true) throw cooldown.error;
    const entry = await abortable(this.#refresh(reason), options?.signal);
    if (this.#clock.monotonic() >= entry.staleAt) {
      throw this.#annotate(
        new TokenResponseError('The gateway returned a token that is about to expire', {
          provider: this.provider.provider,
          field: 'expiresAt',
        }),
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

function toAuthError(provider: string, error: unknown): unknown {
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
