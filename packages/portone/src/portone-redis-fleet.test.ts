/**
 * A fleet of forked processes, each with a token cache per API secret on one encrypted Redis store, against one
 * emulator that refuses (and counts) every refresh token a later login or refresh has spent: 8 processes on one Redis
 * node, then 6 on a 3-master Redis Cluster (node-redis `createCluster`). Skipped without `redis-server` (the cluster
 * also without `redis-cli`) unless `X_REQUIRE_REDIS=1`.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { canaryMarker, createCanary } from '@x/core/testing';
import { type RedisCluster, type RedisServer, startRedisCluster, startRedisServer } from '@x/redis/testing';
import { describeWithRedis, describeWithRedisCluster } from '@x/test-support/redis';
import { createCluster } from 'redis';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import type { PortOneFleetMessage, PortOneFleetReply } from '../test/portone-fleet-worker.js';
import { createPortOneProvider } from './portone-token-provider.js';
import { createPortOneEmulator, type PortOneEmulator } from './testing/index.js';

const workerPath = fileURLToPath(new URL('../test/portone-fleet-worker.ts', import.meta.url));
const merchants = [1, 2, 3].map((n) => ({ storeId: `store-fleet-${n}`, apiSecret: createCanary(`fleet-${n}-`) }));

interface Worker {
  child: ChildProcess;
  /** Resolves with the next reply that `matches`. */
  next(matches: (reply: PortOneFleetReply) => boolean): Promise<PortOneFleetReply>;
}

