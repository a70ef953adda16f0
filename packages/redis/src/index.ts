/**
 * A Redis {@link @x/core!"@x/core".TokenStore | TokenStore}: one token per credential across a fleet of servers,
 * optionally encrypted.
 *
 * @module \@x/redis
 */

export type {
  IoRedisClient,
  NodeRedisClusterClient,
  NodeRedisSentinelClient,
  RedisCommandClient,
  RedisTokenStoreClient,
} from './redis-command-client.js';
export type { RedisDecryptFailure } from './redis-encryption.js';
export type { RedisEncryptionKey, RedisTokenStoreEvent, RedisTokenStoreOptions } from './redis-token-store.js';
export { createRedisTokenStore } from './redis-token-store.js';
export type { RedisTokenStoreErrorOptions, RedisTokenStoreOperation } from './redis-token-store-error.js';
export { RedisTokenStoreError } from './redis-token-store-error.js';
