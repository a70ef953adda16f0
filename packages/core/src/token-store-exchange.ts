import type { Clock } from './clock.js';
import { TokenStoreError, type TokenStoreOperation } from './errors.js';
import { fingerprint } from './fingerprint.js';
import { isUsableState } from './token-http.js';
import {
  checkStoredToken,
  parseStoredToken,
  type StoredToken,
  type TokenStore,
  type TokenStoreEntry,
  type TokenStoreLock,
} from './token-store.js';

/** What one bounded store call gave: its value, or a failure already reported. */
export type StoreCallResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false };

/** What reading the token from the store gave. */
export type StoreRead =
  /** A token that passed the checks and is not buried. */
  | { readonly kind: 'token'; readonly stored: StoredToken; readonly fingerprint: string }
  /**
   * Nothing usable: no value, a buried token, or a value that failed the checks (reported). A buried token's record
   * still carries its provider state, which a dropped access token does not spend.
   */
  | { readonly kind: 'absent'; readonly stored?: StoredToken | undefined }
  /** The store failed or did not answer in time (reported): it holds no lock worth waiting for either. */
  | { readonly kind: 'failed' };

/** What asking for the store's lock gave; `none`: the store has no lock, or its call failed (reported): ask the gateway. */
export type StoreLock = { readonly kind: 'held'; readonly lock: TokenStoreLock } | { readonly kind: 'busy' } | { readonly kind: 'none' };

/** A token dropped after a 401: never taken back from a store, whichever process writes it there again. */
export interface Tombstone {
  /** Monotonic time until which it is kept: the token's expiry, or the longest a request on the wire may take. */
  readonly until: number;
  /** Counts drops, so a request already on the wire at this drop can be told from a later one (clocks can stand still). */
  readonly drop: number;
}

/** What a {@link StoreExchange} needs from its cache. */
export interface StoreExchangeSettings {
  readonly store: TokenStore;
  readonly provider: string;
  readonly cacheKey: string;
  readonly clock: Clock;
  /** Longest wait for one store call (`storeTimeoutMs`). */
  readonly timeoutMs: number;
  /** Reports a store call that failed, timed out or returned an invalid value (a `store-error` event). */
  readonly report: (operation: TokenStoreOperation, error: unknown) => void;
}

/** How often a process waiting on another holder's lock looks in a store that cannot wake it (no `waitForUnlock`). */
export const lockPollMs = 50;
/** Before a cache's first write: one settled promise for all of them, not one per cache (a registry holds thousands). */
const nothingPublished: Promise<unknown> = Promise.resolve();
/**
 * Runs `callback` once the I/O that has already arrived is read: Node's, Bun's and Deno's `setImmediate` (its check phase
 * comes after the poll phase), else a 0 ms timer (a Worker).
 */
const afterPendingIo: (callback: () => void) => void = (() => {
  const { setImmediate } = globalThis as { setImmediate?: (callback: () => void) => unknown };
  return typeof setImmediate === 'function' ? (callback) => void setImmediate(callback) : (callback) => void setTimeout(callback, 0);
})();
/** Tombstones kept per cache at most: a 401 storm must not grow memory. */
const maxTombstones = 16;
/** A store's value under this suffix of the cache key marks a dropped token (by fingerprint) as never to be used. */
const tombstoneSuffix = ':dropped:';
/** The provider state (a rotating refresh token) lives under this suffix of the cache key, apart from the token. */
const stateSuffix = ':state';
/**
 * The credential a store key belongs to (its cache key) and what the key holds under it: `''` for the token itself,
 * `':state'` for the provider state, `':dropped:<fingerprint>'` for a tombstone. A store that spreads keys over
 * shards (a Redis Cluster) keeps a credential's keys together by its cache key, so one script can reach them all.
 */
export function splitTokenStoreKey(key: string): {
  /** The credential's cache key. */
  readonly cacheKey: string;
  /** What the key holds under it: `''`, `':state'` or `':dropped:<fingerprint>'`. */
  readonly suffix: string;
} {
  // The state first: a tombstone ends in a fingerprint (hex), never in `:state`, whatever the cache key holds.
  if (key.endsWith(stateSuffix) && key.length > stateSuffix.length) {
    return { cacheKey: key.slice(0, -stateSuffix.length), suffix: stateSuffix };
  }
  const dropped = key.lastIndexOf(tombstoneSuffix);
  if (dropped > 0 && !key.includes(':', dropped + tombstoneSuffix.length)) {
    return { cacheKey: key.slice(0, dropped), suffix: key.slice(dropped) };
  }
  return { cacheKey: key, suffix: '' };
}

/**
 * How long a published state stays in the store: a day, PortOne V2's refresh-token lifetime. Longer than any token's
 * record, and never deleted with a dropped token, whose refresh token is still good.
 */
