import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ConfigurationError } from '@x/core';
import { durationProblem } from '@x/core/provider';
import { type RedisServer, redisInstallHint, startRedisServerWith } from './redis-server.js';

const run = promisify(execFile);

/** Options of {@link startRedisSentinel}. */
export interface RedisSentinelOptions {
  /** The name the sentinels know the master by: node-redis's `createSentinel({ name })`, ioredis's `{ name }`. @default 'x-master' */
  name?: string | undefined;
  /** How many sentinels: 1 (quorum 1) or 3 (quorum 2). @default 1 */
  sentinels?: 1 | 3 | undefined;
  /** The `redis-server` executable; it runs the sentinels too (`--sentinel`). @default 'redis-server' (from PATH) */
  command?: string | undefined;
  /** The `redis-cli` executable, which asks the servers and sentinels whether they are ready. @default 'redis-cli' (from PATH) */
  cliCommand?: string | undefined;
  /**
   * How long to wait for the replica to sync and every sentinel to see it and the others, and how long
   * {@link RedisSentinel.failover} may take; at most 2^31−1 (`maxDurationMs`). @default 10_000
   */
  startTimeoutMs?: number | undefined;
}

/** A private, throwaway master, replica and sentinels on 127.0.0.1, no persistence. */
export interface RedisSentinel {
  /** The name the sentinels know the master by. */
  readonly name: string;
  /** The server started as master, then the one started as its replica; a failover swaps their roles. */
  readonly servers: readonly [RedisServer, RedisServer];
  /** The sentinels, `redis-server --sentinel`. */
  readonly sentinels: readonly RedisServer[];
  /**
   * Where a Sentinel client starts: `[{ host: '127.0.0.1', port }]` for each sentinel, for node-redis's
   * `createSentinel({ name, sentinelRootNodes })` and ioredis's `new Redis({ name, sentinels })`.
   */
  readonly sentinelRootNodes: ReadonlyArray<{
    /** Always `127.0.0.1`. */
    readonly host: string;
    /** The sentinel's port. */
    readonly port: number;
  }>;
  /** The server the first sentinel names master now (`SENTINEL GET-MASTER-ADDR-BY-NAME`). */
  master(): Promise<RedisServer>;
  /**
   * `SENTINEL FAILOVER <name>`: promotes the replica, and resolves with it once every sentinel names it master. The
   * old master answers as a master until the sentinels make it a replica of the new one, about 10 s later (their
   * `INFO` period): a client that does not follow the sentinels' `+switch-master` writes to it meanwhile, and a second
   * failover before then fails (`NOGOODSLAVE`).
   */
  failover(): Promise<RedisServer>;
  /** Stops the sentinels and the servers (SIGTERM) and removes their directories. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts a private master and a replica (`--replicaof`) on free ports of 127.0.0.1, waits until the replica is in
 * sync, then starts `sentinels` sentinels (`redis-server <conf> --sentinel`, each in a temporary directory with its
 * configuration file) and waits until every one sees the master, the replica with its link up, and the other
 * sentinels. The sentinels mark a master down after 1 s without an answer, so killing it fails over within seconds.
 *
 * @example
 * const sentinel = await startRedisSentinel();
 * const client = await createSentinel({ name: sentinel.name, sentinelRootNodes: [...sentinel.sentinelRootNodes] }).connect();
 * // …
 * await sentinel.stop();
 */
export async function startRedisSentinel(options: RedisSentinelOptions = {}): Promise<RedisSentinel> {
  const name = options.name ?? 'x-master';
  const count = options.sentinels ?? 1;
  const cli = options.cliCommand ?? 'redis-cli';
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  const issues = [];
  // The name goes into the sentinels' configuration file as one word.
  if (typeof name !== 'string' || !/^[\w.-]{1,64}$/.test(name)) {
    issues.push({ path: 'name', message: 'must be 1 to 64 letters, digits, `_`, `.` or `-`' });
  }
  if (count !== 1 && count !== 3) issues.push({ path: 'sentinels', message: 'must be 1 or 3' });
  const timeoutProblem = durationProblem(startTimeoutMs, { positive: true });
  if (timeoutProblem !== undefined) issues.push({ path: 'startTimeoutMs', message: timeoutProblem });
  if (issues.length > 0) throw new ConfigurationError({ provider: 'redis', issues });

  const ask = async (port: number, ...args: string[]): Promise<string> => {
    try {
      return (await run(cli, ['-p', String(port), ...args], { timeout: startTimeoutMs })).stdout;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new Error(`${cli} was not found on PATH: ${redisInstallHint}`, { cause: error });
      }
      throw error;
    }
  };
  /** Asks until `check` says yes, or fails with what it last saw once `deadline` has passed. */
  const poll = async (what: string, deadline: number, check: () => Promise<string | true>): Promise<void> => {
    for (;;) {
      const seen = await check();
      if (seen === true) return;
      if (Date.now() > deadline) throw new Error(`${what} not ready within ${startTimeoutMs} ms:\n${seen}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  const started: RedisServer[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(started.map((server) => server.stop()));
  };
  let servers: [RedisServer, RedisServer];
  const sentinels: RedisServer[] = [];
  try {
    // Full syncs through a file in the server's directory: a diskless one (the default) first waits 5 s for more
    // replicas to share it, then streams writes only after the replica's first acknowledgment, up to 1 s after its
    // link is up: a write made meanwhile is missing on the replica. Also the old master's, once a failover has made it
    // a replica of the other.
    const diskSync = ['--repl-diskless-sync', 'no'];
    const master = await startRedisServerWith({ command: options.command }, () => diskSync);
    started.push(master);
    const replica = await startRedisServerWith({ command: options.command }, () => [
      ...diskSync,
      '--replicaof',
      '127.0.0.1',
      String(master.port),
    ]);
    started.push(replica);
    servers = [master, replica];
    const deadline = Date.now() + startTimeoutMs;
    // Before the sentinels: the replica's link state they read first is then `ok`, not a stale `err` for 10 s.
    await poll('The replica', deadline, async () => {
      const info = await ask(replica.port, 'INFO', 'replication');
      return info.includes('master_link_status:up') || info;
    });

    const configuration = [
      `sentinel monitor ${name} 127.0.0.1 ${master.port} ${count === 1 ? 1 : 2}`,
      // Defaults of 30 s and 3 min: a killed master would take that long to fail over, or a failed failover to retry.
      `sentinel down-after-milliseconds ${name} 1000`,
      `sentinel failover-timeout ${name} 5000`,
      '',
    ].join('\n');
    for (let index = 0; index < count; index += 1) {
      const sentinel = await startRedisServerWith({ command: options.command }, () => ['--sentinel'], {
        // Sentinel rewrites its configuration file (its id, the epochs, the master it follows).
        configFile: (directory) => {
          const path = join(directory, 'sentinel.conf');
          writeFileSync(path, configuration);
          return path;
        },
        readyLine: 'Sentinel ID is',
      });
      started.push(sentinel);
      sentinels.push(sentinel);
    }
    for (const sentinel of sentinels) {
      await poll(`Sentinel on port ${sentinel.port}`, deadline, async () => {
        const master = fields(await ask(sentinel.port, 'SENTINEL', 'MASTER', name));
        const replicas = fields(await ask(sentinel.port, 'SENTINEL', 'REPLICAS', name));
        const ready =
          master.get('flags') === 'master' &&
          master.get('num-slaves') === '1' &&
          master.get('num-other-sentinels') === String(count - 1) &&
          replicas.get('flags') === 'slave' &&
          replicas.get('master-link-status') === 'ok';
        return ready || `master: ${[...master].join(' ')}\nreplica: ${[...replicas].join(' ')}`;
      });
    }
  } catch (error) {
    await stop();
    throw error;
  }

  const master = async (sentinel: RedisServer = sentinels[0]!): Promise<RedisServer> => {
    const [, port] = (await ask(sentinel.port, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)).trim().split('\n');
    const server = servers.find((candidate) => String(candidate.port) === port);
    if (server === undefined) throw new Error(`Sentinel on port ${sentinel.port} names no master of ours: port ${port}`);
    return server;
  };

  return {
    name,
    servers,
    sentinels,
    sentinelRootNodes: sentinels.map((sentinel) => ({ host: '127.0.0.1', port: sentinel.port })),
    master: () => master(),
    async failover() {
      const before = await master();
      const promoted = servers.find((server) => server !== before)!;
      const reply = (await ask(sentinels[0]!.port, 'SENTINEL', 'FAILOVER', name)).trim();
      if (reply !== 'OK') throw new Error(`SENTINEL FAILOVER ${name} failed: ${reply}`);
      const deadline = Date.now() + startTimeoutMs;
      // The other sentinels learn of the new master from the first one's hello messages, every 2 s.
      for (const sentinel of sentinels) {
        await poll(`The failover seen by the sentinel on port ${sentinel.port}`, deadline, async () => {
          const named = await master(sentinel);
          return named === promoted || `master: port ${named.port}`;
        });
      }
      await poll('The promoted replica', deadline, async () => {
        const role = await ask(promoted.port, 'ROLE');
        return role.startsWith('master\n') || role;
      });
      return promoted;
    },
    stop,
  };
}

/** The field-value pairs `redis-cli` prints one a line, for one flat reply (`SENTINEL MASTER`) or one element of a list. */
function fields(output: string): Map<string, string> {
  const lines = output.trim().split('\n');
  const pairs = new Map<string, string>();
  for (let index = 0; index + 1 < lines.length; index += 2) pairs.set(lines[index]!, lines[index + 1]!);
  return pairs;
}
