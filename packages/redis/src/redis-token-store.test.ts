import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import {
  createTokenCache,
  ErrorCode,
  isAuthError,
  isConfigurationError,
  isTokenStoreError,
  type TokenEvent,
  type TokenStore,
  TokenStoreError,
} from '@x/core';
import { describeWithRedis } from '@x/test-support/redis';
import { startTestTokenServer, type TestTokenServer, testProvider } from '@x/test-support/token-server';
import { createClient, type RedisClientType } from 'redis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRedisTokenStore, RedisTokenStoreError, type RedisTokenStoreEvent } from './index.js';
import { type RedisServer, startRedisServer } from './testing/index.js';

/** A token as the cache writes it to a store (`@x/core`'s format, version 1). */
function storedToken(token: { accessToken: string; expiresAt: number; lifetimeMs: number }): string {
  return JSON.stringify({ v: 1, ...token });
}

const recommendedOptions = {
  disableOfflineQueue: true,
  socket: { connectTimeout: 500, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 500) },
} as const;

const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

describeWithRedis('createRedisTokenStore', () => {
  let redis: RedisServer;
  let client: RedisClientType;
  const clients: RedisClientType[] = [];

  const connect = async (options: Parameters<typeof createClient>[0] = recommendedOptions): Promise<RedisClientType> => {
    const connected = createClient({ url: redis.url, ...options }) as RedisClientType;
    connected.on('error', () => {});
    await connected.connect();
    clients.push(connected);
    return connected;
  };

  beforeAll(async () => {
    redis = await startRedisServer();
  });

  afterAll(async () => {
    await redis?.kill();
  });

  beforeEach(async () => {
    client = await connect();
    await client.flushAll();
  });

  afterEach(() => {
    redis.resume();
    for (const connected of clients.splice(0)) connected.destroy();
  });

  describe('values', () => {
    it('should store a value under <keyPrefix>{<cacheKey>}:token with the token lifetime as its Redis TTL', async () => {
      const store = createRedisTokenStore({ client, plaintext: true });
      await store.set('test:abc', 'value-1', 60_000);

      expect(await store.get('test:abc')).toBe('value-1');
      expect(await client.get('x:{test:abc}:token')).toBe('value-1');
      const ttl = await client.pTTL('x:{test:abc}:token');
      expect(ttl).toBeGreaterThan(59_000);
      expect(ttl).toBeLessThanOrEqual(60_000);
    });

    it('should use the given keyPrefix', async () => {
      const store = createRedisTokenStore({ client, keyPrefix: 'shop:', plaintext: true });
      await store.set('test:abc', 'value-1', 60_000);

      expect(await client.keys('*')).toEqual(['shop:{test:abc}:token']);
    });

    it('should forget a value once its TTL has passed', async () => {
      const store = createRedisTokenStore({ client, plaintext: true });
      await store.set('test:abc', 'value-1', 50);
      await sleep(120);

      expect(await store.get('test:abc')).toBeUndefined();
      expect(await client.exists('x:{test:abc}:token')).toBe(0);
    });

    it('should return undefined for a key never written', async () => {
      expect(await createRedisTokenStore({ client, plaintext: true }).get('test:none')).toBeUndefined();
    });

    it('should delete a value unconditionally without expected', async () => {
      const store = createRedisTokenStore({ client, plaintext: true });
      await store.set('test:abc', 'value-1', 60_000);
      await store.delete('test:abc');

      expect(await store.get('test:abc')).toBeUndefined();
    });

    it('should compare-and-delete: only while the key still holds the expected value', async () => {
      const store = createRedisTokenStore({ client, plaintext: true });
      await store.set('test:abc', 'value-2', 60_000);
      await store.delete('test:abc', 'value-1');
      expect(await store.get('test:abc')).toBe('value-2');

      await store.delete('test:abc', 'value-2');
      expect(await store.get('test:abc')).toBeUndefined();
    });
  });

  describe('lock', () => {
    it('should let one holder at a time take the lock, across clients', async () => {
      const first = createRedisTokenStore({ client, plaintext: true });
      const second = createRedisTokenStore({ client: await connect(), plaintext: true });

      const lock = await first.lock('test:abc', 5_000);
      expect(lock).toBeDefined();
      expect(await second.lock('test:abc', 5_000)).toBeUndefined();
      // Held a lease (2 s) at a time, extended while its holder lives.
      expect(await client.pTTL('x:{test:abc}:lock')).toBeGreaterThan(1_000);
      expect(await client.pTTL('x:{test:abc}:lock')).toBeLessThanOrEqual(2_000);

      await lock!.release();
      expect(await second.lock('test:abc', 5_000)).toBeDefined();
    });

    it('should free the lock after its TTL when the holder never releases it', async () => {
      const store = createRedisTokenStore({ client, plaintext: true });
      expect(await store.lock('test:abc', 50)).toBeDefined();
      await sleep(120);

      expect(await store.lock('test:abc', 5_000)).toBeDefined();
    });

    it('should not release a lock another holder took after this one expired', async () => {
      const store = createRedisTokenStore({ client, plaintext: true });
      const stale = await store.lock('test:abc', 50);
      await sleep(120);
      const current = await store.lock('test:abc', 5_000);
      expect(current).toBeDefined();

      await stale!.release();

      expect(await store.lock('test:abc', 5_000)).toBeUndefined();
      await current!.release();
      expect(await client.exists('x:{test:abc}:lock')).toBe(0);
    });

    it('should extend a held lock while its holder lives, for its TTL at most', async () => {
      const events: RedisTokenStoreEvent[] = [];
      const store = createRedisTokenStore({ client, plaintext: true, lockLeaseMs: 600, onEvent: (event) => events.push(event) });
      const other = createRedisTokenStore({ client: await connect(), plaintext: true });
      const lock = await store.lock('test:abc', 2_400);
      expect(await client.pTTL('x:{test:abc}:lock')).toBeLessThanOrEqual(600);
      // Three leases later, still held: extended every 200 ms.
      await sleep(1_800);
      expect(await other.lock('test:abc', 5_000)).toBeUndefined();
      expect(await client.pTTL('x:{test:abc}:lock')).toBeLessThanOrEqual(600);
      // Never past its TTL, released or not.
      await sleep(900);
      expect(await other.lock('test:abc', 5_000)).toBeDefined();
      await lock!.release();
      expect(events).toEqual([]);
    });

    it('should report a lock lost to another holder, and not release that holder’s lock', async () => {
      const events: RedisTokenStoreEvent[] = [];
      const store = createRedisTokenStore({ client, plaintext: true, lockLeaseMs: 600, onEvent: (event) => events.push(event) });
      const lock = await store.lock('test:abc', 60_000);
      // Another process took it over (this one was frozen past its lease).
      await client.set('x:{test:abc}:lock', 'someone-else', { PX: 60_000 });
      await sleep(400);
      expect(events).toEqual([expect.objectContaining({ type: 'store-lock-lost', cacheKey: 'test:abc' })]);
      await lock!.release();
      expect(await client.get('x:{test:abc}:lock')).toBe('someone-else');
    });

    it('should wake waiters over pub/sub unless wakeWaiters is false or the client cannot be duplicated', async () => {
      expect(createRedisTokenStore({ client, plaintext: true }).waitForUnlock).toBeTypeOf('function');
      expect(createRedisTokenStore({ client, plaintext: true, wakeWaiters: false }).waitForUnlock).toBeUndefined();
      const adapter = { sendCommand: (args: string[]) => client.sendCommand(args) };
      expect(createRedisTokenStore({ client: adapter, plaintext: true }).waitForUnlock).toBeUndefined();

      // Without pub/sub, a release publishes nothing.
      const subscriber = await connect();
      const heard: string[] = [];
      await subscriber.subscribe('x:{test:abc}:unlocked', (message) => heard.push(message));
      const quiet = createRedisTokenStore({ client, plaintext: true, wakeWaiters: false });
      await (await quiet.lock('test:abc', 5_000))!.release();
      const loud = createRedisTokenStore({ client, plaintext: true });
      await (await loud.lock('test:abc', 5_000))!.release();
      await client.ping();
      await sleep(50);
      expect(heard).toEqual(['1']);
    });

    it('should keep one subscriber connection per client across waits, and close it once the client is closed', async () => {
      const connections = async (): Promise<number> => (await client.clientList()).length;
      const own = await connect();
      const before = await connections();
      // Only the store's check of its client is faked: the one interval it sets.
      vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
      try {
        const stores = [createRedisTokenStore({ client: own, plaintext: true }), createRedisTokenStore({ client: own, plaintext: true })];
        for (const store of stores) await store.waitForUnlock!('test:abc', 60_000);
        await stores[0]!.waitForUnlock!('test:def', 60_000);
        // One for both stores, and for every wait; still there long after the last.
        await vi.advanceTimersByTimeAsync(60_000);
        expect(await connections()).toBe(before + 1);
        clients.splice(clients.indexOf(own), 1);
        own.destroy();
        await vi.advanceTimersByTimeAsync(10_000);
      } finally {
        vi.useRealTimers();
      }
      await vi.waitFor(async () => expect(await connections()).toBe(before - 1));
    });

    it('should reject a wait (the cache then polls) and open the subscriber again when it could not open', async () => {
      const store = createRedisTokenStore({ client, plaintext: true });
      await client.set('x:{test:abc}:lock', 'holder', { PX: 60_000 });
      redis.pause();
      await expect(store.waitForUnlock!('test:abc', 60_000)).rejects.toThrow(/lock subscriber timed out connecting/);
      await expect(store.waitForUnlock!('test:abc', 60_000)).rejects.toMatchObject({
        name: 'RedisTokenStoreError',
        operation: 'wait',
        timedOut: true,
      });
      redis.resume();
      await client.del('x:{test:abc}:lock');
      await expect(store.waitForUnlock!('test:abc', 60_000)).resolves.toBeUndefined();
    });

    it('should keep locks and values apart', async () => {
      const store = createRedisTokenStore({ client, plaintext: true });
      await store.lock('test:abc', 5_000);

      expect(await store.get('test:abc')).toBeUndefined();
    });
  });

  describe('encryption', () => {
    const key = randomBytes(32);
    const token = `secret-token-${randomBytes(8).toString('hex')}`;
    const value = storedToken({ accessToken: token, expiresAt: Date.now() + 60_000, lifetimeMs: 60_000 });

    it('should store no usable token in Redis and read it back', async () => {
      const store = createRedisTokenStore({ client, encryptionKey: key });
      await store.set('test:abc', value, 60_000);

      const raw = await client.get('x:{test:abc}:token');
      expect(raw).toMatch(/^xenc1\.[0-9a-f]{8}\.[\w-]{16}\.[\w-]+$/);
      expect(raw).not.toContain(token);
      expect(Buffer.from(raw!.split('.')[3]!, 'base64url').toString('latin1')).not.toContain(token);
      expect(await store.get('test:abc')).toBe(value);
    });

    it('should use a fresh IV for every write', async () => {
      const store = createRedisTokenStore({ client, encryptionKey: key });
      await store.set('test:abc', value, 60_000);
      const first = await client.get('x:{test:abc}:token');
      await store.set('test:abc', value, 60_000);

      expect(await client.get('x:{test:abc}:token')).not.toBe(first);
    });

    it('should accept the key as 64 hex digits or base64', async () => {
      const writer = createRedisTokenStore({ client, encryptionKey: key.toString('hex') });
      await writer.set('test:abc', value, 60_000);

      expect(await createRedisTokenStore({ client, encryptionKey: key.toString('base64') }).get('test:abc')).toBe(value);
      expect(await createRedisTokenStore({ client, encryptionKey: key.toString('base64url') }).get('test:abc')).toBe(value);
    });

    it.each([
      [
        'a tampered value',
        'authentication-failed',
        async (raw: string) => client.set('x:{test:abc}:token', raw.slice(0, -2) + (raw.endsWith('AA') ? 'AB' : 'AA')),
      ],
      [
        'a value moved from another cache key',
        'authentication-failed',
        async (raw: string) => {
          await client.set('x:{test:other}:token', raw);
          await client.rename('x:{test:other}:token', 'x:{test:abc}:token');
        },
      ],
      ['a value in another shape', 'malformed', async () => client.set('x:{test:abc}:token', 'xenc1.garbage')],
      ['a plaintext value', 'not-encrypted', async () => client.set('x:{test:abc}:token', value)],
    ])('should treat %s as absent and report it', async (_name, reason, corrupt) => {
      const events: RedisTokenStoreEvent[] = [];
      const store = createRedisTokenStore({ client, encryptionKey: key, onEvent: (event) => events.push(event) });
      await store.set(_name.includes('moved') ? 'test:other' : 'test:abc', value, 60_000);
      const raw = (await client.get(_name.includes('moved') ? 'x:{test:other}:token' : 'x:{test:abc}:token'))!;
      await corrupt(raw);

      await expect(store.get('test:abc')).resolves.toBeUndefined();
      expect(events).toEqual([{ type: 'store-decrypt-failed', cacheKey: 'test:abc', reason, time: expect.any(Number) }]);
    });

    it('should treat a value encrypted with another key as absent and say so', async () => {
      const events: RedisTokenStoreEvent[] = [];
      await createRedisTokenStore({ client, encryptionKey: randomBytes(32) }).set('test:abc', value, 60_000);
      const store = createRedisTokenStore({ client, encryptionKey: key, onEvent: (event) => events.push(event) });

      expect(await store.get('test:abc')).toBeUndefined();
      expect(events).toMatchObject([{ type: 'store-decrypt-failed', reason: 'unknown-key' }]);
    });

    it('should read values under a previous key of encryptionKeys and write under the current one', async () => {
      const previous = randomBytes(32);
      await createRedisTokenStore({ client, encryptionKey: previous }).set('test:abc', value, 60_000);
      const events: RedisTokenStoreEvent[] = [];
      const rotated = createRedisTokenStore({ client, encryptionKeys: [key, previous], onEvent: (event) => events.push(event) });

      expect(await rotated.get('test:abc')).toBe(value);
      await rotated.set('test:abc', value, 60_000);
      expect(await createRedisTokenStore({ client, encryptionKey: key }).get('test:abc')).toBe(value);
      expect(await createRedisTokenStore({ client, encryptionKey: previous }).get('test:abc')).toBeUndefined();
      expect(events).toEqual([]);
      // A value under the previous key is compare-and-deleted like one under the current key.
      await createRedisTokenStore({ client, encryptionKey: previous }).set('test:abc', value, 60_000);
      await rotated.delete('test:abc', value);
      expect(await client.exists('x:{test:abc}:token')).toBe(0);
    });

    it('should treat an encrypted value as absent in a store without a key', async () => {
      const events: RedisTokenStoreEvent[] = [];
      await createRedisTokenStore({ client, encryptionKey: key }).set('test:abc', value, 60_000);
      const store = createRedisTokenStore({ client, onEvent: (event) => events.push(event), plaintext: true });

      expect(await store.get('test:abc')).toBeUndefined();
      expect(events).toMatchObject([{ type: 'store-decrypt-failed', reason: 'no-key' }]);
    });

    it('should compare-and-delete on the decrypted value and spare a newer one', async () => {
      const store = createRedisTokenStore({ client, encryptionKey: key });
      const newer = storedToken({ accessToken: 'newer-token', expiresAt: Date.now() + 60_000, lifetimeMs: 60_000 });
      await store.set('test:abc', newer, 60_000);
      await store.delete('test:abc', value);
      expect(await store.get('test:abc')).toBe(newer);

      await store.delete('test:abc', newer);
      expect(await client.exists('x:{test:abc}:token')).toBe(0);
    });
  });

  describe('configuration', () => {
    it.each([
      ['31 bytes', randomBytes(31)],
      ['a short hex string', randomBytes(31).toString('hex')],
      ['base64 of 33 bytes', randomBytes(33).toString('base64')],
      ['a passphrase', 'correct horse battery staple, really quite long and secret'],
      ['a number', 42],
    ])('should refuse an encryption key of %s with a ConfigurationError that does not contain it', (_name, encryptionKey) => {
      let error: unknown;
      try {
        createRedisTokenStore({ client, encryptionKey: encryptionKey as string });
      } catch (caught) {
        error = caught;
      }
      expect(isConfigurationError(error)).toBe(true);
      expect(error).toMatchObject({ path: 'encryptionKey', provider: 'redis' });
      const secret = Buffer.isBuffer(encryptionKey) ? encryptionKey.toString('hex') : String(encryptionKey);
      for (const text of [(error as Error).message, JSON.stringify(error), inspect(error)]) {
        expect(text).not.toContain(secret);
        if (Buffer.isBuffer(encryptionKey)) expect(text).not.toContain(encryptionKey.toString('base64'));
      }
    });

    it('should refuse a store without an encryption key unless plaintext is opted into, naming the option', () => {
      // An unset variable gives undefined: that must not silently store bearer tokens in plaintext.
      expect(process.env.X_TEST_UNSET_TOKEN_STORE_KEY).toBeUndefined();
      let error: unknown;
      try {
        createRedisTokenStore({ client, encryptionKey: process.env.X_TEST_UNSET_TOKEN_STORE_KEY });
      } catch (caught) {
        error = caught;
      }
      expect(isConfigurationError(error)).toBe(true);
      expect(error).toMatchObject({
        provider: 'redis',
        issues: [{ path: 'encryptionKey', message: expect.stringContaining('plaintext: true') }],
      });
      expect(() => createRedisTokenStore({ client } as never)).toThrow(/encryptionKey: required.*plaintext: true/);
      expect(() => createRedisTokenStore({ client, encryptionKey: null } as never)).toThrow(/plaintext: true/);
      expect(() => createRedisTokenStore({ client, plaintext: true })).not.toThrow();
    });

    it.each([
      ['empty', { encryptionKeys: [] }, 'encryptionKeys', /at least the current key/],
      ['beside encryptionKey', { encryptionKeys: [randomBytes(32)], encryptionKey: randomBytes(32) }, 'encryptionKeys', /not both/],
      ['with a short previous key', { encryptionKeys: [randomBytes(32), randomBytes(31)] }, 'encryptionKeys.1', /32 bytes/],
      ['with an unset previous key', { encryptionKeys: [randomBytes(32), undefined] }, 'encryptionKeys.1', /32 bytes/],
      ['not an array', { encryptionKeys: randomBytes(32) }, 'encryptionKeys', /array/],
      ['beside plaintext', { encryptionKeys: [randomBytes(32)], plaintext: true }, 'plaintext', /encryptionKey/],
    ])('should refuse encryptionKeys %s', (_name, options, path, message) => {
      expect(() => createRedisTokenStore({ client, ...options } as never)).toThrow(
        expect.objectContaining({ issues: [expect.objectContaining({ path, message: expect.stringMatching(message) })] }),
      );
    });

    it.each([
      ['a string', { plaintext: 'true' }, 'plaintext', /must be true or false/],
      ['false without a key', { plaintext: false }, 'encryptionKey', /plaintext: true/],
      ['true beside a key', { plaintext: true, encryptionKey: randomBytes(32) }, 'plaintext', /encryptionKey/],
    ])('should refuse plaintext as %s', (_name, options, path, message) => {
      expect(() => createRedisTokenStore({ client, ...options } as never)).toThrow(
        expect.objectContaining({ issues: [expect.objectContaining({ path, message: expect.stringMatching(message) })] }),
      );
    });

    it('should refuse an operationTimeoutMs over 2^31-1 ms, which a timer fires after 1 ms', () => {
      expect(() => createRedisTokenStore({ client, plaintext: true, operationTimeoutMs: 2 ** 31 })).toThrow(
        expect.objectContaining({
          name: 'ConfigurationError',
          issues: [{ path: 'operationTimeoutMs', message: expect.stringMatching(/^must be at most 2147483647 /) }],
        }),
      );
      expect(() => createRedisTokenStore({ client, plaintext: true, operationTimeoutMs: 2 ** 31 - 1 })).not.toThrow();
    });

    it('should refuse a keyPrefix with a brace, which would put every credential in one cluster slot', () => {
      expect(() => createRedisTokenStore({ client, keyPrefix: 'x{shop}:', plaintext: true })).toThrow(
        expect.objectContaining({ issues: [{ path: 'keyPrefix', message: 'must not contain `{` or `}`' }] }),
      );
    });

    it('should refuse a lockLeaseMs that is no positive duration, and a wakeWaiters that is no boolean', () => {
      for (const lockLeaseMs of [0, -1, Number.NaN, 2 ** 31]) {
        expect(() => createRedisTokenStore({ client, plaintext: true, lockLeaseMs })).toThrow(
          expect.objectContaining({ issues: [expect.objectContaining({ path: 'lockLeaseMs' })] }),
        );
      }
      expect(() => createRedisTokenStore({ client, plaintext: true, wakeWaiters: 'yes' as unknown as boolean })).toThrow(
        expect.objectContaining({ issues: [{ path: 'wakeWaiters', message: 'must be true or false' }] }),
      );
    });

    it('should name every bad option at once', () => {
      expect(() => createRedisTokenStore({ client: {} as never, operationTimeoutMs: 0, plaintext: true })).toThrow(
        expect.objectContaining({
          issues: [expect.objectContaining({ path: 'client' }), expect.objectContaining({ path: 'operationTimeoutMs' })],
        }),
      );
    });
  });

  describe('when Redis fails', () => {
    it.each([
      ['get', (store: ReturnType<typeof createRedisTokenStore>) => store.get('test:abc')],
      ['set', (store: ReturnType<typeof createRedisTokenStore>) => store.set('test:abc', 'secret-value', 60_000)],
      ['delete', (store: ReturnType<typeof createRedisTokenStore>) => store.delete('test:abc', 'secret-value')],
      ['lock', (store: ReturnType<typeof createRedisTokenStore>) => store.lock('test:abc', 5_000)],
    ])('should reject %s within operationTimeoutMs when Redis does not answer', async (operation, run) => {
      const store = createRedisTokenStore({ client, operationTimeoutMs: 100, plaintext: true });
      redis.pause();
      // Without the time limit the command would wait for Redis, and this test would time out.
      const error = await run(store).then(
        () => undefined,
        (caught: unknown) => caught,
      );

      expect(error).toBeInstanceOf(RedisTokenStoreError);
      expect(error).toMatchObject({ operation, timedOut: true });
      expect((error as Error).message).toContain('timed out after 100 ms');
      expect(`${(error as Error).message} ${JSON.stringify(error)} ${inspect(error)}`).not.toContain('secret-value');
    });

    it('should reject with a TokenStoreError of the one @x hierarchy: reason timeout or failed, provider redis', async () => {
      const store = createRedisTokenStore({ client, operationTimeoutMs: 100, plaintext: true });
      // A command Redis refuses (WRONGTYPE: the token key holds a list) fails; it does not time out.
      await client.lPush('x:{test:abc}:token', 'not-a-string');
      const failed = await store.get('test:abc').catch((caught: unknown) => caught);
      redis.pause();
      const timedOut = await store.get('test:abc').catch((caught: unknown) => caught);

      for (const [error, reason] of [
        [failed, 'failed'],
        [timedOut, 'timeout'],
      ] as const) {
        expect(error).toBeInstanceOf(RedisTokenStoreError);
        expect(error).toBeInstanceOf(TokenStoreError);
        expect(isAuthError(error) && isTokenStoreError(error)).toBe(true);
        expect(error).toMatchObject({ code: ErrorCode.TokenStoreFailed, provider: 'redis', operation: 'get', reason });
        expect((error as RedisTokenStoreError).timedOut).toBe(reason === 'timeout');
        expect((error as Error).message).toMatch(/^\[redis\] Redis GET \(store get\) /);
        expect(JSON.parse(JSON.stringify(error))).toMatchObject({ code: ErrorCode.TokenStoreFailed, provider: 'redis', reason });
      }
    });

    it('should not hang a client that queues commands while it reconnects (default node-redis options)', async () => {
      const queueing = await connect({ socket: { reconnectStrategy: 50 } });
      const store = createRedisTokenStore({ client: queueing, operationTimeoutMs: 100, plaintext: true });
      const port = redis.port;
      await redis.kill();
      try {
        // Only once the client has seen the connection drop do its commands wait in the offline queue; a command
        // written to the dying socket just before is beyond any client-side recall.
        for (let waited = 0; queueing.isReady && waited < 2_000; waited += 10) await sleep(10);
        expect(queueing.isReady).toBe(false);
        // Redis comes back only after these settle: without the time limit they would wait in the queue for good.
        const results = await Promise.allSettled([store.get('test:abc'), store.set('test:abc', 'v', 1_000), store.lock('test:abc', 1_000)]);

        expect(results).toEqual(
          ['get', 'set', 'lock'].map((operation) => ({
            status: 'rejected',
            reason: expect.objectContaining({ name: 'RedisTokenStoreError', operation, timedOut: true }),
          })),
        );
      } finally {
        redis = await startRedisServer({ port });
      }
      // The timed-out commands left the offline queue: nothing stale is replayed once Redis is back.
      await sleep(300);
      expect(await queueing.exists('x:{test:abc}:token')).toBe(0);
      expect(await queueing.exists('x:{test:abc}:lock')).toBe(0);
    });

    it('should not time out a reply that arrived while the process was too busy to read it', async () => {
      const store = createRedisTokenStore({ client, plaintext: true, operationTimeoutMs: 100 });
      await store.set('test:abc', 'value-1', 60_000);
      const reading = store.get('test:abc');
      // A process starved of CPU: Redis answers at once, but the reply waits in the socket past the time limit, and
      // the overdue timer runs before the socket is read. node-redis writes a command in a `setImmediate`: busy in the
      // next one, the process is busy once the command has gone out.
      setImmediate(() => {
        const busyUntil = performance.now() + 300;
        while (performance.now() < busyUntil) {}
      });
      await expect(reading).resolves.toBe('value-1');
    });

    it('should reject at once with disableOfflineQueue when Redis is gone', async () => {
      const store = createRedisTokenStore({ client, operationTimeoutMs: 5_000, plaintext: true });
      const port = redis.port;
      await redis.kill();
      try {
        // Not timed out (operationTimeoutMs is 5 s): the client refused the command itself.
        await expect(store.get('test:abc')).rejects.toMatchObject({ operation: 'get', timedOut: false });
      } finally {
        redis = await startRedisServer({ port });
      }
    });

    it('should never throw from release, and report the failure', async () => {
      const events: RedisTokenStoreEvent[] = [];
      const store = createRedisTokenStore({ client, operationTimeoutMs: 100, onEvent: (event) => events.push(event), plaintext: true });
      const lock = await store.lock('test:abc', 5_000);
      redis.pause();

      await expect(lock!.release()).resolves.toBeUndefined();
      expect(events).toMatchObject([{ type: 'store-lock-release-failed', cacheKey: 'test:abc', error: expect.any(RedisTokenStoreError) }]);
    });

    it('should swallow exceptions thrown by the event listener', async () => {
      await client.set('x:{test:abc}:token', 'xenc1.garbage');
      const store = createRedisTokenStore({
        client,
        encryptionKey: randomBytes(32),
        onEvent: () => {
          throw new Error('listener bug');
        },
      });

      await expect(store.get('test:abc')).resolves.toBeUndefined();
    });
  });

  describe('with the token cache', () => {
    let server: TestTokenServer;

    beforeEach(async () => {
      server = await startTestTokenServer();
    });

    afterEach(async () => {
      await server.close();
    });

    it('should share one token between caches on separate clients: one token request', async () => {
      const caches = await Promise.all(
        [1, 2, 3, 4].map(async () =>
          createTokenCache(testProvider(server), { store: createRedisTokenStore({ client: await connect(), plaintext: true }) }),
        ),
      );

      const tokens = await Promise.all(caches.map((cache) => cache.getToken()));

      expect(server.tokenRequests).toBe(1);
      expect(new Set(tokens.map((token) => token.accessToken)).size).toBe(1);
    });

    it('should not time out a store read whose reply arrived while the process was too busy to read it', async () => {
      const events: TokenEvent[] = [];
      const redisStore = createRedisTokenStore({ client, plaintext: true, operationTimeoutMs: 5_000 });
      await createTokenCache(testProvider(server), { store: redisStore }).getToken();
      // A process starved of CPU right after asking Redis: the reply waits in the socket past storeTimeoutMs, and the
      // cache's overdue timer runs before the socket is read. node-redis writes a command in a `setImmediate`: busy in
      // the next one, the process is busy once the command has gone out.
      const busy = <T>(reading: T): T => {
        setImmediate(() => {
          const busyUntil = performance.now() + 300;
          while (performance.now() < busyUntil) {}
        });
        return reading;
      };
      const store: TokenStore = {
        ...redisStore,
        get: (key) => busy(redisStore.get(key)),
        getEntry: (key) => busy(redisStore.getEntry!(key)),
      };
      const cache = createTokenCache(testProvider(server), {
        store,
        policy: { storeTimeoutMs: 100 },
        onEvent: (event) => events.push(event),
      });
      await cache.getToken();
      expect(events.filter((event) => event.type === 'store-error')).toEqual([]);
      expect(server.tokenRequests).toBe(1);
    });

    it('should keep a token invalidated in one process from being served to another', async () => {
      const first = createTokenCache(testProvider(server), { store: createRedisTokenStore({ client, plaintext: true }) });
      const old = await first.getToken();
      server.validTokens.delete(old.accessToken);

      await first.invalidate(old.accessToken);
      const second = createTokenCache(testProvider(server), { store: createRedisTokenStore({ client: await connect(), plaintext: true }) });
      const fresh = await second.getToken();

      expect(fresh.accessToken).not.toBe(old.accessToken);
      expect(server.validTokens.has(fresh.accessToken)).toBe(true);
      expect(server.tokenRequests).toBe(2);
    });

    it('should keep the token encrypted at rest and share it', async () => {
      const encryptionKey = randomBytes(32);
      const first = createTokenCache(testProvider(server), { store: createRedisTokenStore({ client, encryptionKey }) });
      const second = createTokenCache(testProvider(server), { store: createRedisTokenStore({ client: await connect(), encryptionKey }) });

      const token = await first.getToken();

      expect((await second.getToken()).accessToken).toBe(token.accessToken);
      expect(server.tokenRequests).toBe(1);
      const keys = await client.keys('*');
      const raw = await Promise.all(keys.map((key) => client.get(key)));
      expect(raw.join('\n')).not.toContain(token.accessToken);
    });

    it('should cost no token request when the fleet rotates its key in two deploys', async () => {
      const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];
      const cacheOn = async (encryptionKeys: Buffer[]) =>
        createTokenCache(testProvider(server), { store: createRedisTokenStore({ client: await connect(), encryptionKeys }) });
      const token = await (await cacheOn([oldKey])).getToken();
      // First deploy: the new key is known (read) but not yet written; second: it is written, the old one still read.
      const firstDeploy = await cacheOn([oldKey, newKey]);
      const secondDeploy = await cacheOn([newKey, oldKey]);
      expect((await firstDeploy.getToken()).accessToken).toBe(token.accessToken);
      expect((await secondDeploy.getToken()).accessToken).toBe(token.accessToken);
      expect(server.tokenRequests).toBe(1);

      // A token the second deploy writes (under the new key) is read by the processes of the first.
      server.validTokens.delete(token.accessToken);
      await secondDeploy.invalidate(token.accessToken);
      const fresh = await secondDeploy.getToken();
      expect((await (await cacheOn([oldKey, newKey])).getToken()).accessToken).toBe(fresh.accessToken);
      expect(server.tokenRequests).toBe(2);
    });

    it("should trust the store's remaining time to live over the expiry a clock that stepped back computes", async () => {
      // The writer's expiry is 10 min away by this process' wall clock, but Redis keeps the value 400 s more: as if the
      // reader's clock were 200 s behind the writer's (400 s: past the 5-minute refresh-ahead window).
      const store = createRedisTokenStore({ client, plaintext: true });
      const accessToken = `token-${randomBytes(6).toString('hex')}-xcanary`;
      await store.set(
        testProvider(server).cacheKey,
        storedToken({ accessToken, expiresAt: Date.now() + 600_000, lifetimeMs: 600_000 }),
        400_000,
      );

      const token = await createTokenCache(testProvider(server), { store }).getToken();

      expect(token.accessToken).toBe(accessToken);
      expect(server.tokenRequests).toBe(0);
      expect(token.expiresAt - Date.now()).toBeLessThanOrEqual(400_000);
      expect(await store.getEntry('x')).toBeUndefined();
    });

    it.each([
      ['paused (no answers)', false],
      ['killed', true],
    ])('should serve tokens and report store errors when Redis is %s', async (_state, kill) => {
      const events: TokenEvent[] = [];
      const cache = createTokenCache(testProvider(server), {
        store: createRedisTokenStore({ client, operationTimeoutMs: 100, plaintext: true }),
        policy: { lockWaitMs: 300 },
        onEvent: (event) => events.push(event),
      });
      const port = redis.port;
      if (kill) await redis.kill();
      else redis.pause();
      try {
        const token = await cache.getToken();
        expect(server.validTokens.has(token.accessToken)).toBe(true);
        server.validTokens.delete(token.accessToken);
        await cache.invalidate(token.accessToken);
        const fresh = await cache.getToken();
        expect(fresh.accessToken).not.toBe(token.accessToken);
      } finally {
        if (kill) redis = await startRedisServer({ port });
      }
      expect(server.tokenRequests).toBe(2);
      expect(
        events.filter((event) => event.type === 'store-error').map((event) => event.type === 'store-error' && event.operation),
      ).toEqual(expect.arrayContaining(['get', 'set']));
      const storeErrors = events.filter((event) => event.type === 'store-error');
      expect(storeErrors.every((event) => event.type === 'store-error' && event.error instanceof RedisTokenStoreError)).toBe(true);
    });
  });
});
