import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import { ConfigurationError } from './errors.js';
import { isUsableAccessToken, isUsableState } from './token-http.js';

/** A lock taken in a {@link TokenStore}; release it once the token is stored. */
export interface TokenStoreLock {
  /** Releases the lock if this holder still owns it. Never throws. */
  release(): Promise<void>;
}

/** A stored value with the store's own count of how long it keeps it; see {@link TokenStore.getEntry}. */
export interface TokenStoreEntry {
  /** The value, as {@link TokenStore.get} returns it. */
  value: string;
  /** How much longer the store keeps the value, by the store's clock (Redis `PTTL`); `undefined` when it has no expiry. */
  remainingMs?: number | undefined;
}

/**
 * Where tokens live between processes (Redis) or within one (memory). Values are opaque strings serialized by the
 * cache; keys are the providers' non-secret `cacheKey`s. A store may throw: the cache reports it as an event and
 * carries on without the store.
 */
export interface TokenStore {
  /** The value stored under `key`, or `undefined` when absent or expired. */
  get(key: string): Promise<string | undefined>;
  /**
   * Optional: {@link TokenStore.get} with the value's remaining time to live by the store's own clock, read in the same
   * round trip. The cache then takes a stored token's life from the store, not from its own wall clock, so a
   * process whose wall clock stepped back does not keep a stored token past its real expiry. Stores without it are
   * read with `get`. The stores of `@x` define it non-enumerable, so a wrapper that spreads one and replaces `get`
   * (`{ ...store, get }`) is still read through its `get`; a wrapper that keeps `getEntry` must wrap it too.
   */
  getEntry?(key: string): Promise<TokenStoreEntry | undefined>;
  /** Stores `value` under `key` for `ttlMs`. */
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /** Deletes `key`; with `expected`, only while it still holds exactly that value (compare-and-delete). */
  delete(key: string, expected?: string): Promise<void>;
  /**
   * Tries to take a short lock for `key`, so only one holder requests a token. Resolves `undefined` when someone
   * else holds it. Stores without locks omit this method.
   */
  lock?(key: string, ttlMs: number): Promise<TokenStoreLock | undefined>;
  /**
   * Optional: waits until the lock on `key` may be free, so a cache waiting for another holder's token learns of it
   * at once rather than polling every 50 ms. Resolves when the holder releases the lock (having stored its token, or
   * having failed), when the lock's lease runs out (its holder died), or after `timeoutMs`, whichever comes first;
   * at once when no one holds the lock. It never says which: the cache reads the store, and takes the lock if it is
   * free. A store that cannot be woken omits it (`@x/redis` wakes waiters with Redis pub/sub).
   */
  waitForUnlock?(key: string, timeoutMs: number): Promise<void>;
}

/** Options of {@link createMemoryTokenStore}. */
export interface MemoryTokenStoreOptions {
  /** Clock used for expiry; only `monotonic` is read. @default systemClock */
  clock?: Clock;
  /**
   * The most values held (tokens, and the marks of dropped ones): past it, the oldest written goes first, so a store
   * shared by ever more credentials stays bounded. @default Infinity
   */
  maxEntries?: number;
}

/**
 * An in-process {@link TokenStore}. It is the default; share one instance between caches to share their tokens.
 *
 * @example
 * const store = createMemoryTokenStore();
 * const fetchA = createAuthFetch(provider, { store });
 * const fetchB = createAuthFetch(provider, { store }); // same token as fetchA
 */
export function createMemoryTokenStore(options: MemoryTokenStoreOptions = {}): TokenStore {
  const clock = options.clock ?? systemClock;
  const maxEntries = options.maxEntries ?? Number.POSITIVE_INFINITY;
  if (maxEntries !== Number.POSITIVE_INFINITY && !(Number.isSafeInteger(maxEntries) && maxEntries > 0)) {
    throw new ConfigurationError({ issues: [{ path: 'maxEntries', message: 'must be a positive integer (or Infinity)' }] });
  }
  const values = new Map<string, { value: string; expiresAt: number }>();
  const locks = new Map<string, { owner: object; expiresAt: number }>();

  const live = <T extends { expiresAt: number }>(map: Map<string, T>, key: string): T | undefined => {
    const item = map.get(key);
    if (item !== undefined && item.expiresAt <= clock.monotonic()) {
      map.delete(key);
      return undefined;
    }
    return item;
  };

  const store: TokenStore = {
    async get(key) {
      return live(values, key)?.value;
    },
    async set(key, value, ttlMs) {
      // Deleted first, so the value goes to the back of the order the bound evicts in.
      values.delete(key);
      values.set(key, { value, expiresAt: clock.monotonic() + ttlMs });
      if (values.size > maxEntries) values.delete(values.keys().next().value as string);
    },
    async delete(key, expected) {
      if (expected === undefined || live(values, key)?.value === expected) values.delete(key);
    },
    async lock(key, ttlMs) {
      if (live(locks, key) !== undefined) return undefined;
      const owner = {};
      locks.set(key, { owner, expiresAt: clock.monotonic() + ttlMs });
      return {
        async release() {
          if (locks.get(key)?.owner === owner) locks.delete(key);
        },
      };
    },
  };
  return withEntryReads(store, async (key) => {
    const item = live(values, key);
    return item === undefined ? undefined : { value: item.value, remainingMs: item.expiresAt - clock.monotonic() };
  });
}

