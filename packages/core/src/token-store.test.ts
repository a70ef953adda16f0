import { createManualClock } from '@x/test-support/clock';
import { describe, expect, it } from 'vitest';
import { createTokenCache } from './token-cache.js';
import type { TokenProvider } from './token-provider.js';
import { createMemoryTokenStore, parseStoredToken, type StoredToken, serializeToken, type TokenStore } from './token-store.js';
import { StoreExchange, splitTokenStoreKey } from './token-store-exchange.js';

describe('createMemoryTokenStore', () => {
  it('should return what was set until its time to live runs out', async () => {
    const clock = createManualClock();
    const store = createMemoryTokenStore({ clock });
    expect(await store.get('key')).toBeUndefined();
    await store.set('key', 'value', 1_000);
    expect(await store.get('key')).toBe('value');
    expect(await store.get('other')).toBeUndefined();
    clock.advance(999);
    expect(await store.get('key')).toBe('value');
    clock.advance(1);
    expect(await store.get('key')).toBeUndefined();
  });

  it('should measure time to live on the monotonic clock only', async () => {
    let wall = 0;
    let monotonic = 0;
    const store = createMemoryTokenStore({ clock: { now: () => wall, monotonic: () => monotonic } });
    await store.set('key', 'value', 1_000);
    wall += 10 * 3_600_000;
    expect(await store.get('key')).toBe('value');
    wall -= 20 * 3_600_000;
    monotonic += 1_000;
    expect(await store.get('key')).toBeUndefined();
  });

  it('should replace a value and restart its time to live', async () => {
    const clock = createManualClock();
    const store = createMemoryTokenStore({ clock });
    await store.set('key', 'first', 1_000);
    clock.advance(900);
    await store.set('key', 'second', 1_000);
    clock.advance(900);
    expect(await store.get('key')).toBe('second');
  });

  it('should delete unconditionally, or only while the value is the expected one', async () => {
    const store = createMemoryTokenStore({ clock: createManualClock() });
    await store.set('key', 'current', 1_000);
    await store.delete('key', 'older');
    expect(await store.get('key')).toBe('current');
    await store.delete('key', 'current');
    expect(await store.get('key')).toBeUndefined();
    await store.set('key', 'again', 1_000);
    await store.delete('key');
    expect(await store.get('key')).toBeUndefined();
    await expect(store.delete('missing', 'anything')).resolves.toBeUndefined();
  });

  it('should give a lock to one holder at a time and free it on release', async () => {
    const store = createMemoryTokenStore({ clock: createManualClock() });
    const first = await store.lock!('key', 1_000);
    expect(first).toBeDefined();
    expect(await store.lock!('key', 1_000)).toBeUndefined();
    expect(await store.lock!('other', 1_000)).toBeDefined();
    await first!.release();
    expect(await store.lock!('key', 1_000)).toBeDefined();
  });

  it('should let a lock expire, and not let a stale holder release its successor’s lock', async () => {
    const clock = createManualClock();
    const store = createMemoryTokenStore({ clock });
    const stale = await store.lock!('key', 1_000);
    clock.advance(1_000);
    const successor = await store.lock!('key', 1_000);
    expect(successor).toBeDefined();
    await stale!.release();
    expect(await store.lock!('key', 1_000)).toBeUndefined();
    await successor!.release();
    await expect(successor!.release()).resolves.toBeUndefined();
    expect(await store.lock!('key', 1_000)).toBeDefined();
  });

  it('should keep separate stores apart', async () => {
    const clock = createManualClock();
    const first = createMemoryTokenStore({ clock });
    const second = createMemoryTokenStore({ clock });
    await first.set('key', 'value', 1_000);
    expect(await second.get('key')).toBeUndefined();
    await first.lock!('key', 1_000);
    expect(await second.lock!('key', 1_000)).toBeDefined();
  });

  it('should work with the system clock by default', async () => {
    const store = createMemoryTokenStore();
    await store.set('key', 'value', 60_000);
    expect(await store.get('key')).toBe('value');
  });
});

