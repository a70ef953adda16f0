export type { RedisServer, RedisServerOptions } from './redis-server.js';
export { isRedisServerAvailable, redisInstallHint, startRedisServer } from './redis-server.js';