async function startWorker(): Promise<Worker> {
  const child = fork(workerPath, [], {
    execArgv: ['--import', 'tsx', '--conditions=@x/source'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Set<{ matches: (reply: PortOneFleetReply) => boolean; resolve: (reply: PortOneFleetReply) => void }>();
  child.on('message', (reply: PortOneFleetReply) => {
    for (const waiter of waiting) {
      if (waiter.matches(reply)) {
        waiting.delete(waiter);
        waiter.resolve(reply);
        return;
      }
    }
  });
  const gone = once(child, 'exit');
  const worker: Worker = {
    child,
    // A worker that dies fails the test at once rather than at the hook's time-out.
    next: (matches) =>
      Promise.race([
        new Promise<PortOneFleetReply>((resolve) => waiting.add({ matches, resolve })),
        gone.then(() => Promise.reject(new Error('fleet worker exited'))),
      ]),
  };
  await worker.next((reply) => reply.type === 'ready');
  return worker;
}

/** Sends `configure` to every worker and expects each to answer without an error. */
async function configureAll(workers: readonly Worker[], configure: Extract<PortOneFleetMessage, { type: 'configure' }>): Promise<void> {
  const replies = await Promise.all(
    workers.map((worker) => {
      const configured = worker.next((reply) => reply.type === 'configured');
      worker.child.send(configure);
      return configured;
    }),
  );
  expect(replies).toEqual(workers.map(() => ({ type: 'configured' })));
}

/** Asks each worker to leave, and waits until it has. */
async function stopAll(workers: readonly Worker[]): Promise<void> {
  await Promise.all(
    workers.map(async (worker) => {
      if (worker.child.connected) worker.child.send({ type: 'exit' } satisfies PortOneFleetMessage);
      if (worker.child.exitCode === null) await once(worker.child, 'exit');
    }),
  );
}

let nextId = 1;
function call(worker: Worker, secretIndex: number): Promise<number | string> {
  const id = nextId++;
  const reply = worker.next((answer) => answer.type === 'result' && answer.id === id);
  worker.child.send({ type: 'call', id, secretIndex } satisfies PortOneFleetMessage);
  return reply.then((answer) => (answer as Extract<PortOneFleetReply, { type: 'result' }>).status);
}

describeWithRedis('a PortOne fleet of 8 processes on one Redis', { timeout: 60_000 }, () => {
  let redis: RedisServer;
  let emulator: PortOneEmulator;
  let workers: Worker[] = [];

  const callEverywhere = () => Promise.all(workers.flatMap((worker) => merchants.map((_, index) => call(worker, index))));

  beforeAll(async () => {
    [redis, emulator, workers] = await Promise.all([
      startRedisServer(),
      createPortOneEmulator({ merchants }),
      Promise.all(Array.from({ length: 8 }, () => startWorker())),
    ]);
    await configureAll(workers, {
      type: 'configure',
      redisUrl: redis.url,
      portOneUrl: emulator.url,
      apiSecrets: merchants.map((merchant) => merchant.apiSecret),
      encryptionKey: randomBytes(32).toString('hex'),
    });
  }, 120_000);

  afterAll(async () => {
    await stopAll(workers);
    await Promise.all([redis?.stop(), emulator?.close()]);
  });

  beforeEach(() => {
    emulator.resetCounters();
  });

  it('should log in once per API secret at a cold start of 8 processes × 3 secrets', async () => {
    const statuses = await callEverywhere();
    expect(statuses).toEqual(Array(24).fill(200));
    for (const { storeId } of merchants) expect(emulator.countersFor(storeId)).toMatchObject({ tokenRequests: 1, loginRequests: 1 });
    expect(emulator.counters).toMatchObject({ tokenRequests: 3, spentRefreshTokens: 0 });
  });

  it('should refresh once per API secret, never presenting a spent refresh token, when every process gets a 401', async () => {
    for (let round = 0; round < 3; round += 1) {
      expect(emulator.revoke()).toBe(3);
      expect(await callEverywhere()).toEqual(Array(24).fill(200));
    }
    expect(emulator.counters).toMatchObject({ loginRequests: 0, refreshRequests: 9, spentRefreshTokens: 0, rejectedTokenRequests: 0 });
  });
});

describeWithRedisCluster('a PortOne fleet of 6 processes on a 3-master Redis Cluster', { timeout: 30_000 }, () => {
  // 12 secrets: their hash slots spread over the 3 masters (all on one: a chance of 3 in 3^12).
  const clusterMerchants = Array.from({ length: 12 }, (_, n) => ({
    storeId: `store-cluster-${n}`,
    apiSecret: createCanary(`cluster-${n}-`),
  }));
  /** The start of every access token the emulator signs (an HS256 JWT's header), to find one in any bytes. */
  const jwtHeader = `${Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url')}.`;
  let cluster: RedisCluster;
  let emulator: PortOneEmulator;
  let workers: Worker[] = [];
  /** A plain client on the cluster (no store, no key): it reads what the fleet wrote, byte for byte. */
  let raw: ReturnType<typeof createCluster>;

  const callEverywhere = () => Promise.all(workers.flatMap((worker) => clusterMerchants.map((_, index) => call(worker, index))));
  const allOk = () => Array(workers.length * clusterMerchants.length).fill(200);

  beforeAll(async () => {
    [cluster, emulator, workers] = await Promise.all([
      startRedisCluster(),
      createPortOneEmulator({ merchants: clusterMerchants }),
      Promise.all(Array.from({ length: 6 }, () => startWorker())),
    ]);
    await configureAll(workers, {
      type: 'configure',
      clusterUrls: cluster.urls,
      portOneUrl: emulator.url,
      apiSecrets: clusterMerchants.map((merchant) => merchant.apiSecret),
      encryptionKey: randomBytes(32).toString('hex'),
    });
    raw = createCluster({ rootNodes: cluster.urls.map((url) => ({ url })) });
    raw.on('error', () => {});
    await raw.connect();
  }, 120_000);

  afterAll(async () => {
    await stopAll(workers);
    raw?.destroy();
    await Promise.all([cluster?.stop(), emulator?.close()]);
  });

  beforeEach(() => {
    emulator.resetCounters();
  });

  /** Every key on the cluster, with the index of the master that holds it and its raw value. */
  async function readCluster(): Promise<Array<{ key: string; master: number; value: string | null }>> {
    const found: Array<{ key: string; master: number; value: string | null }> = [];
    for (const [master, node] of raw.masters.entries()) {
      const client = await raw.nodeClient(node);
      for await (const keys of client.scanIterator({ COUNT: 1_000 })) {
        for (const key of keys) found.push({ key, master, value: await client.get(key) });
      }
    }
    return found;
  }

  it('should log in once per API secret at a cold start of 6 processes × 12 secrets', async () => {
    expect(await callEverywhere()).toEqual(allOk());
    for (const { storeId } of clusterMerchants) expect(emulator.countersFor(storeId)).toMatchObject({ tokenRequests: 1, loginRequests: 1 });
    expect(emulator.counters).toMatchObject({ tokenRequests: 12, spentRefreshTokens: 0 });
  });

  it('should refresh once per API secret, never presenting a spent refresh token, when every process gets a 401', async () => {
    for (let round = 0; round < 3; round += 1) {
      expect(emulator.revoke()).toBe(12);
      expect(await callEverywhere()).toEqual(allOk());
    }
    expect(emulator.counters).toMatchObject({ loginRequests: 0, refreshRequests: 36, spentRefreshTokens: 0, rejectedTokenRequests: 0 });
  });

  it("should keep each secret's token and refresh-token state in one hash slot, encrypted", async () => {
    // The access tokens in use (and so in the store): what the API saw on a round without a 401.
    expect(await callEverywhere()).toEqual(allOk());
    const accessTokens = new Set(emulator.seen('api').map((request) => request.headers.authorization?.replace(/^Bearer /, '') ?? ''));
    expect(accessTokens.size).toBe(12);
    const stored = await readCluster();
    // The refresh tokens stored as state: those the next 401 makes the fleet present (none spent, no login).
    emulator.resetCounters();
    expect(emulator.revoke()).toBe(12);
    expect(await callEverywhere()).toEqual(allOk());
    expect(emulator.counters).toMatchObject({ loginRequests: 0, refreshRequests: 12, spentRefreshTokens: 0 });
    const refreshTokens = new Set(
      emulator.seen('refresh').map((request) => (JSON.parse(request.body) as { refreshToken: string }).refreshToken),
    );
    expect(refreshTokens.size).toBe(12);

    for (const { apiSecret } of clusterMerchants) {
      const { cacheKey } = createPortOneProvider({ apiSecret, baseUrl: emulator.url });
      // Every key whose name holds the cache key, not only the names a hash-tagged store gives: one that lost its tag shows.
      const keys = stored.filter((entry) => entry.key.includes(cacheKey));
      const names = keys.map((entry) => entry.key);
      expect(names).toContain(`x:{${cacheKey}}:token`);
      expect(names).toContain(`x:{${cacheKey}}:state`);
      const slots = await Promise.all(names.map((key) => raw.sendCommand(key, true, ['CLUSTER', 'KEYSLOT', key])));
      expect(new Set(slots).size).toBe(1);
      expect(new Set(keys.map((entry) => entry.master)).size).toBe(1);
    }
    expect(new Set(stored.map((entry) => entry.master)).size).toBeGreaterThan(1);

    // Checked as booleans: a failure must not print what it found.
    for (const { key, value } of stored.filter((entry) => /:(token|state)$/.test(entry.key))) {
      expect(value?.startsWith('xenc1.'), `${key} is encrypted`).toBe(true);
    }
    const dump = stored.map((entry) => entry.value).join('\n');
    for (const token of [...accessTokens, ...refreshTokens]) expect(dump.includes(token), 'a token in plaintext').toBe(false);
    // Nor any other token the emulator issued: refresh tokens carry the canary marker, access tokens the JWT header.
    expect(dump.includes(canaryMarker), 'a refresh token in plaintext').toBe(false);
    expect(dump.includes(jwtHeader), 'an access token in plaintext').toBe(false);
  });
});
