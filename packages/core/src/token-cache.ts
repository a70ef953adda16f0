import { resolveCachePolicy, type CachePolicy } from './cache-policy.js';
import { systemClock, type Clock } from './clock.js';
import { TokenRequestError, TokenResponseError, isAuthError, isRetryable } from './errors.js';
import { fingerprint } from './fingerprint.js';
import type { TokenEvent, TokenEventListener, TokenRequestReason } from './token-events.js';
import type { ProviderToken, TokenProvider } from './token-provider.js';
import {
  createMemoryTokenStore,
  parseStoredToken,
  serializeToken,
  type StoredToken,
  type TokenStore,
  type TokenStoreLock,
} from './token-store.js';

/** A token ready to put in an `Authorization` header. */
export interface AccessToken {
  readonly accessToken: string;
  readonly tokenType: 'Bearer';
  /** Epoch milliseconds on the local clock. */
  readonly expiresAt: number;
}

export interface GetTokenOptions {
  /** Aborts this caller's wait only; a shared request others wait on goes on. */
  signal?: AbortSignal | undefined;
  /** Ignore the cached token and wait for a new request's result (joins one already under way). */
  forceRefresh?: boolean | undefined;
}

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
}

/** Caches one provider's token: single flight, refresh ahead, stale-while-failing, backoff. */
export interface TokenCache {
  readonly provider: TokenProvider;
  /** The current token, or a fresh one when there is none worth handing out. */
  getToken(options?: GetTokenOptions): Promise<AccessToken>;
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
  readonly lifetimeMs: number;
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
 */
export function createTokenCache(provider: TokenProvider, options: TokenCacheOptions = {}): TokenCache {
  const policy = resolveCachePolicy(provider.provider, provider.cachePolicy, options.policy);
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const store = options.store ?? createMemoryTokenStore({ clock });
  const fetchImplementation = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const listener = options.onEvent;
  const { cacheKey } = provider;
  // Per process, the refresh window starts a little later at random, so a fleet spreads its refreshes.
  const aheadFactor = 1 - policy.refreshAheadJitter * random();

  let current: Entry | undefined;
  let inflight: Promise<Entry> | undefined;
  /** Monotonic time before which no background refresh starts (backoff after a failed or unchanged refresh). */
  let nextAttemptAt = 0;
  let failedAttempts = 0;
  let cooldown: { error: unknown; until: number } | undefined;
  /** The last token invalidated here: never taken back from the store, whose delete may still be under way. */
  let invalidated: string | undefined;

  const emit = (event: DistributiveOmit<TokenEvent, 'provider' | 'cacheKey' | 'time'>): void => {
    if (listener === undefined) return;
    try {
      const result: unknown = listener({ provider: provider.provider, cacheKey, time: clock.now(), ...event } as TokenEvent);
      // An async listener's rejection would otherwise surface as an unhandled rejection.
      if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function') (result as PromiseLike<unknown>).then(undefined, noop);
    } catch {
      // A listener that throws must not break authentication.
    }
  };

  const makeEntry = (stored: StoredToken): Entry => {
    const remaining = stored.expiresAt - clock.now();
    const deadline = clock.monotonic() + remaining;
    const ahead = Math.min(policy.refreshAheadMs, stored.lifetimeMs / 2) * aheadFactor;
    const token: AccessToken = Object.freeze({
      accessToken: stored.accessToken,
      tokenType: 'Bearer',
      expiresAt: stored.expiresAt,
    });
    return {
      token,
      promise: Promise.resolve(token),
      fingerprint: fingerprint(stored.accessToken),
      lifetimeMs: stored.lifetimeMs,
      // A refresh-ahead window shorter than minValidityMs must not let the hit path hand out a stale token.
      refreshAt: Math.min(deadline - ahead, deadline - policy.minValidityMs),
      staleAt: deadline - policy.minValidityMs,
      deadline,
    };
  };

  const backoffDelay = (): number => {
    const ceiling = Math.min(policy.retryMaxDelayMs, policy.retryBaseDelayMs * 2 ** failedAttempts);
    failedAttempts += 1;
    // Full jitter can draw ~0; without a floor every call in the refresh window would start another request.
    return Math.max(random() * ceiling, Math.min(ceiling, minimumRetryDelayMs));
  };

  let storeFailures = 0;
  const storeCall = async <T>(operation: 'get' | 'set' | 'delete' | 'lock', call: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await call();
    } catch (error) {
      storeFailures += 1;
      emit({ type: 'store-error', operation, error });
      return undefined;
    }
  };

