import { TokenStoreError, type TokenStoreOperation } from '@x/core';

/** The store operations that talk to Redis: all of {@link @x/core!"@x/core".TokenStoreOperation | TokenStoreOperation}. */
export type RedisTokenStoreOperation = TokenStoreOperation;

/** What a {@link RedisTokenStoreError} is built from. */
export interface RedisTokenStoreErrorOptions {
  /** The store operation that failed. */
  operation: RedisTokenStoreOperation;
  /** Whether the operation ran out of `operationTimeoutMs`. */
  timedOut: boolean;
  /** The client's error, kept as the standard `cause`. */
  cause?: unknown;
}

/**
 * A Redis command failed or timed out: a {@link @x/core!"@x/core".TokenStoreError | TokenStoreError} with
 * `provider: 'redis'` and `reason` `timeout` or `failed`, so `isTokenStoreError` and `code` work as for any `@x`
 * error. The token cache catches it, reports a `store-error` event and carries on without the store. Its message names
 * the operation and the client's own error message, never a key's value.
 */
export class RedisTokenStoreError extends TokenStoreError {
  /** The class name, for logs. */
  override name = 'RedisTokenStoreError';
  /** Whether the operation ran out of `operationTimeoutMs` (Redis slow or unreachable) rather than failing. */
  readonly timedOut: boolean;

  constructor(message: string, options: RedisTokenStoreErrorOptions) {
    super(message, {
      provider: 'redis',
      operation: options.operation,
      reason: options.timedOut ? 'timeout' : 'failed',
      cause: options.cause,
    });
    this.timedOut = options.timedOut;
  }
}
