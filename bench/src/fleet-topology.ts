/**
 * The Redis a fleet benchmark runs on: one `redis-server`, or a 3-master Redis Cluster, both private and throwaway
 * (`@x/redis/testing`). Also reads `INFO commandstats` from every node, to count the commands the fleet sent.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startRedisCluster, startRedisServer } from '@x/redis/testing';
import type { FleetWorkerConfig } from '@x/test-support/redis-fleet';

const run = promisify(execFile);

/** `node`: one Redis node (`createClient`); `cluster`: a 3-master Redis Cluster (`createCluster`). */
export type FleetTopologyName = 'node' | 'cluster';

/** A running Redis, as the workers connect to it and as the benchmark reads its counters. */
export interface FleetTopology {
  readonly name: FleetTopologyName;
  /** What the workers' `configure` needs to connect. */
  readonly connection: Pick<FleetWorkerConfig, 'redisUrl' | 'clusterUrls'>;
  /** Every node's port on 127.0.0.1 (one, or each master's). */
  readonly ports: readonly number[];
  stop(): Promise<void>;
}

/** Starts the topology `name`. */
export async function startTopology(name: FleetTopologyName): Promise<FleetTopology> {
  if (name === 'node') {
    const server = await startRedisServer();
    return { name, connection: { redisUrl: server.url }, ports: [server.port], stop: () => server.stop() };
  }
  const cluster = await startRedisCluster({ masters: 3 });
  return {
    name,
    connection: { redisUrl: '', clusterUrls: cluster.urls },
    ports: cluster.nodes.map((node) => node.port),
    stop: () => cluster.stop(),
  };
}

/**
 * Calls per command (`get`, `evalsha`, …) summed over every node, from `INFO commandstats`. The `INFO` this sends is
 * the benchmark's own and is left out.
 */
export async function commandCalls(ports: readonly number[]): Promise<Map<string, number>> {
  const totals = new Map<string, number>();
  for (const port of ports) {
    const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'INFO', 'commandstats'], { timeout: 10_000 });
    for (const match of stdout.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      const command = match[1]!;
      if (command === 'info') continue;
      totals.set(command, (totals.get(command) ?? 0) + Number(match[2]));
    }
  }
  return totals;
}

/** What each command's count grew by between two `commandCalls` readings; commands that did not grow are left out. */
export function commandDelta(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>): Record<string, number> {
  const delta: Record<string, number> = {};
  for (const [command, calls] of after) {
    const grown = calls - (before.get(command) ?? 0);
    if (grown > 0) delta[command] = grown;
  }
  return delta;
}
