/**
 * A fleet of 8 forked processes, each with a token cache per API secret on one encrypted Redis store, against one
 * emulator that refuses (and counts) every refresh token a later login or refresh has spent. Skipped without
 * `redis-server` unless `X_REQUIRE_REDIS=1`.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createCanary } from '@x/core/testing';
import { type RedisServer, startRedisServer } from '@x/redis/testing';
import { describeWithRedis } from '@x/test-support/redis';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import type { PortOneFleetMessage, PortOneFleetReply } from '../test/portone-fleet-worker.js';
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
    const configure: PortOneFleetMessage = {
      type: 'configure',
      redisUrl: redis.url,
      portOneUrl: emulator.url,
      apiSecrets: merchants.map((merchant) => merchant.apiSecret),
      encryptionKey: randomBytes(32).toString('hex'),
    };
    const replies = await Promise.all(
      workers.map((worker) => {
        const configured = worker.next((reply) => reply.type === 'configured');
        worker.child.send(configure);
        return configured;
      }),
    );
    expect(replies).toEqual(workers.map(() => ({ type: 'configured' })));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(
      workers.map(async (worker) => {
        if (worker.child.connected) worker.child.send({ type: 'exit' } satisfies PortOneFleetMessage);
        if (worker.child.exitCode === null) await once(worker.child, 'exit');
      }),
    );
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
