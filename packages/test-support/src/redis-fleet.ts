/** Forks redis-fleet-worker.ts processes (through tsx) and talks to them over IPC. For @x/redis's tests. */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

export interface FleetWorkerConfig {
  /** The Redis node (ignored with `clusterUrls`). */
  redisUrl: string;
  /** A Redis Cluster's nodes: the workers connect with node-redis's `createCluster` instead of `createClient`. */
  clusterUrls?: readonly string[] | undefined;
  iamportUrl: string;
  merchants: ReadonlyArray<{ impKey: string; impSecret: string }>;
  /** The stores' encryption key; without one the workers opt into plaintext stores (`plaintext: true`). */
  encryptionKey?: string | undefined;
  keyPrefix?: string | undefined;
  lockWaitMs?: number | undefined;
  /** The store's per-command time limit. @default the store's own (250 ms) */
  operationTimeoutMs?: number | undefined;
  /** The store's lock lease. @default the store's own (2 s) */
  lockLeaseMs?: number | undefined;
  /** `false`: the store does not wake lock waiters (they poll). @default the store's own (`true`) */
  wakeWaiters?: boolean | undefined;
  /** The cache's bound on one store call. @default the policy's (1 s) */
  storeTimeoutMs?: number | undefined;
  /**
   * Keeps the Redis client (and so its lock subscriber) from the last `configure` when it was for the same Redis:
   * new caches on a process that has been up a while. @default false: a new client, a cold process
   */
  keepClient?: boolean | undefined;
  /** Only these event types are sent to the parent (a fleet of thousands of caches would flood IPC). @default every type */
  forwardEvents?: readonly string[] | undefined;
}

/** A cache or store event, reduced to what the tests read. */
export interface FleetWorkerEvent {
  merchant: string;
  type: string;
  reason?: string;
  source?: string;
  received?: boolean;
  lockTaken?: boolean;
  waitedMs?: number;
  operation?: string;
}

export interface FleetCallResult {
  id: number;
  ok: boolean;
  status?: number;
  error?: string;
  durationMs: number;
}

/** One merchant's `getToken()` in a worker, timed there (no IPC in the figure). */
export interface FleetTokenResult {
  merchant: string;
  ok: boolean;
  error?: string;
  /** From the moment the worker started the batch to this token, in milliseconds (fractional). */
  durationMs: number;
  /** When the token came, epoch milliseconds (fractional; one clock for every process of the machine). */
  doneAt?: number;
}

/** What a batch of API calls (`calls`) came to in one worker. */
export interface FleetCallsResult {
  ok: number;
  failed: number;
  /** The first failure's status or message, if any. */
  firstError?: string;
}

export type ParentMessage =
  | { type: 'configure'; config: FleetWorkerConfig }
  | { type: 'call'; id: number; merchant: string }
  | { type: 'tokens'; id: number; merchants: readonly string[] }
  | { type: 'calls'; id: number; merchants: readonly string[]; repeat: number; concurrency: number }
  | { type: 'exit' };

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'configured'; redisReady: boolean }
  | ({ type: 'result' } & FleetCallResult)
  | { type: 'tokens-result'; id: number; results: FleetTokenResult[] }
  | ({ type: 'calls-result'; id: number } & FleetCallsResult)
  | { type: 'event'; event: FleetWorkerEvent };

export interface FleetWorker {
  readonly process: ChildProcess;
  /** Events received since the last `configure`, in order. */
  readonly events: FleetWorkerEvent[];
  /** Drops the worker's caches and Redis client and starts over with `config`; resolves whether Redis connected. */
  configure(config: FleetWorkerConfig): Promise<boolean>;
  /** Resolves with the first event matching `predicate` (already received or to come). */
  waitForEvent(predicate: (event: FleetWorkerEvent) => boolean, timeoutMs?: number): Promise<FleetWorkerEvent>;
  /** Makes one API call for the merchant (`impKey`) through the worker's auth fetch. */
  call(merchant: string): Promise<FleetCallResult>;
  /**
   * Calls `getToken()` on every merchant's cache at once (one IPC message, all started in the same tick) and resolves
   * with each one's time to token, measured in the worker. A worker that dies resolves with every merchant failed.
   */
  tokens(merchants: readonly string[]): Promise<FleetTokenResult[]>;
  /**
   * Makes `repeat` API calls per merchant through the worker's auth fetches, `concurrency` at a time, and resolves with
   * how many succeeded: load without one IPC message per call.
   */
  calls(merchants: readonly string[], repeat: number, concurrency?: number): Promise<FleetCallsResult>;
  /** SIGKILLs the worker and waits for it to be gone. */
  kill(): Promise<void>;
  /** Asks the worker to exit and waits for it. */
  stop(): Promise<void>;
}

const workerPath = fileURLToPath(new URL('./redis-fleet-worker.ts', import.meta.url));
let nextCallId = 1;

