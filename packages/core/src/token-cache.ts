import { type CachePolicy, resolveCachePolicy } from './cache-policy.js';
import { type Clock, systemClock } from './clock.js';
import { frozen, publishTokenEvent, type TokenRequestMessage, tokenEventsObserved, traceTokenRequest } from './diagnostics.js';
import { type AuthError, isAuthError, isRetryable, nameMerchants, TokenRequestError, TokenResponseError } from './errors.js';
import { fingerprint } from './fingerprint.js';
import { TokenBackoff } from './token-backoff.js';
import { type FailureRecord, recordFailure, type TokenCacheHealth, type TokenCacheState } from './token-cache-health.js';
import type { TokenEvent, TokenEventListener, TokenRequestReason } from './token-events.js';
import { isUsableAccessToken, isUsableState } from './token-http.js';
import type { ProviderToken, TokenProvider } from './token-provider.js';
import { createMemoryTokenStore, type StoredToken, serializeToken, type TokenStore, type TokenStoreLock } from './token-store.js';
import { lockPollMs, StoreExchange } from './token-store-exchange.js';

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
   * The merchants whose token this is (a registry's cache: the merchants sharing one credential), read when an error
   * is handed out: the cache's errors, and those of a fetch or interceptor over it, name them.
   * @default none
   */
  merchants?: (() => readonly string[]) | undefined;
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
  /**
   * Where the cache stands now (`cold`, `fresh`, `refreshing`, `serving-stale`, `failing`, `cooling-down`), the time
   * its token has left, and the last failure's error code: read from the cache's state and clock, for health checks
   * and dashboards. Synchronous, starts nothing, and never returns a token or a secret.
   */
  health(): TokenCacheHealth;
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

/** A token the cache holds, with the monotonic times that decide its phase. */
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
  /** The provider state issued with it (a refresh token), handed back on the request after adopting it from a store. */
  readonly state: string | undefined;
}

/**
 * Where a token stands: `fresh` (handed out), `refresh-ahead` (handed out while one background refresh runs) or
 * `stale` (never handed out: callers wait for a new one).
 */
type Phase = 'fresh' | 'refresh-ahead' | 'stale';

function phaseOf(entry: Entry, now: number): Phase {
  if (now < entry.refreshAt) return 'fresh';
  return now < entry.staleAt ? 'refresh-ahead' : 'stale';
}

/** A failure with no token to serve: callers get `error` until `until` instead of starting a new request. */
interface Backoff {
  readonly error: unknown;
  /** Monotonic time from which a new request may start. */
  readonly until: number;
}

/** What one token request gave. */
type Answer =
  | { readonly kind: 'token'; readonly token: ProviderToken; readonly requestMs: number }
  | { readonly kind: 'failed'; readonly error: AuthError };

/** What the cache makes of a token the gateway answered with. */
type Verdict =
  /** The answer was chosen before the token was dropped after a 401 (the request was on the wire): ask again. */
  | { readonly kind: 'ask-again' }
  /** The held token with the same expiry (i'mport before its extension window): keep it, try again later. */
  | { readonly kind: 'unchanged'; readonly held: Entry; readonly requestMs: number }
  /** Less life left than `minValidityMs`: refused (and, when it restates the held token, the held one dropped). */
  | { readonly kind: 'too-short'; readonly entry: Entry; readonly restatesHeld: boolean }
  /** A new token, or the held one with a new expiry. */
  | { readonly kind: 'adopt'; readonly entry: Entry; readonly stored: StoredToken; readonly wasBuried: boolean };

/** What the store had: a token to adopt, nothing better than what is held, or a failure (reported). */
type StoreOffer = { readonly kind: 'entry'; readonly entry: Entry } | { readonly kind: 'none' } | { readonly kind: 'failed' };

/** Default {@link TokenProvider.expiryResolutionMs}: most gateways state expiries in whole seconds. */
const defaultExpiryResolutionMs = 1_000;
/** What waiting for another holder gave: its token, the lock it left free, or nothing in time. */
type Waited =
  | { readonly kind: 'entry'; readonly entry: Entry }
  | { readonly kind: 'lock'; readonly lock: TokenStoreLock }
  | { readonly kind: 'none' };

const cacheBrand = Symbol.for('@x/core.token-cache');
const merchantsKey = Symbol.for('@x/core.token-cache-merchants');

