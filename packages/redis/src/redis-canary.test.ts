/**
 * Secret canaries for the Redis store: canary tokens (core's test server issues them) and a canary-marked
 * encryption key, through a healthy, a paused and a killed Redis, garbage and undecryptable values, and bad options.
 * Every error, cache event, store event and public object is scanned, and so is what Redis holds when values are
 * encrypted: no canary may appear.
 */
import { createTokenCache, type TokenCache } from '@x/core';
import { CanaryScanner } from '@x/core/testing';
import { describeWithRedis } from '@x/test-support/redis';
import { startTestTokenServer, type TestTokenServer, testProvider } from '@x/test-support/token-server';
import { createClient, type RedisClientType } from 'redis';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { createRedisTokenStore } from './index.js';
import { type RedisServer, startRedisServer } from './testing/index.js';

/** 32 bytes as 64 hex digits. Hex cannot hold the marker `xcanary`, so the scanner looks for the key's own value (hex and base64). */
const encryptionKey = 'ab'.repeat(32);
const scanner = new CanaryScanner([encryptionKey, Buffer.from(encryptionKey, 'hex').toString('base64')]);
const storeEvents: string[] = [];

describeWithRedis('Redis store secret canaries', () => {
  let redis: RedisServer;
  let server: TestTokenServer;
  const clients: RedisClientType[] = [];

  const connect = async (): Promise<RedisClientType> => {
    const client = createClient({
      url: redis.url,
      disableOfflineQueue: true,
      socket: { connectTimeout: 300, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 300) },
    }) as RedisClientType;
    client.on('error', (error: unknown) => scanner.scan('client error', error));
    await client.connect();
    clients.push(client);
    return client;
  };

  const scannedCache = async (label: string, encrypted = true): Promise<{ cache: TokenCache; client: RedisClientType }> => {
    const client = await connect();
    const store = createRedisTokenStore({
      client,
      ...(encrypted ? { encryptionKey } : { plaintext: true as const }),
      operationTimeoutMs: 100,
      onEvent: (event) => storeEvents.push(scanner.scan(`${label}: store event`, event).type),
    });
    scanner.scan(`${label}: store`, store);
    const cache = createTokenCache(testProvider(server), {
      store,
      policy: { requestTimeoutMs: 300, retryBaseDelayMs: 1, retryMaxDelayMs: 5 },
      onEvent: (event) => scanner.scan(`${label}: event ${event.type}`, event),
    });
    scanner.scan(`${label}: cache`, cache);
    return { cache, client };
  };

  const settle = async (label: string, promise: Promise<unknown>): Promise<void> => {
    await promise.catch((error: unknown) => scanner.scan(`${label}: error`, error));
  };

  beforeAll(async () => {
    redis = await startRedisServer();
    server = await startTestTokenServer();
  });

  afterAll(async () => {
    for (const client of clients.splice(0)) client.destroy();
    await redis?.kill();
    await server?.close();
    scanner.report('redis-canary');
  });

  afterEach(() => {
    redis.resume();
    expect(scanner.takeLeaks()).toEqual([]);
  });

  it('should keep canary tokens out of Redis when values are encrypted, and out of every event', async () => {
    const { cache, client } = await scannedCache('encrypted');
    const token = await cache.getToken();
    expect(token.accessToken).toContain('xcanary');
    const keys = await client.keys('*');
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) scanner.scan(`redis value ${key}`, (await client.get(key)) ?? '');
    await settle('encrypted: invalidate', cache.invalidate(token.accessToken));
  });

  it('should leak nothing when Redis holds garbage or a value it cannot decrypt', async () => {
    const { cache, client } = await scannedCache('garbage');
    await cache.getToken();
    for (const key of await client.keys('*token*')) await client.set(key, 'xenc1.00000000.AAAAAAAAAAAAAAAAAAAAAA.xcanary');
    const fresh = await scannedCache('garbage reader');
    await settle('garbage: getToken', fresh.cache.getToken());
    expect(storeEvents).toContain('store-decrypt-failed');
  });

  it('should leak nothing when Redis stops answering or goes away', async () => {
    const { cache } = await scannedCache('paused');
    await cache.getToken();
    redis.pause();
    await settle('paused: forced', cache.getToken({ forceRefresh: true }));
    const token = await cache.getToken();
    await settle('paused: invalidate', cache.invalidate(token.accessToken));
    redis.resume();
  });

  it('should leak nothing from a bad encryption key', async () => {
    const client = await connect();
    for (const key of [`${encryptionKey}00`, encryptionKey.slice(2), Buffer.alloc(31, 0xab), `${encryptionKey}\n`]) {
      try {
        createRedisTokenStore({ client, encryptionKey: key });
      } catch (error) {
        scanner.scan('bad key: error', error);
      }
    }
    expect(scanner.count).toBeGreaterThan(0);
  });

  it('should have scanned every item', () => {
    expect(scanner.count).toBeGreaterThan(20);
    expect(scanner.leaks).toEqual([]);
  });
});
