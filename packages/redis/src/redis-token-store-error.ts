/** The store operations that talk to Redis. */
export type RedisTokenStoreOperation = 'get' | 'set' | 'delete' | 'lock' | 'release';

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
 * A Redis command failed or timed out. The token cache catches it, reports a `store-error` event and carries on
 * without the store. Its message names the operation and the client's own error message, never a key's value.
 */
export class RedisTokenStoreError extends Error {
  /** The class name, for logs. */
  override name = 'RedisTokenStoreError';
  /** The store operation that failed. */
  readonly operation: RedisTokenStoreOperation;
  /** Whether the operation ran out of `operationTimeoutMs` (Redis slow or unreachable) rather than failing. */
  readonly timedOut: boolean;

  constructor(message: string, options: RedisTokenStoreErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.operation = options.operation;
    this.timedOut = options.timedOut;
  }
}
