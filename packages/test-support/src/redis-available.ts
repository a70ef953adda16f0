/** Whether this machine can run the Redis tests, what to do when it cannot, and a raw command past any client. */

import { isRedisCliAvailable, isRedisServerAvailable, redisInstallHint } from '@x/redis/testing';
import { createClient } from 'redis';
import { describe } from 'vitest';

/** `X_REQUIRE_REDIS=1` (CI): a missing `redis-server` fails the tests instead of skipping them. */
export const redisRequired = process.env.X_REQUIRE_REDIS === '1';
export const redisAvailable = isRedisServerAvailable();

if (!redisAvailable && !redisRequired) {
  console.warn(`Skipping the Redis tests: redis-server is not on PATH; ${redisInstallHint}. Set X_REQUIRE_REDIS=1 to fail instead.`);
}

/** `describe` when Redis can run (or is required, so that starting it fails loudly), `describe.skip` otherwise. */
export const describeWithRedis = redisAvailable || redisRequired ? describe : describe.skip;

/** `redis-cli` creates the test cluster; Debian ships it in `redis-tools`, which `redis-server` depends on. */
export const redisCliAvailable = isRedisCliAvailable();

if (redisAvailable && !redisCliAvailable && !redisRequired) {
  console.warn(`Skipping the Redis Cluster tests: redis-cli is not on PATH; ${redisInstallHint}. Set X_REQUIRE_REDIS=1 to fail instead.`);
}

/** `describe` when a Redis Cluster can be started (or Redis is required), `describe.skip` otherwise. */
export const describeWithRedisCluster = (redisAvailable && redisCliAvailable) || redisRequired ? describe : describe.skip;

if (redisAvailable && !redisCliAvailable && !redisRequired) {
  console.warn(`Skipping the Redis Sentinel tests: redis-cli is not on PATH; ${redisInstallHint}. Set X_REQUIRE_REDIS=1 to fail instead.`);
}

/**
 * `describe` when a Sentinel setup can be started (or Redis is required), `describe.skip` otherwise: `redis-server`
 * runs the sentinels too (`--sentinel`), and `redis-cli` asks them whether they are ready.
 */
export const describeWithRedisSentinel = (redisAvailable && redisCliAvailable) || redisRequired ? describe : describe.skip;

/** One raw command on the server at `url` itself, on a connection of its own: past any client's routing or state. */
export async function rawCommand(url: string, ...args: string[]): Promise<unknown> {
  const client = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  try {
    return await client.sendCommand(args);
  } finally {
    client.destroy();
  }
}

/** How many connections are subscribed to `channel` on the server at `url` (`PUBSUB NUMSUB`). */
export async function subscriberCount(url: string, channel: string): Promise<number> {
  const [, count] = (await rawCommand(url, 'PUBSUB', 'NUMSUB', channel)) as [string, number];
  return Number(count);
}
