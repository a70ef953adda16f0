/**
 * A throwaway `redis-server`, Redis Cluster or Sentinel setup on 127.0.0.1, for tests.
 *
 * @module \@x/redis/testing
 */
export type { RedisCluster, RedisClusterOptions } from './redis-cluster.js';
export { isRedisCliAvailable, startRedisCluster } from './redis-cluster.js';
export type { RedisSentinel, RedisSentinelOptions } from './redis-sentinel.js';
export { startRedisSentinel } from './redis-sentinel.js';
export type { RedisServer, RedisServerOptions } from './redis-server.js';
export { isRedisServerAvailable, redisInstallHint, startRedisServer } from './redis-server.js';