describe('serializeToken and parseStoredToken', () => {
  const token: StoredToken = { accessToken: 'token-1', expiresAt: 1_735_689_600_000, lifetimeMs: 1_800_000 };

  it('should round-trip a token', () => {
    expect(parseStoredToken(serializeToken(token))).toEqual(token);
  });

  it('should write a versioned record with only the token fields', () => {
    expect(JSON.parse(serializeToken({ ...token, extra: 'ignored' } as StoredToken))).toEqual({ v: 1, ...token });
  });

  it('should return undefined for anything it did not write', () => {
    for (const value of [
      undefined,
      '',
      'not json',
      'null',
      '"token-1"',
      '[]',
      JSON.stringify({ ...token, v: 2 }),
      JSON.stringify({ ...token, v: undefined }),
      JSON.stringify({ v: 1, ...token, accessToken: '' }),
      JSON.stringify({ v: 1, ...token, accessToken: 42 }),
      JSON.stringify({ v: 1, ...token, expiresAt: '1735689600000' }),
      JSON.stringify({ v: 1, accessToken: 'token-1', expiresAt: 1 }),
    ]) {
      expect(parseStoredToken(value)).toBeUndefined();
    }
  });
});

describe('splitTokenStoreKey', () => {
  it('should find the cache key of every key the cache writes for a credential: token, tombstone, provider state', async () => {
    const written: string[] = [];
    const memory = createMemoryTokenStore();
    const store: TokenStore = {
      get: (key) => memory.get(key),
      delete: (key, expected) => memory.delete(key, expected),
      async set(key, value, ttlMs) {
        written.push(key);
        await memory.set(key, value, ttlMs);
      },
    };
    const cacheKey = 'iamport:4f1c:dropped';
    const exchange = new StoreExchange({
      store,
      provider: 'test',
      cacheKey,
      clock: createManualClock(),
      timeoutMs: 1_000,
      report: () => {},
    });
    exchange.publish('value', 60_000);
    exchange.publishState('state-1');
    await exchange.forget('token-1', 'abcdef12', 60_000);

    expect(written).toHaveLength(3);
    expect(written.map((key) => splitTokenStoreKey(key).cacheKey)).toEqual([cacheKey, cacheKey, cacheKey]);
    expect(written.map((key) => splitTokenStoreKey(key).suffix).sort()).toEqual(['', ':dropped:abcdef12', ':state']);
  });
});

describe('store time', () => {
  it("should not keep a stored token past its life in the store when the reader's wall clock stepped back", async () => {
    // One monotonic time for everyone; the reader's wall clock is 50 s behind the writer's (less than the minute a
    // stored expiry may exceed its lifetime by, so the value passes the checks).
    const writerClock = createManualClock();
    const readerClock = createManualClock();
    readerClock.jumpWall(-50_000);
    const advance = (milliseconds: number): void => {
      writerClock.advance(milliseconds);
      readerClock.advance(milliseconds);
    };
    let requests = 0;
    const provider: TokenProvider = {
      provider: 'test',
      cacheKey: 'test:store-time',
      baseUrl: 'https://gateway.invalid',
      async requestToken({ now }) {
        requests += 1;
        return { accessToken: `token-${requests}-xcanary`, expiresAt: now() + 60_000 };
      },
    };
    const store = createMemoryTokenStore({ clock: writerClock });
    const writer = createTokenCache(provider, { store, clock: writerClock });
    const reader = createTokenCache(provider, { store, clock: readerClock });

    const written = await writer.getToken();
    advance(30_000);
    const read = await reader.getToken();
    expect(read.accessToken).toBe(written.accessToken);
    expect(requests).toBe(1);
    // Its expiry as the store counts it (30 s left), on the reader's wall clock: not 80 s away.
    expect(read.expiresAt - readerClock.now()).toBeLessThanOrEqual(30_000);

    advance(31_000);
    expect((await reader.getToken()).accessToken).not.toBe(written.accessToken);
    expect(requests).toBe(2);
  });

  it('should give the remaining time to live with the value from getEntry, on the monotonic clock', async () => {
    const clock = createManualClock();
    const store = createMemoryTokenStore({ clock });
    await store.set('key', 'value', 1_000);
    clock.jumpWall(-3_600_000);
    clock.advance(400);
    expect(await store.getEntry?.('key')).toEqual({ value: 'value', remainingMs: 600 });
    expect(await store.getEntry?.('other')).toBeUndefined();
  });
});