/**
 * Adds `getEntry` to a store as a non-enumerable method: a wrapper written before it existed (`{ ...store, get }`)
 * leaves it behind with the spread, so the cache reads through the wrapper's `get` as it always did.
 */
export function withEntryReads<T extends TokenStore>(
  store: T,
  getEntry: NonNullable<TokenStore['getEntry']>,
): T & Required<Pick<TokenStore, 'getEntry'>> {
  return Object.defineProperty(store, 'getEntry', { value: getEntry, enumerable: false, writable: true, configurable: true }) as T &
    Required<Pick<TokenStore, 'getEntry'>>;
}

/** A token as the cache writes it to a store: wall-clock expiry, so other processes can read it. */
export interface StoredToken {
  /** The bearer token. The store holds it as is: use an encrypting store (e.g. Redis with a key) where that matters. */
  accessToken: string;
  /** Epoch milliseconds. */
  expiresAt: number;
  /** The lifetime the token had when issued, for the refresh-ahead cap. */
  lifetimeMs: number;
  /** The provider's {@link ProviderToken.state} issued with the token (a rotating refresh token), if any. A secret. */
  state?: string | undefined;
}

/** Serializes a token for a {@link TokenStore}. */
export function serializeToken(token: StoredToken): string {
  const { accessToken, expiresAt, lifetimeMs, state } = token;
  return JSON.stringify(
    state === undefined ? { v: 1, accessToken, expiresAt, lifetimeMs } : { v: 1, accessToken, expiresAt, lifetimeMs, state },
  );
}

/** Parses what {@link serializeToken} wrote; `undefined` for anything else, including a value that fails {@link checkStoredToken}'s checks. */
export function parseStoredToken(value: string | undefined, now: number = Date.now()): StoredToken | undefined {
  if (value === undefined) return undefined;
  const checked = checkStoredToken(value, now);
  return typeof checked === 'string' ? undefined : checked;
}

/**
 * How much longer than its recorded lifetime a stored token may still have to live: the wall clocks of the processes
 * sharing a store differ a little, and the reader's may be behind the writer's.
 */
const storedClockAllowanceMs = 60_000;

/**
 * A stored value as a token, or what is wrong with it (never quoting it). A store is another process's word, and
 * anyone who can write to it can write anything: the value must pass the checks a provider's token passes (visible
 * ASCII, finite expiry) and be consistent with itself (a lifetime that is a positive, finite number, and an expiry no
 * further away than that lifetime allows), so a forged expiry years away, or a token that cannot go into a header,
 * is treated as absent instead of being served.
 */
export function checkStoredToken(value: string, now: number): StoredToken | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return 'not JSON';
  }
  if (typeof parsed !== 'object' || parsed === null) return 'not a JSON object';
  const { v, accessToken, expiresAt, lifetimeMs, state } = parsed as Record<string, unknown>;
  if (v !== 1) return 'not a version 1 token record';
  if (!isUsableAccessToken(accessToken)) return 'its access token is missing or not visible ASCII';
  if (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt)) return 'its expiry is not a finite number';
  if (typeof lifetimeMs !== 'number' || !Number.isFinite(lifetimeMs) || lifetimeMs <= 0) {
    return 'its lifetime is not a positive finite number';
  }
  if (expiresAt - now > lifetimeMs + storedClockAllowanceMs) return 'its expiry is further away than its lifetime allows';
  if (state !== undefined && !isUsableState(state)) return 'its provider state is not visible ASCII of at most 8 KiB';
  return state === undefined ? { accessToken, expiresAt, lifetimeMs } : { accessToken, expiresAt, lifetimeMs, state };
}
