import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createIamportProvider } from '@x/iamport';
import { createIamportEmulator, type IamportEmulator } from '@x/iamport/testing';
import { describeWithRedis, describeWithRedisCluster } from '@x/test-support/redis';
import { type FleetWorker, type FleetWorkerConfig, startFleet } from '@x/test-support/redis-fleet';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { type RedisCluster, type RedisServer, startRedisCluster, startRedisServer } from './testing/index.js';

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const started = performance.now();
  while (!condition()) {
    if (performance.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const merchants = [1, 2, 3].map((number) => ({
  impKey: `imp_fleet_${number}`,
  impSecret: `fleet-secret-${number}-${randomBytes(12).toString('hex')}`,
}));

// Forking is the slow part (tsx compiles each worker): 8 processes are forked once and reconfigured, cold, per test.
describeWithRedis('Redis token store across processes', { timeout: 30_000 }, () => {
  let redis: RedisServer;
  let emulator: IamportEmulator;
  let fleet: FleetWorker[] = [];
  let config: FleetWorkerConfig;

  beforeAll(async () => {
    emulator = await createIamportEmulator({ merchants });
    fleet = await startFleet(8);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(fleet.map((worker) => worker.stop()));
    await emulator?.close();
  });

  /** A fresh Redis and emulator state, and `count` workers configured cold against them. */
  const setUp = async (count: number, overrides: Partial<FleetWorkerConfig> = {}): Promise<FleetWorker[]> => {
    redis = await startRedisServer();
    emulator.revoke();
    emulator.clearFaults();
    emulator.resetCounters();
    config = { redisUrl: redis.url, iamportUrl: emulator.url, merchants, ...overrides };
    // Alive ones: the tests that kill a worker kill one of the shared fleet.
    const workers = fleet.filter((worker) => worker.process.exitCode === null && worker.process.signalCode === null).slice(0, count);
    const connected = await Promise.all(workers.map((worker) => worker.configure(config)));
    expect(connected).toEqual(workers.map(() => true));
    return workers;
  };

  afterEach(async () => {
    await redis?.kill();
  });

  const callEverywhere = (fleet: readonly FleetWorker[]) =>
    Promise.all(fleet.flatMap((worker) => merchants.map((merchant) => worker.call(merchant.impKey))));

  /**
   * Has `holder` ask the gateway for `merchant`'s token and hang there (a 30 s answer), holding the lock: resolves once
   * the slow answer is under way, with the holder's call (wrapped, so that it is not awaited here).
   */
  const hangHolder = async (holder: FleetWorker, merchant: string) => {
    emulator.fault({ kind: 'slow', delayMs: 30_000, count: 1 });
    const held = holder.call(merchant);
    await holder.waitForEvent((event) => event.type === 'token-requested');
    // The event precedes the HTTP request: kill only once the slow answer is under way, or a waiter would get it.
    await until(() => emulator.counters.faults === 1);
    return { held };
  };

  it('should make exactly one token request per merchant on a cold start of 8 processes × 3 merchants', async () => {
    // A generous command time limit: this checks the lock protocol. With the default 250 ms, a machine loaded by other
    // test files can time a command out, and a store that fails is (by design) no reason to keep a caller waiting.
    const workers = await setUp(8, { operationTimeoutMs: 2_000 });

    const results = await callEverywhere(workers);

    expect(results).toHaveLength(24);
    expect(results.filter((result) => !result.ok)).toEqual([]);
    expect(workers.flatMap((worker) => worker.events.filter((event) => event.type === 'store-error'))).toEqual([]);
    for (const merchant of merchants) expect(emulator.countersFor(merchant.impKey).tokenRequests).toBe(1);
    expect(emulator.counters.tokenRequests).toBe(3);
    const requested = workers.flatMap((worker) => worker.events.filter((event) => event.type === 'token-requested'));
    expect(requested).toHaveLength(3);
    const fromStore = workers.flatMap((worker) =>
      worker.events.filter((event) => event.type === 'token-refreshed' && event.source === 'store'),
    );
    expect(fromStore).toHaveLength(21);
  });

  it('should lose no call when Redis is killed mid-run', async () => {
    const lockWaitMs = 2_000;
    const workers = await setUp(4, { lockWaitMs });
    const before = await callEverywhere(workers);
    expect(before.every((result) => result.ok)).toBe(true);

    // Tokens revoked, then calls in flight (401, invalidate in the store, lock, new token) while Redis dies.
    emulator.revoke();
    const during = callEverywhere(workers);
    await redis.kill();
    const duringResults = await during;
    // Again with Redis gone for good: every process needs the gateway, and a cold process starts without Redis.
    emulator.revoke();
    const eventsBefore = workers.map((worker) => worker.events.length);
    const afterRevoke = await callEverywhere(workers);
    const coldWorker = fleet[4]!;
    expect(await coldWorker.configure(config)).toBe(false);
    const cold = await Promise.all(merchants.map((merchant) => coldWorker.call(merchant.impKey)));

    for (const results of [duringResults, afterRevoke, cold]) expect(results.filter((result) => !result.ok)).toEqual([]);
    const storeErrors = [...workers, coldWorker].flatMap((worker) => worker.events.filter((event) => event.type === 'store-error'));
    expect(storeErrors.length).toBeGreaterThan(0);
    // A store that fails holds no lock anyone waits on: with Redis gone, no call waits on a lock.
    const eventsAfter = [...workers.flatMap((worker, index) => worker.events.slice(eventsBefore[index])), ...coldWorker.events];
    expect(eventsAfter.filter((event) => event.type === 'token-requested').length).toBeGreaterThan(0);
    expect(eventsAfter.filter((event) => event.type === 'lock-waited')).toEqual([]);
  });

  it('should keep the raw token out of Redis when values are encrypted', async () => {
    const workers = await setUp(3, { encryptionKey: randomBytes(32).toString('base64') });
    const results = await callEverywhere(workers);
    expect(results.every((result) => result.ok)).toBe(true);

    const cli = (...args: string[]): string => {
      const result = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(redis.port), '--no-raw', ...args], { encoding: 'utf8' });
      if (result.status !== 0) throw new Error(`redis-cli ${args.join(' ')} failed: ${result.stderr}`);
      return result.stdout;
    };
    const keys = cli('--scan')
      .split('\n')
      .map((line) => line.trim().replace(/^"|"$/g, ''))
      .filter(Boolean);
    const tokenKeys = keys.filter((key) => /^x:\{iamport:[^}]+\}:token$/.test(key));
    expect(tokenKeys).toHaveLength(3);
    const dump = keys.join('\n') + tokenKeys.map((key) => cli('GET', key)).join('\n');
    expect(dump).toContain('xenc1.');
    for (const merchant of merchants) {
      const token = emulator.currentToken(merchant.impKey)?.accessToken;
      expect(token).toBeTypeOf('string');
      expect(dump).not.toContain(token);
      expect(dump).not.toContain(merchant.impSecret);
      expect(dump).not.toContain(merchant.impKey);
    }

    // The same check finds the token when it is there: a plaintext store on the same Redis.
    const plain = fleet[3]!;
    await plain.configure({ ...config, encryptionKey: undefined, keyPrefix: 'plain:' });
    expect((await plain.call(merchants[0]!.impKey)).ok).toBe(true);
    const plainKey = cli('--scan', '--pattern', 'plain:{*}:token').trim().replace(/^"|"$/g, '');
    expect(cli('GET', plainKey)).toContain(emulator.currentToken(merchants[0]!.impKey)?.accessToken);
  });

  it('should cost one more token request, not one per waiter, when the lock holder is SIGKILLed mid-request', async () => {
    // The default lockWaitMs (5 s), and a lease that runs out well within it once its holder is dead.
    const workers = await setUp(6, { lockLeaseMs: 1_000, operationTimeoutMs: 400 });
    const [holder, ...others] = workers as [FleetWorker, ...FleetWorker[]];
    const merchant = merchants[0]!.impKey;

    const { held } = await hangHolder(holder, merchant);
    const waiting = Promise.all(others.map((worker) => worker.call(merchant)));
    // Every other worker is waiting on the lock, subscribed to its channel, before the holder dies.
    const channel = `x:{${createIamportProvider({ ...merchants[0]!, baseUrl: emulator.url }).cacheKey}}:unlocked`;
    const subscribers = (): number => {
      const result = spawnSync('redis-cli', ['-p', String(redis.port), 'PUBSUB', 'NUMSUB', channel], { encoding: 'utf8' });
      return Number(result.stdout.trim().split('\n')[1]);
    };
    await until(() => subscribers() === others.length);
    await holder.kill();
    const results = await waiting;

    expect((await held).ok).toBe(false);
    expect(results.filter((result) => !result.ok)).toEqual([]);
    // The dead holder's request, and one more by the waiter that took its lock when its lease ran out.
    expect(emulator.countersFor(merchant).tokenRequests).toBe(2);
    // Each waiter had the token from the store, or took the free lock: one to ask the gateway, and, on a loaded machine,
    // one whose read came before the taker's write and whose lock came after its release (it reads the store again
    // under the lock, and finds the token there: no request).
    const waits = others.map((worker) => worker.events.find((event) => event.type === 'lock-waited'));
    expect(waits.filter((event) => event?.lockTaken === true).length).toBeGreaterThanOrEqual(1);
    expect(waits.filter((event) => event?.received === true || event?.lockTaken === true)).toHaveLength(others.length);
  });

  it('should not stall the others beyond the lock wait when the lock holder is killed mid-request', async () => {
    const lockWaitMs = 1_000;
    // Last: it kills a worker of the shared fleet.
    const workers = await setUp(4, { lockWaitMs });
    const [holder, ...others] = workers as [FleetWorker, ...FleetWorker[]];
    const merchant = merchants[0]!.impKey;

    const { held } = await hangHolder(holder, merchant);
    const waiting = Promise.all(others.map((worker) => worker.call(merchant)));
    await holder.kill();
    const results = await waiting;

    expect((await held).ok).toBe(false);
    expect(results.filter((result) => !result.ok)).toEqual([]);
    // Without the bounded wait the others would sit out the holder's 30-second request (and the lock's TTL), and
    // this test's 30-second limit with it. Each waited on the lock, and gave up within its lockWaitMs (one poll's slack).
    const waits = others.map((worker) => worker.events.find((event) => event.type === 'lock-waited'));
    expect(waits.every((event) => event !== undefined)).toBe(true);
    for (const event of waits) expect(event?.type === 'lock-waited' && event.waitedMs).toBeLessThan(lockWaitMs + 1_000);
    // Whoever's wait ran out first asked the gateway; the others took that token from the store or asked too.
    expect(waits.some((event) => event?.received === false)).toBe(true);
    const requests = emulator.countersFor(merchant).tokenRequests;
    expect(requests).toBeGreaterThanOrEqual(2);
    expect(requests).toBeLessThanOrEqual(1 + others.length);
  });
});

