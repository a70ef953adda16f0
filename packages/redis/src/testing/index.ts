/**
 * A throwaway `redis-server` or Redis Cluster on 127.0.0.1, for tests.
 *
 * @module \@x/redis/testing
 */
export type { RedisCluster, RedisClusterOptions } from './redis-cluster.js';
export { isRedisCliAvailable, startRedisCluster } from './redis-cluster.js';
export type { RedisServer, RedisServerOptions } from './redis-server.js';
export { isRedisServerAvailable, redisInstallHint, startRedisServer } from './redis-server.js';