/** Forks one worker (TypeScript through tsx, workspace packages from source) and waits until it reports ready. */
export async function startFleetWorker(): Promise<FleetWorker> {
  const child = fork(workerPath, [], {
    execArgv: ['--import', 'tsx', '--conditions=@x/source'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const events: FleetWorkerEvent[] = [];
  const pendingCalls = new Map<number, (result: FleetCallResult) => void>();
  const pendingConfigures: Array<(redisReady: boolean) => void> = [];
  const pendingBatches = new Map<number, { resolve: (message: WorkerMessage) => void; gone: () => void }>();
  const eventWaiters = new Set<{ predicate: (event: FleetWorkerEvent) => boolean; resolve: (event: FleetWorkerEvent) => void }>();

  const ready = new Promise<void>((resolve, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`fleet worker exited before ready (${code ?? signal})`)));
    child.on('message', (message: WorkerMessage) => {
      if (message.type === 'ready') {
        resolve();
      } else if (message.type === 'configured') {
        pendingConfigures.shift()?.(message.redisReady);
      } else if (message.type === 'result') {
        const { type: _type, ...result } = message;
        pendingCalls.get(result.id)?.(result);
        pendingCalls.delete(result.id);
      } else if (message.type === 'tokens-result' || message.type === 'calls-result') {
        pendingBatches.get(message.id)?.resolve(message);
        pendingBatches.delete(message.id);
      } else {
        events.push(message.event);
        for (const waiter of eventWaiters) {
          if (waiter.predicate(message.event)) {
            eventWaiters.delete(waiter);
            waiter.resolve(message.event);
          }
        }
      }
    });
  });
  child.once('exit', () => {
    for (const [id, resolve] of pendingCalls) resolve({ id, ok: false, error: 'worker exited', durationMs: 0 });
    pendingCalls.clear();
    for (const batch of pendingBatches.values()) batch.gone();
    pendingBatches.clear();
  });
  await ready;

  /** Sends a batch and resolves with its reply, or with `onGone()` when the worker is (or goes) away first. */
  const batch = <T>(message: ParentMessage & { id: number }, onReply: (reply: WorkerMessage) => T, onGone: () => T): Promise<T> =>
    new Promise((resolve) => {
      if (!child.connected) {
        resolve(onGone());
        return;
      }
      pendingBatches.set(message.id, { resolve: (reply) => resolve(onReply(reply)), gone: () => resolve(onGone()) });
      child.send(message);
    });

  const gone = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
  };

  return {
    process: child,
    events,
    configure(config) {
      events.length = 0;
      return new Promise((resolve) => {
        pendingConfigures.push(resolve);
        child.send({ type: 'configure', config } satisfies ParentMessage);
      });
    },
    waitForEvent(predicate, timeoutMs = 10_000) {
      const found = events.find(predicate);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const waiter = {
          predicate,
          resolve: (event: FleetWorkerEvent) => {
            clearTimeout(timer);
            resolve(event);
          },
        };
        const timer = setTimeout(() => {
          eventWaiters.delete(waiter);
          reject(new Error(`no matching event within ${timeoutMs} ms`));
        }, timeoutMs);
        eventWaiters.add(waiter);
      });
    },
    call(merchant) {
      const id = nextCallId++;
      return new Promise((resolve) => {
        if (!child.connected) {
          resolve({ id, ok: false, error: 'worker is gone', durationMs: 0 });
          return;
        }
        pendingCalls.set(id, resolve);
        child.send({ type: 'call', id, merchant } satisfies ParentMessage);
      });
    },
    tokens(merchants) {
      return batch(
        { type: 'tokens', id: nextCallId++, merchants },
        (reply) => (reply.type === 'tokens-result' ? reply.results : []),
        (): FleetTokenResult[] => merchants.map((merchant) => ({ merchant, ok: false, error: 'worker exited', durationMs: 0 })),
      );
    },
    calls(merchants, repeat, concurrency = 8) {
      return batch(
        { type: 'calls', id: nextCallId++, merchants, repeat, concurrency },
        (reply): FleetCallsResult => {
          if (reply.type !== 'calls-result') return { ok: 0, failed: merchants.length * repeat, firstError: 'unexpected reply' };
          const { type: _type, id: _id, ...result } = reply;
          return result;
        },
        () => ({ ok: 0, failed: merchants.length * repeat, firstError: 'worker exited' }),
      );
    },
    async kill() {
      child.kill('SIGKILL');
      await gone();
    },
    async stop() {
      if (child.connected) child.send({ type: 'exit' } satisfies ParentMessage);
      const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
      await gone();
      clearTimeout(timer);
    },
  };
}

/** Forks `count` workers in parallel. */
export function startFleet(count: number): Promise<FleetWorker[]> {
  return Promise.all(Array.from({ length: count }, () => startFleetWorker()));
}
