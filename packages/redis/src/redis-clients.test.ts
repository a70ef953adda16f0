import { randomBytes } from 'node:crypto';
import { createTokenCache } from '@x/core';
import { eventually } from '@x/test-support/clock';
import { describeWithRedis, describeWithRedisCluster, rawCommand, subscriberCount } from '@x/test-support/redis';
import { startTestTokenServer, type TestTokenServer, testProvider } from '@x/test-support/token-server';
import { Redis as IoRedis, Cluster as IoRedisCluster } from 'ioredis';
import { Redis as IoValkey } from 'iovalkey';
import { createClient, createCluster } from 'redis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createRedisTokenStore, type RedisTokenStoreClient } from './index.js';
import { isRedisServerAvailable, type RedisCluster, type RedisServer, startRedisCluster, startRedisServer } from './testing/index.js';

/** A client of one kind, and a raw command on it for the test to look into Redis with. */
interface Connected {
  client: RedisTokenStoreClient;
  /** One raw command, routed by `key` on a cluster. */
  raw(key: string, ...args: string[]): Promise<unknown>;
  /** Subscribes to `channel` on a connection of its own; then `message` resolves with the first message. */
  nextMessage(channel: string): Promise<{ message: Promise<string> }>;
  close(): Promise<void>;
}

type Connect = () => Promise<Connected>;

const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

const storedToken = (accessToken: string, lifetimeMs = 60_000): string =>
  JSON.stringify({ v: 1, accessToken, expiresAt: Date.now() + lifetimeMs, lifetimeMs });

async function connectNodeRedis(url: string): Promise<Connected> {
  const client = createClient({ url, disableOfflineQueue: true });
  client.on('error', () => {});
  await client.connect();
  return {
    client,
    raw: (_key, ...args) => client.sendCommand(args),
    nextMessage: nodeRedisMessage(client),
    close: async () => client.destroy(),
  };
}

/** node-redis: subscribes on a duplicate, which it closes after the first message. */
function nodeRedisMessage(client: ReturnType<typeof createClient> | ReturnType<typeof createCluster>) {
  return async (channel: string): Promise<{ message: Promise<string> }> => {
    const subscriber = (client as ReturnType<typeof createClient>).duplicate();
    subscriber.on('error', () => {});
    await subscriber.connect();
    let received: (message: string) => void = () => {};
    const message = new Promise<string>((resolve) => {
      received = resolve;
    });
    await subscriber.subscribe(channel, (text) => received(text));
    return { message: message.finally(() => subscriber.destroy()) };
  };
}

/** ioredis and iovalkey: subscribes on a duplicate, which it closes after the first message. */
function ioRedisMessage(client: IoRedis | IoRedisCluster | IoValkey) {
  return async (channel: string): Promise<{ message: Promise<string> }> => {
    const subscriber = (client as IoRedis).duplicate();
    subscriber.on('error', () => {});
    if (subscriber.status === 'wait') await subscriber.connect();
    const message = new Promise<string>((resolve) => subscriber.on('message', (_channel: string, text: string) => resolve(text)));
    await subscriber.subscribe(channel);
    return { message: message.finally(() => subscriber.disconnect()) };
  };
}

async function connectNodeRedisCluster(cluster: RedisCluster): Promise<Connected> {
  const client = createCluster({ rootNodes: cluster.urls.map((url) => ({ url })), defaults: { disableOfflineQueue: true } });
  client.on('error', () => {});
  await client.connect();
  return {
    client,
    raw: (key, ...args) => client.sendCommand(key, false, args),
    nextMessage: nodeRedisMessage(client),
    close: async () => client.destroy(),
  };
}

function connectIoRedis(port: number): Promise<Connected> {
  return connectIo(new IoRedis({ host: '127.0.0.1', port, lazyConnect: true, enableOfflineQueue: false }));
}

function connectIoRedisCluster(cluster: RedisCluster): Promise<Connected> {
  return connectIo(
    new IoRedisCluster(
      cluster.rootNodes.map((node) => ({ ...node })),
      { lazyConnect: true },
    ),
  );
}

