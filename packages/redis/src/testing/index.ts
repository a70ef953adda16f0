export { isRedisServerAvailable, redisInstallHint, startRedisServer } from './redis-server.js';
export type { RedisServer, RedisServerOptions } from './redis-server.js';
