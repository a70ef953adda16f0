import { randomBytes } from 'node:crypto';
import { createTokenCache } from '@x/core';
import { eventually } from '@x/test-support/clock';
import { describeWithRedisSentinel, rawCommand, subscriberCount } from '@x/test-support/redis';
import { startTestTokenServer, type TestTokenServer, testProvider } from '@x/test-support/token-server';
import { Redis as IoRedis } from 'ioredis';
import { createClient, createSentinel } from 'redis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createRedisTokenStore, type RedisTokenStoreClient } from './index.js';
import { type RedisSentinel, type RedisServer, startRedisSentinel } from './testing/index.js';

/** A Sentinel client of one kind, and a raw command on the master it follows. */
interface Connected {
  client: RedisTokenStoreClient;
  /** One raw command on the master, as the client sees it. */
  raw(...args: string[]): Promise<unknown>;
  close(): Promise<void>;
}

const newCacheKey = (): string => `test:${randomBytes(6).toString('hex')}`;

const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

async function connectNodeRedis(sentinel: RedisSentinel, options: { replicaPoolSize?: number } = {}): Promise<Connected> {
  const client = createSentinel({
    name: sentinel.name,
    sentinelRootNodes: sentinel.sentinelRootNodes.map((node) => ({ ...node })),
    nodeClientOptions: { disableOfflineQueue: true },
    ...options,
  });
  client.on('error', () => {});
  await client.connect();
  return {
    client,
    raw: (...args) => client.sendCommand(false, args),
    close: () => client.destroy(),
  };
}

async function connectIoRedis(sentinel: RedisSentinel): Promise<Connected> {
  const client = new IoRedis({
    name: sentinel.name,
    sentinels: sentinel.sentinelRootNodes.map((node) => ({ ...node })),
    // Without it the client stays on the old master after `SENTINEL FAILOVER`, which answers as a master for 10 s more.
    failoverDetector: true,
    lazyConnect: true,
    enableOfflineQueue: false,
  });
  client.on('error', () => {});
  await client.connect();
  return {
    client,
    raw: (command, ...args) => client.call(command!, ...args),
    close: async () => client.disconnect(),
  };
}

