/** The store operations that talk to Redis. */
export type RedisTokenStoreOperation = 'get' | 'set' | 'delete' | 'lock' | 'release';

export interface RedisTokenStoreErrorOptions {
  operation: RedisTokenStoreOperation;
  /** Whether the operation ran out of `operationTimeoutMs`. */
  timedOut: boolean;
  cause?: unknown;
}

/**
 * A Redis command failed or timed out. The token cache catches it, reports a `store-error` event and carries on
 * without the store. Its message names the operation and the client's own error message, never a key's value.
 */
export class RedisTokenStoreError extends Error {
  override name = 'RedisTokenStoreError';
  readonly operation: RedisTokenStoreOperation;
  readonly timedOut: boolean;

  constructor(message: string, options: RedisTokenStoreErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.operation = options.operation;
    this.timedOut = options.timedOut;
  }
}