/** An ioredis or iovalkey client made with `lazyConnect`, connected. */
async function connectIo(client: IoRedis | IoRedisCluster | IoValkey): Promise<Connected> {
  // One call for the three: their `on` overloads differ only in events this helper does not listen to.
  (client as IoRedis).on('error', () => {});
  await client.connect();
  return {
    client,
    raw: (_key, command, ...args) => client.call(command!, ...args),
    nextMessage: ioRedisMessage(client),
    close: async () => client.disconnect(),
  };
}

/** What every client kind must do alike; `connect` makes a new client of that kind on the same Redis. */
function storeContract(connect: () => Connect, clustered: boolean): void {
  const opened: Connected[] = [];
  let first: Connected;
  const open = async (): Promise<Connected> => {
    const connected = await connect()();
    opened.push(connected);
    return connected;
  };

  beforeEach(async () => {
    first = await open();
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((connected) => connected.close()));
  });

  it('should keep a token, its lock, its tombstones and its provider state in one hash slot', async () => {
    const cacheKey = `test:${randomBytes(6).toString('hex')}`;
    const store = createRedisTokenStore({ client: first.client, plaintext: true });
    await store.set(cacheKey, 'value-1', 60_000);
    await store.set(`${cacheKey}:state`, 'state-1', 60_000);
    await store.set(`${cacheKey}:dropped:abcdef12`, '1', 60_000);
    await store.lock(cacheKey, 5_000);

    const names = [`x:{${cacheKey}}:token`, `x:{${cacheKey}}:state`, `x:{${cacheKey}}:dropped:abcdef12`, `x:{${cacheKey}}:lock`];
    for (const name of names) expect(await first.raw(name, 'EXISTS', name)).toBe(1);
    const slots = await Promise.all(names.map((name) => first.raw(name, 'CLUSTER', 'KEYSLOT', name).catch(() => 'no cluster')));
    if (clustered) expect(new Set(slots).size).toBe(1);
  });

  it('should set, read, compare-and-delete and lock', async () => {
    const cacheKey = `test:${randomBytes(6).toString('hex')}`;
    const store = createRedisTokenStore({ client: first.client, encryptionKey: randomBytes(32) });
    await store.set(cacheKey, 'value-1', 60_000);
    expect(await store.get(cacheKey)).toBe('value-1');
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

  it('should store with the token lifetime as the Redis TTL', async () => {
    const cacheKey = `test:${randomBytes(6).toString('hex')}`;
    const store = createRedisTokenStore({ client: first.client, plaintext: true });
    await store.set(cacheKey, storedToken('token-1'), 60_000);
    const ttl = Number(await first.raw(`x:{${cacheKey}}:token`, 'PTTL', `x:{${cacheKey}}:token`));
    expect(ttl).toBeGreaterThan(59_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  describe('waking lock waiters', () => {
    it('should wake a waiter on a message on the lock’s channel, while the lock is still held', async () => {
      const cacheKey = `test:${randomBytes(6).toString('hex')}`;
      const holder = createRedisTokenStore({ client: first.client, plaintext: true, lockLeaseMs: 60_000 });
      const waiter = createRedisTokenStore({ client: (await open()).client, plaintext: true });
      await holder.lock(cacheKey, 60_000);
      let woken = false;
      // Without a wake-up the wait lasts the lease (60 s), past this test's time limit.
      const waiting = waiter.waitForUnlock!(cacheKey, 60_000).then(() => {
        woken = true;
      });
      // Published until heard: the waiter subscribes on a connection of its own, opened on this first wait.
      const channel = `x:{${cacheKey}}:unlocked`;
      while (!woken) {
        await first.raw(channel, 'PUBLISH', channel, '1');
        await sleep(20);
      }
      await waiting;
      expect(await waiter.lock(cacheKey, 5_000)).toBeUndefined();
    });

    it('should publish on the lock’s channel when the holder releases the lock, and only then', async () => {
      const cacheKey = `test:${randomBytes(6).toString('hex')}`;
      const store = createRedisTokenStore({ client: first.client, plaintext: true });
      const { message } = await first.nextMessage(`x:{${cacheKey}}:unlocked`);
      let heard = false;
      void message.then(() => {
        heard = true;
      });
      const lock = await store.lock(cacheKey, 5_000);
      await first.raw(`x:{${cacheKey}}:lock`, 'PING');
      expect(heard).toBe(false);
      await lock!.release();
      expect(await message).toBe('1');
    });

    it('should wake a waiter when a dead holder’s lease runs out, and let it take the lock', async () => {
      const cacheKey = `test:${randomBytes(6).toString('hex')}`;
      const waiter = createRedisTokenStore({ client: first.client, plaintext: true });
      // What a holder that died leaves: a lock no one extends or releases.
      const lockName = `x:{${cacheKey}}:lock`;
      await first.raw(lockName, 'SET', lockName, 'dead-holder', 'PX', '400');
      expect(await waiter.lock(cacheKey, 5_000)).toBeUndefined();
      await waiter.waitForUnlock!(cacheKey, 60_000);
      expect(await waiter.lock(cacheKey, 5_000)).toBeDefined();
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

    it('should share one token between caches on separate clients, and drop it everywhere after a 401', async () => {
      const encryptionKey = randomBytes(32);
      const caches = await Promise.all(
        [1, 2, 3].map(async () =>
          createTokenCache(testProvider(server), { store: createRedisTokenStore({ client: (await open()).client, encryptionKey }) }),
        ),
      );
      const tokens = await Promise.all(caches.map((cache) => cache.getToken()));
      expect(server.tokenRequests).toBe(1);
      expect(new Set(tokens.map((token) => token.accessToken)).size).toBe(1);

      server.validTokens.delete(tokens[0]!.accessToken);
      await caches[0]!.invalidate(tokens[0]!.accessToken);
      const later = createTokenCache(testProvider(server), {
        store: createRedisTokenStore({ client: (await open()).client, encryptionKey }),
      });
      expect((await later.getToken()).accessToken).not.toBe(tokens[0]!.accessToken);
      expect(server.tokenRequests).toBe(2);
    });
  });
}

/**
 * The waiter's subscriber connection drops (a failover, a restart, `CLIENT KILL`) and reconnects: a wait that comes
 * meanwhile waits for it, even on a client that refuses commands while offline. One node: the three clients there say
 * when their connection drops (`reconnecting`), so the wait below comes while it is down, not by luck.
 */
function subscriberReconnectContract(connect: Connect, url: () => string): void {
  it('should let a wait that comes while its subscriber reconnects wait for it, not fail', async () => {
    const [first, second] = [await connect(), await connect()];
    try {
      const [held, next] = [1, 2].map(() => `test:${randomBytes(6).toString('hex')}`) as [string, string];
      const holder = createRedisTokenStore({ client: first.client, plaintext: true, lockLeaseMs: 60_000 });
      // The waiter's subscriber is a duplicate of its client: kept here, to hear it drop.
      const client = second.client as unknown as { duplicate(): { once(event: 'reconnecting', listener: () => void): unknown } };
      const duplicate = client.duplicate.bind(client);
      const duplicates: Array<ReturnType<typeof duplicate>> = [];
      client.duplicate = () => {
        const made = duplicate();
        duplicates.push(made);
        return made;
      };
      const waiter = createRedisTokenStore({ client: second.client, plaintext: true });
      const locks = [await holder.lock(held, 60_000), await holder.lock(next, 60_000)];
      const channel = (cacheKey: string) => `x:{${cacheKey}}:unlocked`;
      const subscribed = async (cacheKey: string) => {
        expect(await subscriberCount(url(), channel(cacheKey))).toBe(1);
      };

      const waitingHeld = waiter.waitForUnlock!(held, 60_000);
      await eventually(5_000, () => subscribed(held));
      expect(duplicates).toHaveLength(1);
      // The subscriber does not keep the process alive (its socket is unref'd), before the drop and after.
      const sockets = async () => {
        // After the closes under way (the raw commands' connections) are done.
        await new Promise(setImmediate);
        return process.getActiveResourcesInfo().filter((resource) => resource === 'TCPSocketWrap').length;
      };
      const socketsBefore = await sockets();
      // Subscribed, it is the only pub/sub connection on the server.
      const dropped = new Promise<void>((resolve) => duplicates[0]!.once('reconnecting', resolve));
      await rawCommand(url(), 'CLIENT', 'KILL', 'TYPE', 'pubsub');
      await dropped;
      const waited = [waitingHeld, waiter.waitForUnlock!(next, 60_000)].map((waiting) =>
        waiting.then(
          () => 'woken',
          (error: unknown) => String(error),
        ),
      );
      // Both subscriptions are made again once it is back: a release then wakes each wait, well before its 60 s lease.
      await eventually(5_000, async () => {
        await subscribed(held);
        await subscribed(next);
      }).catch(async (error: unknown) => {
        // Where a wait failed, its reason says more than the missing subscription.
        for (const outcome of waited) expect(await Promise.race([outcome, sleep(0).then(() => 'waiting')])).toBe('waiting');
        throw error;
      });
      expect(await sockets()).toBe(socketsBefore);
      for (const lock of locks) await lock!.release();
      expect(await Promise.all(waited)).toEqual(['woken', 'woken']);
      expect(duplicates).toHaveLength(1);
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  }, 15_000);
}

describeWithRedis('createRedisTokenStore on one node', () => {
  let redis: RedisServer;

  beforeAll(async () => {
    redis = await startRedisServer();
  });

  afterAll(async () => {
    await redis?.kill();
  });

  describe('with node-redis createClient', () => storeContract(() => () => connectNodeRedis(redis.url), false));
  describe('with ioredis Redis', () => storeContract(() => () => connectIoRedis(redis.port), false));
  // The iovalkey client speaks the same protocol to a Redis server; Valkey itself is below, where it is installed.
  describe('with iovalkey Redis', () => storeContract(() => () => connectIoValkey(redis.port), false));

  describe('when the subscriber connection drops', () => {
    const url = () => redis.url;
    describe('with node-redis createClient', () => subscriberReconnectContract(() => connectNodeRedis(redis.url), url));
    describe('with ioredis Redis', () => subscriberReconnectContract(() => connectIoRedis(redis.port), url));
    describe('with iovalkey Redis', () => subscriberReconnectContract(() => connectIoValkey(redis.port), url));
  });
});

describeWithRedisCluster('createRedisTokenStore on a 3-master Redis Cluster', () => {
  let cluster: RedisCluster;

  beforeAll(async () => {
    cluster = await startRedisCluster();
  }, 30_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  describe('with node-redis createCluster', () => storeContract(() => () => connectNodeRedisCluster(cluster), true));
  describe('with ioredis Cluster', () => storeContract(() => () => connectIoRedisCluster(cluster), true));
});

function connectIoValkey(port: number): Promise<Connected> {
  return connectIo(new IoValkey({ host: '127.0.0.1', port, lazyConnect: true, enableOfflineQueue: false }));
}

const valkeyAvailable = isRedisServerAvailable('valkey-server');
if (!valkeyAvailable) {
  console.warn(
    'Skipping the Valkey tests: valkey-server is not on PATH (not packaged in this Debian release); install Valkey to run them.',
  );
}

(valkeyAvailable ? describe : describe.skip)('createRedisTokenStore on Valkey (skipped: valkey-server not on PATH)', () => {
  let valkey: RedisServer;

  beforeAll(async () => {
    valkey = await startRedisServer({ command: 'valkey-server' });
  });

  afterAll(async () => {
    await valkey?.kill();
  });

  describe('with iovalkey Redis', () => storeContract(() => () => connectIoValkey(valkey.port), false));
});
