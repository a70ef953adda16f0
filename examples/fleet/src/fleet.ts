/**
 * Runs a small fleet: a private redis-server, the i'mport emulator with three merchants, and N worker processes
 * (worker.ts) that all make API calls for all three merchants at the same moment, sharing tokens through Redis.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createIamportEmulator } from '@x/iamport/testing';
import { startRedisServer } from '@x/redis/testing';
import { createClient } from 'redis';
import type { WorkerReport, WorkerSettings } from './worker.js';

export interface FleetOptions {
  /** Number of worker processes. @default 6 */
  workers?: number | undefined;
  /** API calls each worker makes per merchant. @default 5 */
  callsPerMerchant?: number | undefined;
  /** Receives progress lines. @default no output */
  log?: ((line: string) => void) | undefined;
}

export interface FleetResult {
  workers: WorkerReport[];
  /** Token requests the i'mport emulator received, by merchant (`impKey`). */
  tokenRequestsByMerchant: Record<string, number>;
  apiCalls: number;
  /** What a `redis-cli GET` of one token key returns: ciphertext, not a token. */
  sampleStoredValue: string;
}

const merchants = ['imp_shop_seoul', 'imp_shop_busan', 'imp_shop_jeju'].map((impKey) => ({
  impKey,
  // `xcanary` marks it for the repository's leak tests.
  impSecret: `example-secret-xcanary-${randomBytes(16).toString('hex')}`,
}));

const workerPath = fileURLToPath(new URL('./worker.ts', import.meta.url));

export async function runFleet(options: FleetOptions = {}): Promise<FleetResult> {
  const count = options.workers ?? 6;
  const callsPerMerchant = options.callsPerMerchant ?? 5;
  const log = options.log ?? (() => {});
  const redis = await startRedisServer();
  // Tokens marked `xcanary`, like the secrets, so the repository's leak tests find one that is printed.
  const emulator = await createIamportEmulator({ merchants, tokenFormat: 'canary' });
  const children: ChildProcess[] = [];
  try {
    log(`redis-server on ${redis.url}, i'mport emulator on ${emulator.url}`);
    const settings: WorkerSettings = {
      redisUrl: redis.url,
      iamportUrl: emulator.url,
      // Every process of the fleet shares the key; here it lives for one run.
      encryptionKey: randomBytes(32).toString('base64'),
      merchants,
      callsPerMerchant,
    };
    log(`starting ${count} worker processes…`);
    const ready: Array<Promise<unknown>> = [];
    const reports: Array<Promise<WorkerReport>> = [];
    for (let index = 1; index <= count; index += 1) {
      const child = fork(workerPath, [], {
        execArgv: ['--import', 'tsx', '--conditions=@x/source'],
        env: { ...process.env, FLEET_WORKER: JSON.stringify({ ...settings, index }) },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      children.push(child);
      ready.push(waitForMessage(child, 'ready'));
      reports.push(waitForMessage(child, 'report') as Promise<WorkerReport>);
    }
    await Promise.all(ready);
    // All at once: a cold fleet racing for the same three tokens.
    for (const child of children) child.send({ type: 'go' });
    const workers = await Promise.all(reports);
    for (const report of workers) {
      const why = report.failureKinds.length === 0 ? '' : ` (${report.failureKinds.join(', ')})`;
      log(
        `worker ${report.index} (pid ${report.pid}): ${report.calls} calls, ${report.failures} failed${why}; ` +
          `tokens from i'mport: ${report.tokensFromGateway}, from Redis: ${report.tokensFromStore}`,
      );
    }
    const tokenRequestsByMerchant = Object.fromEntries(merchants.map(({ impKey }) => [impKey, emulator.countersFor(impKey).tokenRequests]));
    const sampleStoredValue = await readOneStoredToken(redis.url);
    return { workers, tokenRequestsByMerchant, apiCalls: emulator.counters.apiCalls, sampleStoredValue };
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await emulator.close();
    await redis.stop();
  }
}

function waitForMessage(child: ChildProcess, type: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { type: string }): void => {
      if (message.type !== type) return;
      child.off('message', onMessage);
      resolve(message);
    };
    child.on('message', onMessage);
    child.once('exit', (code) => reject(new Error(`worker exited with code ${code} before "${type}"`)));
  });
}

/** What an operator sees with `redis-cli GET` on one token key. */
async function readOneStoredToken(url: string): Promise<string> {
  const client = createClient({ url });
  await client.connect();
  try {
    const [key] = await client.keys('x:{*}:token');
    if (key === undefined) throw new Error('Redis holds no token key (x:{*}:token) after the fleet ran');
    return (await client.get(key)) ?? '';
  } finally {
    client.destroy();
  }
}