/** What the store must do on a Sentinel client of each kind; the failover comes last, as it swaps the servers' roles. */
function sentinelContract(connect: (sentinel: RedisSentinel) => Promise<Connected>): void {
  let sentinel: RedisSentinel;
  const opened: Connected[] = [];
  const open = async (): Promise<Connected> => {
    const connected = await connect(sentinel);
    opened.push(connected);
    return connected;
  };

  beforeAll(async () => {
    sentinel = await startRedisSentinel({ sentinels: 3 });
  }, 20_000);

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((connected) => connected.close()));
  });

  afterAll(async () => {
    await sentinel?.stop();
  });

  it('should set, read, compare-and-delete and lock, on the master', async () => {
    const first = await open();
    const cacheKey = newCacheKey();
    const store = createRedisTokenStore({ client: first.client, encryptionKey: randomBytes(32) });
    await store.set(cacheKey, 'value-1', 60_000);
    expect(await store.get(cacheKey)).toBe('value-1');
    expect(await rawCommand(sentinel.servers[0].url, 'EXISTS', `x:{${cacheKey}}:token`)).toBe(1);
    await store.delete(cacheKey, 'value-2');
    expect(await store.get(cacheKey)).toBe('value-1');
    await store.delete(cacheKey, 'value-1');
    expect(await store.get(cacheKey)).toBeUndefined();

    const other = createRedisTokenStore({ client: (await open()).client, plaintext: true });
    const lock = await store.lock(cacheKey, 5_000);
    expect(lock).toBeDefined();
    expect(await other.lock(cacheKey, 5_000)).toBeUndefined();
    await lock!.release();
    expect(await other.lock(cacheKey, 5_000)).toBeDefined();
  });

  it('should read an entry with its Redis TTL', async () => {
    const cacheKey = newCacheKey();
    const store = createRedisTokenStore({ client: (await open()).client, plaintext: true });
    await store.set(cacheKey, 'value-1', 60_000);
    const entry = await store.getEntry(cacheKey);
    expect(entry?.value).toBe('value-1');
    expect(entry?.remainingMs).toBeGreaterThan(59_000);
    expect(entry?.remainingMs).toBeLessThanOrEqual(60_000);
  });

  it('should wake a waiter when the holder releases the lock', async () => {
    const cacheKey = newCacheKey();
    const first = await open();
    const holder = createRedisTokenStore({ client: first.client, plaintext: true, lockLeaseMs: 60_000 });
    const waiter = createRedisTokenStore({ client: (await open()).client, plaintext: true });
    const lock = await holder.lock(cacheKey, 60_000);
    expect(waiter.waitForUnlock).toBeDefined();
    // Without a wake-up the wait lasts the lease (60 s), past this test's time limit.
    const waiting = waiter.waitForUnlock!(cacheKey, 60_000);
    // A failed wait fails the test where it is awaited, not as an unhandled rejection while it polls.
    waiting.catch(() => {});
    // Released once the waiter listens: released before, the waiter would see no lock and not wait at all.
    const channel = `x:{${cacheKey}}:unlocked`;
    await eventually(5_000, async () => {
      const [, subscribers] = (await first.raw('PUBSUB', 'NUMSUB', channel)) as [string, number];
      if (Number(subscribers) !== 1) throw new Error(`${subscribers} subscribers on ${channel}`);
    });
    await lock!.release();
    await waiting;
    expect(await waiter.lock(cacheKey, 5_000)).toBeDefined();
  });

  describe('with the token cache', () => {
    let server: TestTokenServer;

    beforeEach(async () => {
      server = await startTestTokenServer();
    });

    afterEach(async () => {
      await server.close();
    });

    it('should share one token between caches on separate Sentinel clients', async () => {
      const encryptionKey = randomBytes(32);
      const caches = await Promise.all(
        [1, 2].map(async () =>
          createTokenCache(testProvider(server), { store: createRedisTokenStore({ client: (await open()).client, encryptionKey }) }),
        ),
      );
      const tokens = await Promise.all(caches.map((cache) => cache.getToken()));
      expect(server.tokenRequests).toBe(1);
      expect(tokens[1]!.accessToken).toBe(tokens[0]!.accessToken);
    });
  });

  it('should work on the promoted replica after a failover, with what was written before it', async () => {
    const first = await open();
    const store = createRedisTokenStore({ client: first.client, plaintext: true, lockLeaseMs: 60_000 });
    const waiter = createRedisTokenStore({ client: (await open()).client, plaintext: true });
    const before = newCacheKey();
    await store.set(before, 'before', 60_000);
    // On the replica too before the failover: Redis replicates asynchronously.
    expect(await first.raw('WAIT', '1', '1000')).toBe(1);
    // No lock, so no wait, but the waiter's subscriber connection (ioredis: a `duplicate()`) is open through the failover.
    await waiter.waitForUnlock!(before, 1_000);

    const [oldMaster] = sentinel.servers;
    const promoted = await sentinel.failover();
    expect(promoted).toBe(sentinel.servers[1]);

    // The old master still answers as a master for a while: only a write found on the promoted one proves the switch.
    // Each client reconnects on its own: the waiter's commands, too, fail until its client has.
    for (const each of [store, waiter]) {
      const after = newCacheKey();
      await eventually(10_000, async () => {
        await each.set(after, 'after', 60_000);
        expect(await rawCommand(promoted.url, 'EXISTS', `x:{${after}}:token`)).toBe(1);
      });
      expect(await rawCommand(oldMaster.url, 'EXISTS', `x:{${after}}:token`)).toBe(0);
    }
    expect(await store.get(before)).toBe('before');
    expect((await store.getEntry(before))?.remainingMs).toBeGreaterThan(0);

    const lock = await store.lock(before, 60_000);
    expect(lock).toBeDefined();
    expect(await rawCommand(promoted.url, 'EXISTS', `x:{${before}}:lock`)).toBe(1);
    // The waiter subscribes on the new master: on the old one, it would wait the whole 60 s lease.
    // Made while its subscriber connection may still be reconnecting: it waits for it.
    const waiting = waiter.waitForUnlock!(before, 60_000).then(
      () => 'woken',
      (error: unknown) => String(error),
    );
    const channel = `x:{${before}}:unlocked`;
    await eventually(5_000, async () => {
      const subscribers = await subscriberCount(promoted.url, channel);
      if (subscribers !== 1) throw new Error(`${subscribers} subscribers on ${channel}`);
    }).catch(async (error: unknown) => {
      // Where the wait failed, its reason says more than the missing subscription.
      expect(await Promise.race([waiting, sleep(0).then(() => 'waiting')])).toBe('waiting');
      throw error;
    });
    await lock!.release();
    expect(await waiting).toBe('woken');
  }, 20_000);
}

describeWithRedisSentinel('createRedisTokenStore on Redis Sentinel (a master, a replica, 3 sentinels)', () => {
  describe('with node-redis createSentinel', () => sentinelContract((sentinel) => connectNodeRedis(sentinel)));
  describe('with ioredis Redis in Sentinel mode', () => sentinelContract((sentinel) => connectIoRedis(sentinel)));

  describe('with node-redis createSentinel reading from replicas (replicaPoolSize)', () => {
    let sentinel: RedisSentinel;

    beforeAll(async () => {
      sentinel = await startRedisSentinel();
    }, 20_000);

    afterAll(async () => {
      await sentinel?.stop();
    });

    it('should still send every read to the master, which alone surely has the latest token and lock', async () => {
      const connected = await connectNodeRedis(sentinel, { replicaPoolSize: 1 });
      try {
        const cacheKey = newCacheKey();
        const store = createRedisTokenStore({ client: connected.client, plaintext: true });
        await store.set(cacheKey, 'value-1', 60_000);
        expect(await connected.raw('WAIT', '1', '1000')).toBe(1);
        const replica = sentinel.servers[1];
        await rawCommand(replica.url, 'CONFIG', 'RESETSTAT');
        for (let read = 0; read < 5; read += 1) expect(await store.get(cacheKey)).toBe('value-1');
        // One read the client is told it may send to a replica, which it does: the count below can tell them apart.
        const sentinelClient = connected.client as ReturnType<typeof createSentinel>;
        expect(await sentinelClient.sendCommand(true, ['GET', `x:{${cacheKey}}:token`])).toBe('value-1');
        expect(String(await rawCommand(replica.url, 'INFO', 'commandstats'))).toMatch(/cmdstat_get:calls=1,/);
      } finally {
        await connected.close();
      }
    });
  });
});
