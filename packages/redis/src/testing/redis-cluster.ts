import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { ConfigurationError } from '@x/core';
import { durationProblem } from '@x/core/provider';
import { freePort, type RedisServer, redisInstallHint, startRedisServerWith } from './redis-server.js';

const run = promisify(execFile);

/** Options of {@link startRedisCluster}. */
export interface RedisClusterOptions {
  /** How many masters (no replicas); Redis Cluster needs at least 3. @default 3 */
  masters?: number | undefined;
  /** The `redis-server` executable. @default 'redis-server' (from PATH) */
  command?: string | undefined;
  /** The `redis-cli` executable, which creates the cluster. @default 'redis-cli' (from PATH) */
  cliCommand?: string | undefined;
  /** How long to wait for every node to report `cluster_state:ok`, at most 2^31−1 (`maxDurationMs`). @default 10_000 */
  startTimeoutMs?: number | undefined;
}

/** A private, throwaway Redis Cluster on 127.0.0.1: masters only, no persistence. */
export interface RedisCluster {
  /** Its nodes, in the order their slots were assigned. */
  readonly nodes: readonly RedisServer[];
  /** Where a cluster client starts: `[{ host: '127.0.0.1', port }]` for each node. */
  readonly rootNodes: ReadonlyArray<{
    /** Always `127.0.0.1`. */
    readonly host: string;
    /** The node's port. */
    readonly port: number;
  }>;
  /** `redis://127.0.0.1:<port>` of each node, for node-redis's `createCluster({ rootNodes: [{ url }] })`. */
  readonly urls: readonly string[];
  /** Stops every node (SIGTERM) and removes their directories. Idempotent. */
  stop(): Promise<void>;
}

/** True when `command --version` runs, i.e. `redis-cli --cluster create` can be called. */
export function isRedisCliAvailable(command = 'redis-cli'): boolean {
  const result = spawnSync(command, ['--version'], { stdio: 'ignore', timeout: 5_000 });
  return result.error === undefined && result.status === 0;
}

/**
 * Starts a Redis Cluster of `masters` private `redis-server`s (`--cluster-enabled yes`) on free ports of 127.0.0.1,
 * joins them with `redis-cli --cluster create … --cluster-yes`, and waits until every node reports
 * `cluster_state:ok`.
 *
 * @example
 * const cluster = await startRedisCluster();
 * const client = await createCluster({ rootNodes: cluster.urls.map((url) => ({ url })) }).connect();
 * // …
 * await cluster.stop();
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3;
  const cli = options.cliCommand ?? 'redis-cli';
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  const issues = [];
  if (!Number.isSafeInteger(masters) || masters < 3) issues.push({ path: 'masters', message: 'must be an integer of at least 3' });
  const timeoutProblem = durationProblem(startTimeoutMs, { positive: true });
  if (timeoutProblem !== undefined) issues.push({ path: 'startTimeoutMs', message: timeoutProblem });
  if (issues.length > 0) throw new ConfigurationError({ provider: 'redis', issues });

  const nodes: RedisServer[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((node) => node.stop()));
  };
  try {
    for (let index = 0; index < masters; index += 1) {
      // The cluster bus gets a port of its own: the default (port + 10000) may be past 65535 or taken.
      const node = await startRedisServerWith({ command: options.command }, async () => [
        '--cluster-enabled',
        'yes',
        '--cluster-port',
        String(await freePort()),
        '--cluster-node-timeout',
        '2000',
      ]);
      nodes.push(node);
    }
    const addresses = nodes.map((node) => `127.0.0.1:${node.port}`);
    try {
      await run(cli, ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], { timeout: startTimeoutMs });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new Error(`${cli} was not found on PATH: ${redisInstallHint}`, { cause: error });
      }
      throw error;
    }
    const deadline = Date.now() + startTimeoutMs;
    for (const node of nodes) {
      for (;;) {
        const { stdout } = await run(cli, ['-p', String(node.port), 'cluster', 'info'], { timeout: startTimeoutMs });
        if (stdout.includes('cluster_state:ok')) break;
        if (Date.now() > deadline) throw new Error(`Redis Cluster not ready within ${startTimeoutMs} ms:\n${stdout}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    nodes,
    rootNodes: nodes.map((node) => ({ host: '127.0.0.1', port: node.port })),
    urls: nodes.map((node) => node.url),
    stop,
  };
}