/** Names, in place, the merchants of `cache` (its `merchants` option) on `error`, as the cache names them on its own. */
export function nameMerchantsOf(cache: TokenCache, error: unknown): unknown {
  const merchants = (cache as unknown as Record<symbol, unknown>)[merchantsKey];
  if (typeof merchants === 'function') nameMerchants(error, (merchants as () => readonly string[])());
  return error;
}

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
 * @throws {@link ConfigurationError} when `options.policy` has a bad field (negative, not finite, a duration over
 * 2^31−1 ms, jitter above 1).
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
  readonly #fetch: typeof globalThis.fetch;
  readonly #listener: TokenEventListener | undefined;
  readonly #merchants: (() => readonly string[]) | undefined;
  readonly #exchange: StoreExchange;
  readonly #backoff: TokenBackoff;
  /** Per process, the refresh window starts a little later at random, so a fleet spreads its refreshes. */
  readonly #aheadFactor: number;

  #current: Entry | undefined;
  #inflight: { readonly promise: Promise<Entry>; readonly startedAt: number } | undefined;
  /** Monotonic time before which no background refresh starts (after a failed or unchanged refresh). */
  #nextAttemptAt = 0;
  /** Set after a failure with no token to serve: callers share its error until it ends. */
  #failure: Backoff | undefined;
  /** A token refused on its first use, kept despite 401s until the monotonic time `until`. */
  #kept: { readonly fingerprint: string; readonly until: number } | undefined;
  /**
   * The provider state to hand back on the next request (a rotating refresh token): the last answer's, the one of a
   * token adopted from the store, or the one the store holds apart (read just before asking, under the lock when there
   * is one), which another process may have left after spending ours.
   */
  #state: string | undefined;
  /** Whether this provider has ever given a state: only then is the store's asked for before each request. */
  #stateful = false;
  /** The last failed request since the last token, for {@link TokenCache.health}: summarised, the error not kept. */
  #lastFailure: FailureRecord | undefined;

  constructor(provider: TokenProvider, options: TokenCacheOptions) {
    this.provider = provider;
    this.#policy = sharedPolicy(provider, options.policy);
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#fetch = options.fetch ?? fetchFromGlobal;
    this.#listener = options.onEvent;
    this.#merchants = options.merchants;
    // Under a Symbol.for key, so the copy of this module bundled into @x/core/undici finds it too.
    if (options.merchants !== undefined) Object.defineProperty(this, merchantsKey, { value: options.merchants });
    this.#exchange = new StoreExchange({
      store: options.store ?? createMemoryTokenStore({ clock: this.#clock }),
      provider: provider.provider,
      cacheKey: provider.cacheKey,
      clock: this.#clock,
      timeoutMs: this.#policy.storeTimeoutMs,
      report: (operation, error) => this.#emit({ type: 'store-error', operation, error }),
    });
    this.#backoff = new TokenBackoff(this.#policy, this.#random);
    this.#aheadFactor = 1 - this.#policy.refreshAheadJitter * this.#random();
  }

  /*
   * The rules, read from the clock at every call (never left to a timer: a process frozen between requests must not
   * hand out a token past its time):
   * - fresh: hand the token out at once.
   * - refresh-ahead: hand it out at once, and start one background refresh unless one runs or the backoff says wait.
   * - stale, or no token: callers wait for a refresh; one request at a time, all waiters share its result. After a
   *   failure, callers share its error until a backoff step (or a rejection's cool-down) ends.
   * - A refresh takes a better token from the store if there is one, else the store's lock, else asks the gateway.
   * - A failed refresh with the token still servable: keep serving it, try again after a backoff step.
   * - A token dropped after a 401 is buried: never taken back from a store, here or in any other process.
   */
  getToken(options?: GetTokenOptions): Promise<AccessToken> {
    const entry = this.#current;
    if (entry !== undefined && options?.forceRefresh !== true) {
      // The hot path: a fresh token, one clock read.
      if (this.#clock.monotonic() < entry.refreshAt) return entry.promise;
      const servable = this.#servable(entry);
      if (servable !== undefined) return servable.promise;
    }
    return this.#waitForFresh(options, this.#reasonToAsk(entry, options));
  }

  peekToken(): AccessToken | undefined {
    const entry = this.#current;
    return entry === undefined ? undefined : this.#servable(entry)?.token;
  }

  async invalidate(accessToken: string, options?: InvalidateOptions): Promise<void> {
    const entry = this.#current;
    if (entry === undefined || entry.token.accessToken !== accessToken) return;
    const now = this.#clock.monotonic();
    if (options?.refusedOnFirstUse === true) this.#kept = { fingerprint: entry.fingerprint, until: now + this.#backoff.afterRefusal(now) };
    const kept = this.#kept;
    if (kept !== undefined && kept.fingerprint === entry.fingerprint && now < kept.until) {
      this.#emit({ type: 'token-invalidation-deferred', fingerprint: entry.fingerprint, nextAttemptInMs: Math.round(kept.until - now) });
      return;
    }
    this.#current = undefined;
    this.#exchange.bury(entry.fingerprint, entry.deadline, this.#policy.requestTimeoutMs);
    this.#nextAttemptAt = 0;
    this.#emit({ type: 'token-invalidated', fingerprint: entry.fingerprint });
    // In the store too, so no process takes it back, even if someone writes the old value there again.
    await this.#exchange.forget(accessToken, entry.fingerprint, Math.ceil(entry.deadline - now));
  }

  /*
   * Read from the fields the rules above keep, never changing them: a token that may be handed out is `fresh`,
   * `refreshing` or, when a refresh failed since it came, `serving-stale`; without one, a failure since the last token
   * makes the cache `failing` (retryable) or `cooling-down` (rejected), and no failure leaves it `cold`.
   */
  health(): TokenCacheHealth {
    const now = this.#clock.monotonic();
    const entry = this.#current;
    const failure = this.#lastFailure;
    const inflight = this.#inflight;
    const requesting = inflight !== undefined && now - inflight.startedAt < this.#abandonedAfterMs();
    const servable = entry !== undefined && phaseOf(entry, now) !== 'stale' ? entry : undefined;
    let state: TokenCacheState;
    if (servable !== undefined) state = failure !== undefined ? 'serving-stale' : requesting ? 'refreshing' : 'fresh';
    else if (failure === undefined) state = 'cold';
    else state = failure.retryable ? 'failing' : 'cooling-down';
    // A served token's next attempt is the background refresh's; without one, the backoff (or cool-down) callers share.
    const retryAt = servable !== undefined ? this.#nextAttemptAt : (this.#failure?.until ?? now);
    return {
      state,
      expiresInMs: servable === undefined ? undefined : Math.round(servable.deadline - now),
      requesting,
      retryInMs: failure === undefined ? undefined : Math.max(0, Math.round(retryAt - now)),
      lastError: failure?.summary,
    };
  }

  /** `entry` if it may be handed out now, starting a background refresh once its window is open. */
  #servable(entry: Entry): Entry | undefined {
    const now = this.#clock.monotonic();
    switch (phaseOf(entry, now)) {
      case 'fresh':
        return entry;
      case 'refresh-ahead':
        if (now >= this.#nextAttemptAt) void this.#refresh('refresh-ahead');
        return entry;
      case 'stale':
        return undefined;
    }
  }

  #reasonToAsk(entry: Entry | undefined, options: GetTokenOptions | undefined): TokenRequestReason {
    if (options?.forceRefresh === true) return 'forced';
    if (entry !== undefined) return 'expired';
    return this.#exchange.hasBuried ? 'invalidated' : 'initial';
  }

  async #waitForFresh(options: GetTokenOptions | undefined, reason: TokenRequestReason): Promise<AccessToken> {
    const failure = this.#failure;
    // A storm of calls against a failing token endpoint costs one request per backoff step, not one per call.
    if (failure !== undefined && options?.forceRefresh !== true && this.#clock.monotonic() < failure.until) throw failure.error;
    const signal = options?.signal;
    const attempt = this.#refresh(reason);
    let entry: Entry;
    try {
      entry = await abortable(attempt, signal);
    } catch (error) {
      // The cache's own handlers forget the attempt before they throw: a rejection while it is still the one under way
      // comes from the runtime (workerd rejects a wait for a promise whose request has ended, which never settles).
      if (this.#inflight?.promise !== attempt || signal?.aborted === true) throw error;
      this.#inflight = undefined;
      entry = await abortable(this.#refresh(reason), signal);
    }
    const now = this.#clock.monotonic();
    if (phaseOf(entry, now) === 'stale') {
      const message = `The gateway returned a token that expires in ${Math.round(entry.deadline - now)} ms, less than minValidityMs (${this.#policy.minValidityMs} ms)`;
      throw this.#annotate(new TokenResponseError(message, { provider: this.provider.provider, field: 'expiresAt' }));
    }
    return entry.token;
  }

  /**
   * One refresh at a time: callers and the background join the one under way, unless it has outlived every bound it
   * runs under. Then its runtime abandoned it (workerd ends a request's timers and promises with the request that
   * started them), and it would never settle.
   */
  #refresh(reason: TokenRequestReason): Promise<Entry> {
    const now = this.#clock.monotonic();
    const inflight = this.#inflight;
    if (inflight !== undefined && now - inflight.startedAt < this.#abandonedAfterMs()) return inflight.promise;
    const attempt = this.#obtain(reason).then(
      (entry) => {
        if (this.#inflight === record) this.#inflight = undefined;
        return entry;
      },
      (error: unknown) => {
        if (this.#inflight === record) this.#inflight = undefined;
        throw this.#afterFailure(error);
      },
    );
    const record = { promise: attempt, startedAt: now };
    this.#inflight = record;
    // Background refreshes have no caller: their failures are handled above, never unhandled.
    attempt.catch(noop);
    return attempt;
  }

  /** Longer than any attempt can take: two token requests (one asked again), the lock wait, and the store calls. */
  #abandonedAfterMs(): number {
    const { requestTimeoutMs, lockWaitMs, storeTimeoutMs } = this.#policy;
    return 2 * requestTimeoutMs + lockWaitMs + 8 * storeTimeoutMs + lockPollMs;
  }

  /** Schedules what follows a failed refresh, and returns the error for its callers. */
  #afterFailure(error: unknown): unknown {
    const now = this.#clock.monotonic();
    const current = this.#current;
    const annotated = this.#annotate(error);
    this.#lastFailure = recordFailure(error);
    if (current !== undefined && phaseOf(current, now) !== 'stale') {
      const nextAttemptInMs = this.#backoff.afterFailure(error, this.#clock.now());
      this.#nextAttemptAt = now + nextAttemptInMs;
      this.#emit({
        type: 'token-served-stale',
        fingerprint: current.fingerprint,
        remainingMs: Math.round(current.deadline - now),
        nextAttemptInMs: Math.round(nextAttemptInMs),
      });
      return annotated;
    }
    const waitMs = isRetryable(error) ? this.#backoff.afterFailure(error, this.#clock.now()) : this.#policy.failureCooldownMs;
    this.#failure = { error: annotated, until: now + waitMs };
    return annotated;
  }

  /** The store's better token, or its lock and then the gateway, or the gateway alone when the store fails. */
  async #obtain(reason: TokenRequestReason): Promise<Entry> {
    if (reason !== 'forced') {
      const offer = await this.#readStore();
      if (offer.kind === 'entry') return this.#adopt(offer.entry, 'store');
      // A store that fails or hangs holds no lock worth taking: each more call would only hold callers up again.
      if (offer.kind === 'failed') return this.#requestFromProvider(reason);
    }
    const taken = await this.#exchange.lock(this.#lockTtlMs());
    if (taken.kind === 'none') return this.#requestFromProvider(reason);
    let lock: TokenStoreLock;
    if (taken.kind === 'busy') {
      // A forced request waits for the holder's new token, which may expire within the same second as ours.
      const waited = await this.#waitForHolder(reason === 'forced' ? this.#current?.fingerprint : undefined);
      if (waited.kind === 'entry') return this.#adopt(waited.entry, 'store');
      if (waited.kind === 'none') return this.#requestFromProvider(reason);
      lock = waited.lock;
    } else {
      lock = taken.lock;
    }
    try {
      // Another holder may have stored a token between our read and our lock. Read even when forced: a record with a
      // provider state tells a process that never asked yet that the provider rotates one.
      const offer = await this.#readStore();
      return reason !== 'forced' && offer.kind === 'entry' ? this.#adopt(offer.entry, 'store') : await this.#requestFromProvider(reason);
    } finally {
      this.#exchange.release(lock);
    }
  }

  /** A token from the store that is fresh and better than what is held. */
  /** `replacing`: a token being replaced (a forced request): any other fresh token in the store is better. */
  async #readStore(replacing?: string): Promise<StoreOffer> {
    const read = await this.#exchange.read();
    if (read.kind !== 'failed' && read.stored?.state !== undefined) this.#stateful = true;
    if (read.kind !== 'token') return read.kind === 'failed' ? read : { kind: 'none' };
    const entry = this.#makeEntry(read.stored, read.fingerprint, 0);
    const current = this.#current;
    // Compared as the wall-clock expiries both were written with: a wall clock that jumped since reads them alike.
    const replaces = replacing !== undefined && read.fingerprint !== replacing;
    if (
      current !== undefined &&
      !replaces &&
      read.stored.expiresAt <= current.token.expiresAt + this.#sameExpiryToleranceMs(current, entry)
    ) {
      return { kind: 'none' };
    }
    if (phaseOf(entry, this.#clock.monotonic()) !== 'fresh') return { kind: 'none' };
    // Another process dropped it after a 401: someone wrote it back, or the drop raced its publication.
    if (await this.#exchange.buriedElsewhere(read.fingerprint, entry.deadline, this.#policy.requestTimeoutMs)) return { kind: 'none' };
    return { kind: 'entry', entry };
  }

  /** How long a lock may be held at most: one token request, and the wait before it. */
  #lockTtlMs(): number {
    return this.#policy.requestTimeoutMs + this.#policy.lockWaitMs;
  }

  /**
   * Waits, bounded by `lockWaitMs`, for the lock holder's token to reach the store: woken by the store where it can
   * (`waitForUnlock`), else polling. A holder gone without storing a token (it failed, or died and its lock ran out)
   * leaves the lock free: the first waiter to take it asks the gateway next, the others wait for that one in turn, so
   * a dead holder costs one more token request, not one per waiter.
   */
  async #waitForHolder(replacing?: string): Promise<Waited> {
    const clock = this.#clock;
    const { lockWaitMs } = this.#policy;
    const started = clock.monotonic();
    const waited = (received: boolean, lockTaken?: true): void =>
      this.#emit({
        type: 'lock-waited',
        waitedMs: Math.round(clock.monotonic() - started),
        received,
        ...(lockTaken === undefined ? {} : { lockTaken }),
      });
    // Bounded twice: by the clock, and by the number of rounds, so an injected clock that stands still cannot hang it.
    const rounds = Math.ceil(lockWaitMs / lockPollMs);
    for (let round = 0; round < rounds; round += 1) {
      const remainingMs = lockWaitMs - (clock.monotonic() - started);
      if (remainingMs <= 0) break;
      await this.#exchange.waitForUnlock(remainingMs);
      const offer = await this.#readStore(replacing);
      if (offer.kind === 'entry') {
        waited(true);
        return { kind: 'entry', entry: offer.entry };
      }
      // A store that fails now cannot bring the holder's token: ask the gateway rather than wait out lockWaitMs.
      if (offer.kind === 'failed') break;
      const taken = await this.#exchange.lock(this.#lockTtlMs());
      if (taken.kind === 'held') {
        waited(false, true);
        return { kind: 'lock', lock: taken.lock };
      }
      if (taken.kind === 'none') break;
    }
    waited(false);
    return { kind: 'none' };
  }

  /** Asks the gateway, judges its answer, and acts on the verdict. */
  async #requestFromProvider(reason: TokenRequestReason): Promise<Entry> {
    const dropsBefore = this.#exchange.drops;
    if (this.#stateful) this.#state = (await this.#exchange.readState()) ?? this.#state;
    const answer = await this.#ask(reason);
    if (answer.kind === 'failed') throw answer.error;
    // Whatever the verdict on the token, the request spent the state it was given: the answer's is the one to keep,
    // and to leave in the store for whoever asks next, apart from the token (whose record a 401 deletes).
    this.#state = answer.token.state;
    if (answer.token.state !== undefined) {
      this.#stateful = true;
      this.#exchange.publishState(answer.token.state);
    }
    const verdict = this.#judge(answer.token, answer.requestMs, dropsBefore);
    switch (verdict.kind) {
      case 'ask-again':
        return this.#requestFromProvider('invalidated');
      case 'unchanged':
        return this.#keepUnchanged(verdict.held, verdict.requestMs);
      case 'too-short':
        throw this.#refuseTooShort(verdict.entry, verdict.restatesHeld);
      case 'adopt': {
        if (verdict.wasBuried) this.#exchange.unbury(verdict.entry.fingerprint);
        this.#adopt(verdict.entry, 'provider', answer.token.diagnostics);
        const { stored } = verdict;
        this.#exchange.publish(serializeToken(stored), Math.max(1, stored.expiresAt - this.#clock.now()));
        return verdict.entry;
      }
    }
  }

  /** One token request, traced on the diagnostics channel, its outcome reported as an event. */
  async #ask(reason: TokenRequestReason): Promise<Answer> {
    const clock = this.#clock;
    const { failureCooldownMs } = this.#policy;
    this.#emit({ type: 'token-requested', reason });
    const started = clock.monotonic();
    try {
      const token = await traceTokenRequest(
        () => this.#requestMessage(reason),
        () => this.#requestToken(),
      );
      return { kind: 'token', token, requestMs: Math.round(clock.monotonic() - started) };
    } catch (error) {
      const failure = error as AuthError;
      const retryable = isRetryable(failure);
      const durationMs = Math.round(clock.monotonic() - started);
      this.#emit({
        type: 'token-request-failed',
        error: failure,
        retryable,
        durationMs,
        ...(retryable ? {} : { cooldownMs: failureCooldownMs }),
      });
      return { kind: 'failed', error: failure };
    }
  }

  /** Asks the provider, bounded by `requestTimeoutMs` even for a provider that ignores the signal; rejects with an `AuthError`. */
  async #requestToken(): Promise<ProviderToken> {
    const { provider } = this;
    const { requestTimeoutMs } = this.#policy;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), requestTimeoutMs);
    timer.unref?.();
    try {
      const context = { signal: controller.signal, fetch: this.#fetch, now: this.#clock.now, state: this.#state };
      const token = await Promise.race([provider.requestToken(context), rejectOnAbort(controller.signal)]);
      validateToken(provider.provider, token);
      return token;
    } catch (error) {
      throw controller.signal.aborted
        ? new TokenRequestError(`Token request timed out after ${requestTimeoutMs} ms`, {
            provider: provider.provider,
            reason: 'timeout',
            retryable: true,
            cause: error,
          })
        : toAuthError(provider.provider, error);
    } finally {
      clearTimeout(timer);
    }
  }

  #requestMessage(reason: TokenRequestReason): TokenRequestMessage {
    const { provider, cacheKey } = this.provider;
    return { provider, cacheKey, reason, merchants: frozen(this.#merchants?.() ?? []) };
  }

  /** What the gateway's token means, given what is held and what was dropped while the request was on the wire. */
  #judge(token: ProviderToken, requestMs: number, dropsBefore: number): Verdict {
    const tokenFingerprint = fingerprint(token.accessToken);
    const tombstone = this.#exchange.buried(tokenFingerprint);
    // A request started after the drop is believed, even if it brings the same token back.
    if (tombstone !== undefined && tombstone.drop > dropsBefore) return { kind: 'ask-again' };
    const held = this.#current;
    const restatesHeld = held !== undefined && held.token.accessToken === token.accessToken;
    // A restated token keeps the lifetime it was issued with: an extension or a cut does not make it a short-lived one.
    const remainingMs = token.expiresAt - this.#clock.now();
    const lifetimeMs = restatesHeld ? Math.max(held.lifetimeMs, remainingMs) : remainingMs;
    const stored: StoredToken = { accessToken: token.accessToken, expiresAt: token.expiresAt, lifetimeMs, state: token.state };
    const entry = this.#makeEntry(stored, tokenFingerprint, requestMs);
    // Compared on the monotonic clock: after a wall-clock jump the same expiry reads differently.
    if (restatesHeld && Math.abs(entry.deadline - held.deadline) < this.#sameExpiryToleranceMs(held, entry)) {
      return { kind: 'unchanged', held, requestMs };
    }
    if (phaseOf(entry, this.#clock.monotonic()) === 'stale') return { kind: 'too-short', entry, restatesHeld };
    return { kind: 'adopt', entry, stored, wasBuried: tombstone !== undefined };
  }

  /** i'mport answers "same token, same expiry" outside its extension window: not an error, nor a reason to ask at once. */
  #keepUnchanged(held: Entry, requestMs: number): Entry {
    const now = this.#clock.monotonic();
    const nextAttemptInMs = this.#backoff.afterFailure(undefined, this.#clock.now());
    this.#nextAttemptAt = now + nextAttemptInMs;
    // The gateway answered: an earlier failure no longer describes the cache.
    this.#lastFailure = undefined;
    this.#emit({
      type: 'token-unchanged',
      fingerprint: held.fingerprint,
      expiresInMs: Math.round(held.deadline - now),
      durationMs: requestMs,
      nextAttemptInMs: Math.round(nextAttemptInMs),
    });
    return held;
  }

  /**
   * The gateway gave a token with less life than `minValidityMs`. When it restates the held token, that one ends
   * sooner than we thought: stop handing it out, and never take it back from the store (buried until the held expiry,
   * as long as the store keeps its copy).
   */
  #refuseTooShort(entry: Entry, restatesHeld: boolean): TokenResponseError {
    const held = this.#current;
    if (restatesHeld && held !== undefined) {
      this.#current = undefined;
      this.#exchange.bury(entry.fingerprint, Math.max(entry.deadline, held.deadline), this.#policy.requestTimeoutMs);
    }
    const leftMs = Math.round(entry.deadline - this.#clock.monotonic());
    return new TokenResponseError(`The token expires in ${leftMs} ms, less than minValidityMs (${this.#policy.minValidityMs} ms)`, {
      provider: this.provider.provider,
      field: 'expiresAt',
    });
  }

  #adopt(entry: Entry, source: 'provider' | 'store', diagnostics?: ProviderToken['diagnostics']): Entry {
    // A token from the store comes with the state its holder was given: the one its next refresh must present.
    if (source === 'store' && entry.state !== undefined) {
      this.#state = entry.state;
      this.#stateful = true;
    }
    const current = this.#current;
    const extended = current !== undefined && current.token.accessToken === entry.token.accessToken && entry.deadline > current.deadline;
    this.#current = entry;
    this.#nextAttemptAt = 0;
    this.#backoff.reset();
    this.#failure = undefined;
    this.#lastFailure = undefined;
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

  /** `tokenFingerprint` is the token's, computed once by whoever read the token (a SHA-256 in plain JavaScript). */
  #makeEntry(stored: StoredToken, tokenFingerprint: string, requestMs: number): Entry {
    const policy = this.#policy;
    const deadline = this.#clock.monotonic() + (stored.expiresAt - this.#clock.now());
    const ahead = Math.min(policy.refreshAheadMs, stored.lifetimeMs / 2) * this.#aheadFactor;
    const token: AccessToken = Object.freeze({ accessToken: stored.accessToken, tokenType: 'Bearer', expiresAt: stored.expiresAt });
    return {
      token,
      promise: Promise.resolve(token),
      fingerprint: tokenFingerprint,
      // A refresh-ahead window shorter than minValidityMs must not let the hit path hand out a stale token.
      refreshAt: Math.min(deadline - ahead, deadline - policy.minValidityMs),
      staleAt: deadline - policy.minValidityMs,
      deadline,
      requestMs,
      lifetimeMs: stored.lifetimeMs,
      state: stored.state,
    };
  }

  /** Two deadlines of one token closer than this state the same expiry: the gateway's precision plus the latencies. */
  #sameExpiryToleranceMs(a: Entry, b: Entry): number {
    return (this.provider.expiryResolutionMs ?? defaultExpiryResolutionMs) + a.requestMs + b.requestMs;
  }

  #emit(event: EventBody): void {
    const listener = this.#listener;
    const observed = tokenEventsObserved();
    if (listener === undefined && !observed) return;
    const full = { provider: this.provider.provider, cacheKey: this.provider.cacheKey, time: this.#clock.now(), ...event } as TokenEvent;
    if (observed) publishTokenEvent(full, this.#merchants);
    if (listener === undefined) return;
    try {
      const result: unknown = listener(full);
      // An async listener's rejection would otherwise surface as an unhandled rejection.
      if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function') (result as PromiseLike<unknown>).then(undefined, noop);
    } catch {
      // A listener that throws must not break authentication.
    }
  }

  #annotate(error: unknown): unknown {
    if (this.#merchants !== undefined) nameMerchants(error, this.#merchants());
    return error;
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
  if (token.state !== undefined && !isUsableState(token.state)) {
    throw new TokenResponseError('The provider returned a state that is not visible ASCII of at most 8 KiB', { provider, field: 'state' });
  }
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

function noop(): void {}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