export const storedStateTtlMs = 24 * 60 * 60_000;

/**
 * The token cache's side of a {@link TokenStore}: every call bounded by `storeTimeoutMs` and never thrown, every value
 * checked like a gateway's token, and the tombstones of dropped tokens kept here and in the store.
 */
export class StoreExchange {
  readonly #settings: StoreExchangeSettings;
  readonly #tombstones = new Map<string, Tombstone>();
  #drops = 0;
  /** The last token written: a lock is released only after it, so a waiter woken by the release finds the token. */
  #published: Promise<unknown> = nothingPublished;

  constructor(settings: StoreExchangeSettings) {
    this.#settings = settings;
  }

  /** How many tokens have been buried so far: a request compares it before and after. */
  get drops(): number {
    return this.#drops;
  }

  /** Whether any token was ever buried here (the next request's reason is then `invalidated`). */
  get hasBuried(): boolean {
    return this.#tombstones.size > 0;
  }

  /** The stored token, checked and not buried here. */
  async read(): Promise<StoreRead> {
    const { store, cacheKey, clock } = this.#settings;
    const result = await this.call('get', () => readEntry(store, cacheKey));
    if (!result.ok) return { kind: 'failed' };
    const entry = result.value;
    if (entry === undefined) return { kind: 'absent' };
    const now = clock.now();
    const checked = typeof entry.value === 'string' ? checkStoredToken(entry.value, now) : 'not a string';
    if (typeof checked === 'string') {
      this.#settings.report('get', this.#error('get', `The store's value is not a valid token (${checked}); ignored`, 'invalid-value'));
      return { kind: 'absent' };
    }
    // The store's clock is the fleet's one clock: a token lives no longer than the store keeps it, whatever this
    // process' wall clock (which may have stepped back since the writer computed the expiry) says.
    const { remainingMs } = entry;
    const stored =
      typeof remainingMs === 'number' && Number.isFinite(remainingMs) && remainingMs >= 0 && now + remainingMs < checked.expiresAt
        ? { ...checked, expiresAt: now + remainingMs }
        : checked;
    const tokenFingerprint = fingerprint(stored.accessToken);
    if (this.buried(tokenFingerprint) !== undefined) return { kind: 'absent', stored };
    return { kind: 'token', stored, fingerprint: tokenFingerprint };
  }