  /** A token from the store that is better than what we hold, or `undefined`. */
  const readStore = async (): Promise<Entry | undefined> => {
    const stored = parseStoredToken(await storeCall('get', () => store.get(cacheKey)));
    if (stored === undefined || stored.accessToken === invalidated) return undefined;
    if (current !== undefined && stored.expiresAt <= current.token.expiresAt + unchangedToleranceMs) return undefined;
    const entry = makeEntry(stored);
    return clock.monotonic() < entry.refreshAt ? entry : undefined;
  };

  const adopt = (entry: Entry, source: 'provider' | 'store', durationMs: number, diagnostics?: ProviderToken['diagnostics']): Entry => {
    const extended = current !== undefined && current.token.accessToken === entry.token.accessToken;
    current = entry;
    invalidated = undefined;
    nextAttemptAt = 0;
    failedAttempts = 0;
    cooldown = undefined;
    emit({
      type: 'token-refreshed',
      source,
      extended,
      fingerprint: entry.fingerprint,
      expiresInMs: Math.round(entry.deadline - clock.monotonic()),
      durationMs,
      ...(diagnostics === undefined ? {} : { diagnostics }),
    });
    return entry;
  };

  const requestFromProvider = async (reason: TokenRequestReason): Promise<Entry> => {
    emit({ type: 'token-requested', reason });
    const started = clock.monotonic();
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), policy.requestTimeoutMs);
    timer.unref?.();
    let result: ProviderToken;
    try {
      // Raced against the timeout so a provider that ignores the signal cannot hold every caller forever.
      result = await Promise.race([
        provider.requestToken({ signal: controller.signal, fetch: fetchImplementation, now: clock.now }),
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
      emit({
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
    const durationMs = Math.round(clock.monotonic() - started);
    const lifetimeMs = result.expiresAt - clock.now();
    const entry = makeEntry({ accessToken: result.accessToken, expiresAt: result.expiresAt, lifetimeMs });
    if (
      current !== undefined &&
      current.token.accessToken === result.accessToken &&
      result.expiresAt - current.token.expiresAt < unchangedToleranceMs
    ) {
      // i'mport answers "same token, same expiry" outside its extension window: not an error, not a reason to ask
      // again at once.
      const nextAttemptInMs = backoffDelay();
      nextAttemptAt = clock.monotonic() + nextAttemptInMs;
      emit({
        type: 'token-unchanged',
        fingerprint: current.fingerprint,
        expiresInMs: Math.round(current.deadline - clock.monotonic()),
        durationMs,
        nextAttemptInMs: Math.round(nextAttemptInMs),
      });
      return current;
    }
    if (clock.monotonic() >= entry.staleAt) {
      throw new TokenResponseError(
        `The token expires in ${Math.round(entry.deadline - clock.monotonic())} ms, less than minValidityMs (${policy.minValidityMs} ms)`,
        { provider: provider.provider, field: 'expiresAt' },
      );
    }
    adopt(entry, 'provider', durationMs, result.diagnostics);
    await storeCall('set', () =>
      store.set(cacheKey, serializeToken({ accessToken: result.accessToken, expiresAt: result.expiresAt, lifetimeMs }), Math.max(1, result.expiresAt - clock.now())),
    );
    return entry;
  };

  /** Waits, bounded, for the lock holder's token to reach the store. */
  const waitForHolder = async (): Promise<Entry | undefined> => {
    const started = clock.monotonic();
    // Bounded twice: by the clock, and by the number of polls, so an injected clock that stands still cannot hang it.
    const polls = Math.ceil(policy.lockWaitMs / lockPollMs);
    for (let poll = 0; poll < polls && clock.monotonic() - started < policy.lockWaitMs; poll += 1) {
      await delay(lockPollMs);
      const failuresBefore = storeFailures;
      const entry = await readStore();
      if (entry !== undefined) {
        emit({ type: 'lock-waited', waitedMs: Math.round(clock.monotonic() - started), received: true });
        return entry;
      }
      // A store that fails now cannot bring the holder's token: ask the gateway rather than wait out lockWaitMs.
      if (storeFailures !== failuresBefore) break;
    }
    emit({ type: 'lock-waited', waitedMs: Math.round(clock.monotonic() - started), received: false });
    return undefined;
  };

  const obtain = async (reason: TokenRequestReason): Promise<Entry> => {
    const fromStore = reason === 'forced' ? undefined : await readStore();
    if (fromStore !== undefined) return adopt(fromStore, 'store', 0);
    if (store.lock === undefined) return requestFromProvider(reason);
    let lock: TokenStoreLock | undefined;
    try {
      lock = await store.lock(cacheKey, policy.requestTimeoutMs + policy.lockWaitMs);
    } catch (error) {
      // A broken store holds no lock anyone could be waiting on: waiting lockWaitMs would only delay every caller.
      emit({ type: 'store-error', operation: 'lock', error });
      return requestFromProvider(reason);
    }
    if (lock === undefined) {
      const fromHolder = await waitForHolder();
      if (fromHolder !== undefined) return adopt(fromHolder, 'store', 0);
      return requestFromProvider(reason);
    }
    try {
      // Another holder may have stored a token between our read and our lock.
      const stored = reason === 'forced' ? undefined : await readStore();
      return stored === undefined ? await requestFromProvider(reason) : adopt(stored, 'store', 0);
    } finally {
      await storeCall('lock', () => lock.release());
    }
  };

  const refresh = (reason: TokenRequestReason): Promise<Entry> => {
    if (inflight !== undefined) return inflight;
    const attempt = obtain(reason).then(
      (entry) => {
        inflight = undefined;
        return entry;
      },
      (error: unknown) => {
        inflight = undefined;
        const now = clock.monotonic();
        if (current !== undefined && now < current.staleAt) {
          const nextAttemptInMs = backoffDelay();
          nextAttemptAt = now + nextAttemptInMs;
          emit({
            type: 'token-served-stale',
            fingerprint: current.fingerprint,
            remainingMs: Math.round(current.deadline - now),
            nextAttemptInMs: Math.round(nextAttemptInMs),
          });
        } else if (!isRetryable(error)) {
          cooldown = { error, until: now + policy.failureCooldownMs };
        }
        throw error;
      },
    );
    inflight = attempt;
    // Background refreshes have no caller: their failures are handled above, never unhandled.
    attempt.catch(noop);
    return attempt;
  };

  const waitForFresh = async (options: GetTokenOptions | undefined, reason: TokenRequestReason): Promise<AccessToken> => {
    const now = clock.monotonic();
    if (cooldown !== undefined && now < cooldown.until && options?.forceRefresh !== true) throw cooldown.error;
    const entry = await abortable(refresh(reason), options?.signal);
    if (clock.monotonic() >= entry.staleAt) {
      throw new TokenResponseError('The gateway returned a token that is about to expire', {
        provider: provider.provider,
        field: 'expiresAt',
      });
    }
    return entry.token;
  };

  const cache: TokenCache & { [cacheBrand]: true } = {
    [cacheBrand]: true,
    provider,
    getToken(options) {
      const entry = current;
      if (entry !== undefined && options?.forceRefresh !== true) {
        const now = clock.monotonic();
        if (now < entry.refreshAt) return entry.promise;
        if (now < entry.staleAt) {
          if (inflight === undefined && now >= nextAttemptAt) refresh('refresh-ahead');
          return entry.promise;
        }
      }
      const reason: TokenRequestReason =
        options?.forceRefresh === true ? 'forced' : entry !== undefined ? 'expired' : invalidated !== undefined ? 'invalidated' : 'initial';
      return waitForFresh(options, reason);
    },
    async invalidate(accessToken) {
      const entry = current;
      if (entry === undefined || entry.token.accessToken !== accessToken) return;
      current = undefined;
      invalidated = accessToken;
      nextAttemptAt = 0;
      emit({ type: 'token-invalidated', fingerprint: entry.fingerprint });
      const stored = await storeCall('get', () => store.get(cacheKey));
      if (parseStoredToken(stored)?.accessToken === accessToken) {
        await storeCall('delete', () => store.delete(cacheKey, stored));
      }
    },
  };
  return cache;
}

function validateToken(provider: string, token: ProviderToken): void {
  if (typeof token?.accessToken !== 'string' || token.accessToken === '') {
    throw new TokenResponseError('The provider returned no access token', { provider, field: 'accessToken' });
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