describeWithRedisCluster('Redis token store across processes on a 3-master Redis Cluster', { timeout: 30_000 }, () => {
  let cluster: RedisCluster;
  let emulator: IamportEmulator;
  let fleet: FleetWorker[] = [];
  const clusterMerchants = Array.from({ length: 12 }, (_, index) => ({
    impKey: `imp_cluster_${index}`,
    impSecret: `cluster-secret-${index}-${randomBytes(12).toString('hex')}`,
  }));

  beforeAll(async () => {
    [cluster, emulator, fleet] = await Promise.all([
      startRedisCluster(),
      createIamportEmulator({ merchants: clusterMerchants }),
      startFleet(6),
    ]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(fleet.map((worker) => worker.stop()));
    await emulator?.close();
    await cluster?.stop();
  });

  it('should make exactly one token request per merchant on a cold start of 6 processes × 12 merchants (createCluster)', async () => {
    const config: FleetWorkerConfig = {
      redisUrl: '',
      clusterUrls: cluster.urls,
      iamportUrl: emulator.url,
      merchants: clusterMerchants,
      encryptionKey: randomBytes(32).toString('base64'),
      operationTimeoutMs: 2_000,
    };
    expect(await Promise.all(fleet.map((worker) => worker.configure(config)))).toEqual(fleet.map(() => true));

    const results = await Promise.all(fleet.flatMap((worker) => clusterMerchants.map((merchant) => worker.call(merchant.impKey))));

    expect(results).toHaveLength(72);
    expect(results.filter((result) => !result.ok)).toEqual([]);
    expect(fleet.flatMap((worker) => worker.events.filter((event) => event.type === 'store-error'))).toEqual([]);
    for (const merchant of clusterMerchants) expect(emulator.countersFor(merchant.impKey).tokenRequests).toBe(1);
    expect(emulator.counters.tokenRequests).toBe(12);
    // The merchants' keys spread over the masters: the cluster shares the load, each credential stays in one slot.
    const keysPerNode = cluster.nodes.map((node) => {
      const result = spawnSync('redis-cli', ['-p', String(node.port), '--scan', '--pattern', 'x:{*}:token'], { encoding: 'utf8' });
      return result.stdout.split('\n').filter(Boolean).length;
    });
    expect(keysPerNode.reduce((sum, count) => sum + count, 0)).toBe(12);
    expect(keysPerNode.filter((count) => count > 0).length).toBeGreaterThan(1);
  });
});