  /** Whether another process buried the token: asked only before adopting one. Buries it here too if so. */
  async buriedElsewhere(tokenFingerprint: string, deadline: number, requestTimeoutMs: number): Promise<boolean> {
    const result = await this.call('get', () => this.#settings.store.get(this.#tombstoneKey(tokenFingerprint)));
    if (!result.ok || result.value === undefined) return false;
    this.bury(tokenFingerprint, deadline, requestTimeoutMs);
    return true;
  }

  /** Buries a token here, until `deadline` or for as long as a request on the wire may take to bring it back. */
  bury(tokenFingerprint: string, deadline: number, requestTimeoutMs: number): void {
    const now = this.#settings.clock.monotonic();
    for (const [key, tombstone] of this.#tombstones) {
      if (tombstone.until <= now || this.#tombstones.size >= maxTombstones) this.#tombstones.delete(key);
    }
    this.#drops += 1;
    this.#tombstones.set(tokenFingerprint, { until: Math.max(deadline, now + requestTimeoutMs), drop: this.#drops });
  }

  /** The token's tombstone here, if it has a live one. */
  buried(tokenFingerprint: string): Tombstone | undefined {
    const tombstone = this.#tombstones.get(tokenFingerprint);
    if (tombstone === undefined || tombstone.until > this.#settings.clock.monotonic()) return tombstone;
    this.#tombstones.delete(tokenFingerprint);
    return undefined;
  }

  /** The gateway stands by a buried token (asked for after the drop): it may be shared again, here and elsewhere. */
  unbury(tokenFingerprint: string): void {
    this.#tombstones.delete(tokenFingerprint);
    void this.call('delete', () => this.#settings.store.delete(this.#tombstoneKey(tokenFingerprint)));
  }

  /**
   * Drops a token from the store after a 401: its tombstone there for its remaining life (not awaited), and the value
   * itself, compare-and-delete, if the store still holds it.
   */
  async forget(accessToken: string, tokenFingerprint: string, remainingMs: number): Promise<void> {
    const { store, cacheKey, clock } = this.#settings;
    if (remainingMs > 0) void this.call('set', () => store.set(this.#tombstoneKey(tokenFingerprint), '1', remainingMs));
    const stored = await this.call('get', () => store.get(cacheKey));
    if (stored.ok && stored.value !== undefined && parseStoredToken(stored.value, clock.now())?.accessToken === accessToken) {
      await this.call('delete', () => store.delete(cacheKey, stored.value));
    }
  }

  /** Writes the provider state the last answer carried, for the next process to ask; not awaited. */
  publishState(state: string): void {
    void this.call('set', () => this.#settings.store.set(this.#settings.cacheKey + stateSuffix, state, storedStateTtlMs));
  }

  /** The provider state another process (or this one) published last, if the store has a usable one. */
  async readState(): Promise<string | undefined> {
    const result = await this.call('get', () => this.#settings.store.get(this.#settings.cacheKey + stateSuffix));
    if (!result.ok || result.value === undefined) return undefined;
    if (isUsableState(result.value)) return result.value;
    this.#settings.report(
      'get',
      this.#error('get', "The store's provider state is not visible ASCII of at most 8 KiB; ignored", 'invalid-value'),
    );
    return undefined;
  }

  /** Writes a token for other processes; not awaited by callers, so a slow store holds no one up. */
  publish(value: string, ttlMs: number): void {
    this.#published = this.call('set', () => this.#settings.store.set(this.#settings.cacheKey, value, ttlMs));
  }

  /** Tries to take the store's lock for `ttlMs`. */
  async lock(ttlMs: number): Promise<StoreLock> {
    const { store, cacheKey } = this.#settings;
    if (store.lock === undefined) return { kind: 'none' };
    const result = await this.call('lock', () => store.lock!(cacheKey, ttlMs));
    if (!result.ok) return { kind: 'none' };
    return result.value === undefined ? { kind: 'busy' } : { kind: 'held', lock: result.value };
  }

  /**
   * Releases a lock; not awaited by callers. Only once the token written under it has settled: a store with several
   * connections (a pool) could otherwise wake the waiters before the token is there to read.
   */
  release(lock: TokenStoreLock): void {
    void this.#published.then(() => this.call('release', () => lock.release()));
  }

  /**
   * Waits, at most `timeoutMs`, until the store's lock may be free: woken by the store where it can be
   * (`waitForUnlock`), else after one poll interval, and after one too when the store's wait fails.
   */
  async waitForUnlock(timeoutMs: number): Promise<void> {
    const { store, cacheKey, timeoutMs: storeTimeoutMs } = this.#settings;
    const pollMs = Math.min(lockPollMs, timeoutMs);
    if (store.waitForUnlock === undefined) return delay(pollMs);
    const waited = await this.call('wait', () => store.waitForUnlock!(cacheKey, timeoutMs), timeoutMs + storeTimeoutMs);
    if (!waited.ok) await delay(pollMs);
  }

  /**
   * Calls the store, bounded by `storeTimeoutMs`: a store that throws, rejects or never answers is reported and
   * counts as failed. A lock that arrives after its time-out is released at once, so it holds no one up.
   */
  call<T>(operation: TokenStoreOperation, call: () => Promise<T>, timeoutMs = this.#settings.timeoutMs): Promise<StoreCallResult<T>> {
    const { report } = this.#settings;
    return new Promise<StoreCallResult<T>>((resolve) => {
      let settled = false;
      const fail = (error: unknown): void => {
        settled = true;
        report(operation, error);
        resolve({ ok: false });
      };
      const timer = setTimeout(() => {
        // After the I/O already received: a process starved of CPU runs its overdue timers before it reads the replies
        // that came meanwhile, and a reply already received must not lose to its own time-out.
        afterPendingIo(() => {
          if (!settled)
            fail(
              this.#error(
                operation,
                `Token store ${operation} did not settle within ${operation === 'wait' ? 'its wait plus storeTimeoutMs' : 'storeTimeoutMs'} (${timeoutMs} ms)`,
                'timeout',
              ),
            );
        });
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
            resolve({ ok: true, value });
          } else if (operation === 'lock') (value as TokenStoreLock | undefined)?.release().catch(noop);
        },
        (error: unknown) => {
          clearTimeout(timer);
          if (!settled) fail(error);
        },
      );
    });
  }

  #tombstoneKey(tokenFingerprint: string): string {
    return `${this.#settings.cacheKey}${tombstoneSuffix}${tokenFingerprint}`;
  }

  #error(operation: TokenStoreOperation, message: string, reason: 'timeout' | 'invalid-value'): TokenStoreError {
    return new TokenStoreError(message, { provider: this.#settings.provider, operation, reason });
  }
}

/** The store's value with its remaining time to live where the store can tell, from `getEntry` or else `get`. */
async function readEntry(store: TokenStore, key: string): Promise<TokenStoreEntry | undefined> {
  if (store.getEntry !== undefined) return store.getEntry(key);
  const value = await store.get(key);
  return value === undefined ? undefined : { value };
}

function delay(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

function noop(): void {}
