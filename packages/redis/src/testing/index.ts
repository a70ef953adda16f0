/**
 * A throwaway `redis-server` on 127.0.0.1, for tests.
 *
 * @module \@x/redis/testing
 */
export type { RedisServer, RedisServerOptions } from './redis-server.js';
export { isRedisServerAvailable, redisInstallHint, startRedisServer } from './redis-server.js';
