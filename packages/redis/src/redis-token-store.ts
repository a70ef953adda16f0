import { randomBytes } from 'node:crypto';
import {
  ConfigurationError,
  type ConfigurationIssue,
  splitTokenStoreKey,
  type TokenStore,
  type TokenStoreEntry,
  type TokenStoreLock,
  withEntryReads,
} from '@x/core';
import { durationProblem } from '@x/core/provider';
import { type RedisTokenStoreClient, toRedisSend } from './redis-command-client.js';
import {
  createKeyRingCipher,
  createValueCipher,
  isEncryptedValue,
  parseEncryptionKey,
  type RedisDecryptFailure,
  type RedisValueCipher,
} from './redis-encryption.js';
import { LockSignalTimeout, lockSignalFor } from './redis-lock-signal.js';
import { RedisTokenStoreError, type RedisTokenStoreOperation } from './redis-token-store-error.js';

/** Something the store handled without throwing, for logs and metrics. Never holds a token or a key. */
export type RedisTokenStoreEvent =
  | {
      /** A stored value could not be decrypted; it was treated as absent. */
      type: 'store-decrypt-failed';
      /** The provider's non-secret cache key. */
      cacheKey: string;
      /** Why the value could not be decrypted. */
      reason: RedisDecryptFailure;
      /** Wall-clock time of the event, epoch milliseconds. */
      time: number;
    }
  | {
      /**
       * A held lock could not be extended: another process holds it now (this one was frozen longer than
       * `lockLeaseMs`), so two may ask the gateway at once this time.
       */
      type: 'store-lock-lost';
      /** The provider's non-secret cache key. */
      cacheKey: string;
      /** Wall-clock time of the event, epoch milliseconds. */
      time: number;
    }
  | {
      /** Releasing a lock failed; it expires on its own after its TTL. */
      type: 'store-lock-release-failed';
      /** The provider's non-secret cache key. */
      cacheKey: string;
      /** What the release threw. */
      error: unknown;
      /** Wall-clock time of the event, epoch milliseconds. */
      time: number;
    };

/**
 * @inline Options every store takes; inlined so the docs show them on {@link RedisTokenStoreOptions} itself.
 */
interface RedisTokenStoreCommonOptions {
  /**
   * A node-redis 5 client, pool, cluster or Sentinel (`createClient()`, `createClientPool()`, `createCluster()`,
   * `createSentinel()`), an ioredis or iovalkey `Redis` (Sentinel too) or `Cluster`, or any {@link RedisCommandClient}
   * adapter; connected, or connecting. See the README for the recommended client options.
   */
  client: RedisTokenStoreClient;
  /**
   * Prepended to every key the store writes (`<keyPrefix>{<cacheKey>}:token`, `<keyPrefix>{<cacheKey>}:lock`); no
   * `{` or `}`, which would change the hash slot of every key. @default 'x:'
   */
  keyPrefix?: string | undefined;
  /** Receives what the store handles without throwing (undecryptable values, failed lock releases). */
  onEvent?: ((event: RedisTokenStoreEvent) => void) | undefined;
  /** Longest time one Redis command may take before the store method rejects; at most 2^31−1 (`maxDurationMs`). @default 250 */
  operationTimeoutMs?: number | undefined;
  /**
   * How long a lock lives without its holder: the holder extends it every third of this while it asks the gateway, so
   * a holder that dies (SIGKILL, a lost node) frees it this long after, and one waiting process takes over. Keep it
   * below the cache's `lockWaitMs` (5 s), or waiters give up first. An extension that takes longer than two thirds of
   * it (a Redis or a process that stalls) loses the lock, reported as `store-lock-lost`. @default 2000
   */
  lockLeaseMs?: number | undefined;
  /**
   * Wake waiting processes the moment a lock is released, over Redis pub/sub: a release publishes on
   * `<keyPrefix>{<cacheKey>}:unlocked`, and the waiters listen on one more connection per client (a `duplicate()` of
   * `client`, shared by every store on it, opened on the first wait, kept while `client` is open). A client that
   * cannot be duplicated (a node-redis pool, an adapter), or `false` here (an ACL without pub/sub), leaves waiters
   * polling every 50 ms. @default true
   */
  wakeWaiters?: boolean | undefined;
}

/** A 32-byte AES-256 key: a Buffer, 64 hex digits or base64. */
export type RedisEncryptionKey = Buffer | Uint8Array | string;

/**
 * Options of {@link createRedisTokenStore}: an `encryptionKey` (or `encryptionKeys` while rotating), or an explicit
 * `plaintext: true`. An `encryptionKey`
 * that is `undefined` (an unset environment variable) is a `ConfigurationError`, never a silent plaintext store.
 */
export type RedisTokenStoreOptions = RedisTokenStoreCommonOptions &
  (
    | {
        /**
         * 32 bytes (a Buffer, 64 hex digits or base64) to encrypt values with AES-256-GCM, so reading Redis yields no
         * usable token. Required unless `encryptionKeys` is given or `plaintext` is `true`; `undefined` is accepted by
         * the types (so an environment variable can be passed as it is) and refused when the store is created.
         */
        encryptionKey: RedisEncryptionKey | undefined;
        /** Must be absent with `encryptionKey`. */
        encryptionKeys?: undefined;
        /** Only `true` turns encryption off. @default false */
        plaintext?: false | undefined;
      }
    | {
        /**
         * For a key rotation: `[current, ...previous]`. Values are written under the current key and read under any
         * of them, so a rotation costs no token request. Each is 32 bytes like `encryptionKey`; an `undefined` one is
         * refused.
         */
        encryptionKeys: readonly (RedisEncryptionKey | undefined)[];
        /** Must be absent with `encryptionKeys`. */
        encryptionKey?: undefined;
        /** Only `true` turns encryption off. @default false */
        plaintext?: false | undefined;
      }
    | {
        /**
         * Stores tokens as plaintext JSON, without `encryptionKey`. Not recommended: anyone who can read Redis (a
         * `redis-cli`, a backup, a `MONITOR` session) gets usable bearer tokens. For a Redis nothing else reaches.
         * @default false
         */
        plaintext: true;
        /** Must be absent with `plaintext: true`. */
        encryptionKey?: undefined;
        /** Must be absent with `plaintext: true`. */
        encryptionKeys?: undefined;
      }
  );

/** How long past a lock's remaining time a waiter wakes to take it. */
const leaseSlackMs = 5;

/** Deletes `KEYS[1]` only while it holds `ARGV[1]`: lock release and compare-and-delete. */
const compareAndDeleteScript = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/** Releases the lock `KEYS[1]` only while `ARGV[1]` holds it, and tells the waiters on channel `ARGV[2]`. */
const releaseAndPublishScript = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) redis.call('PUBLISH', ARGV[2], '1') return 1 else return 0 end`;

/** Extends the lock `KEYS[1]` to `ARGV[2]` ms only while `ARGV[1]` holds it; 0 when someone else does. */
const extendScript = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;

/** A value and its remaining time to live in one round trip: the store's clock, not the reader's, says how long it lives. */
const getWithTtlScript = `local value = redis.call('GET', KEYS[1]) if not value then return false end return {value, redis.call('PTTL', KEYS[1])}`;

/**
 * A {@link TokenStore} in Redis, so every process of a fleet shares one token per credential and only one of them
 * asks the gateway for it at a time. Every operation is bounded by `operationTimeoutMs` and throws when Redis fails:
 * the token cache reports that as a `store-error` event and carries on with its own copy and the gateway.
 *
 * @example
 * const client = createClient({ url: process.env.REDIS_URL, disableOfflineQueue: true });
 * client.on('error', (error) => logger.warn({ error }, 'redis'));
 * await client.connect();
 * const store = createRedisTokenStore({ client, encryptionKey: process.env.TOKEN_STORE_KEY });
 * const iamport = createAuthFetch(createIamportProvider({ impKey, impSecret }), { store });
 *
 * @throws {@link @x/core!"@x/core".ConfigurationError | ConfigurationError} naming every bad option (no client, a bad
 * `operationTimeoutMs`, an `encryptionKey` that is missing without `plaintext: true` or is not 32 bytes), never the
 * key. Store methods reject with a {@link RedisTokenStoreError}.
 */
export function createRedisTokenStore(options: RedisTokenStoreOptions): TokenStore & Required<Pick<TokenStore, 'lock' | 'getEntry'>> {
  const issues: ConfigurationIssue[] = [];
  const send = toRedisSend(options?.client);
  if (send === undefined) {
    issues.push({ path: 'client', message: 'must be a node-redis 5, ioredis or iovalkey client, or have sendCommand(args)' });
  }
  const keyPrefix = options?.keyPrefix ?? 'x:';
  if (typeof keyPrefix !== 'string') issues.push({ path: 'keyPrefix', message: 'must be a string' });
  // A brace in the prefix would become the hash tag of every key: the whole fleet's keys on one cluster node.
  else if (/[{}]/.test(keyPrefix)) issues.push({ path: 'keyPrefix', message: 'must not contain `{` or `}`' });
  const operationTimeoutMs = options?.operationTimeoutMs ?? 250;
  const timeoutProblem = durationProblem(operationTimeoutMs, { positive: true });
  if (timeoutProblem !== undefined) issues.push({ path: 'operationTimeoutMs', message: timeoutProblem });
  const lockLeaseMs = options?.lockLeaseMs ?? 2_000;
  const leaseProblem = durationProblem(lockLeaseMs, { positive: true });
  if (leaseProblem !== undefined) issues.push({ path: 'lockLeaseMs', message: leaseProblem });
  const wakeWaiters = options?.wakeWaiters ?? true;
  if (typeof wakeWaiters !== 'boolean') issues.push({ path: 'wakeWaiters', message: 'must be true or false' });
  let cipher: RedisValueCipher | undefined;
  const plaintext = options?.plaintext ?? false;
  const encryptionKey: unknown = options?.encryptionKey;
  const encryptionKeys: unknown = options?.encryptionKeys;
  if (typeof plaintext !== 'boolean') {
    issues.push({ path: 'plaintext', message: 'must be true or false' });
  } else if (plaintext) {
    if (encryptionKey !== undefined || encryptionKeys !== undefined) {
      issues.push({ path: 'plaintext', message: 'must not be true when encryptionKey or encryptionKeys is set' });
    }
  } else if (encryptionKeys !== undefined) {
    if (encryptionKey !== undefined) {
      issues.push({ path: 'encryptionKeys', message: 'give encryptionKey or encryptionKeys, not both' });
    } else if (!Array.isArray(encryptionKeys)) {
      issues.push({ path: 'encryptionKeys', message: 'must be an array: [current, ...previous]' });
    } else if (encryptionKeys.length === 0) {
      issues.push({ path: 'encryptionKeys', message: 'must hold at least the current key' });
    } else {
      const ciphers: RedisValueCipher[] = [];
      encryptionKeys.forEach((key: unknown, index) => {
        try {
          ciphers.push(createValueCipher(parseEncryptionKey(key, `encryptionKeys.${index}`)));
        } catch (error) {
          issues.push(...(error as ConfigurationError).issues);
        }
      });
      if (ciphers.length === encryptionKeys.length) cipher = createKeyRingCipher(ciphers as [RedisValueCipher, ...RedisValueCipher[]]);
    }
  } else if (encryptionKey === undefined || encryptionKey === null) {
    // An unset environment variable must not turn encryption off: plaintext is an explicit choice.
    issues.push({
      path: 'encryptionKey',
      message:
        'required: 32 bytes (e.g. `openssl rand -base64 32`); to store tokens unencrypted (not recommended), set plaintext: true instead',
    });
  } else {
    try {
      cipher = createValueCipher(parseEncryptionKey(encryptionKey));
    } catch (error) {
      issues.push(...(error as ConfigurationError).issues);
    }
  }
  if (issues.length > 0) throw new ConfigurationError({ provider: 'redis', issues });
  const listener = options.onEvent;
  const lockSignal = wakeWaiters ? lockSignalFor(options.client, operationTimeoutMs) : undefined;

  // Hash-tagged by the credential's cache key: its token, lock, tombstones and provider state share one cluster slot,
  // so any script may touch several of them (no CROSSSLOT).
  const tokenKey = (key: string): string => {
    const { cacheKey, suffix } = splitTokenStoreKey(key);
    return `${keyPrefix}{${cacheKey}}${suffix === '' ? ':token' : suffix}`;
  };
  const lockKey = (cacheKey: string): string => `${keyPrefix}{${cacheKey}}:lock`;
  const unlockedChannel = (cacheKey: string): string => `${keyPrefix}{${cacheKey}}:unlocked`;

  const emit = (event: DistributiveOmit<RedisTokenStoreEvent, 'time'>): void => {
    if (listener === undefined) return;
    try {
      listener({ ...event, time: Date.now() } as RedisTokenStoreEvent);
    } catch {
      // A listener that throws must not break the store.
    }
  };

  /**
   * Sends one command, bounded by `operationTimeoutMs`. The abort signal also takes a command that never left the
   * client's offline queue (while it reconnects) out of that queue, so a dead server does not pile commands up.
   */
  const command = async (operation: RedisTokenStoreOperation, key: string, args: string[]): Promise<unknown> => {
    const controller = new AbortController();
    const timedOut = (): RedisTokenStoreError =>
      new RedisTokenStoreError(`Redis ${args[0]} (store ${operation}) timed out after ${operationTimeoutMs} ms`, {
        operation,
        timedOut: true,
      });
    let timer: NodeJS.Timeout | undefined;
    let answered = false;
    const timeout = new Promise<never>((_, reject) => {
      // Timed out only once the replies already received have been read: a process starved of CPU runs its overdue
      // timers before it reads its sockets, and a reply that came in time must not lose to its own time-out.
      timer = setTimeout(
        () =>
          setImmediate(() => {
            if (answered) return;
            controller.abort();
            reject(timedOut());
          }),
        operationTimeoutMs,
      );
      timer.unref?.();
    });
    try {
      return await Promise.race([send!(key, args, controller.signal), timeout]);
    } catch (error) {
      if (error instanceof RedisTokenStoreError) throw error;
      // Our abort takes a command still in the client's offline queue out of it, and the client rejects it with its own
      // AbortError, which can win the race: that too is the time-out.
      if (controller.signal.aborted) throw timedOut();
      // Our own timer is the only timeout (node-redis's is not used): anything else is a failure, not a time-out.
      const reason = error instanceof Error ? error.message : String(error);
      throw new RedisTokenStoreError(`Redis ${args[0]} (store ${operation}) failed: ${reason}`, {
        operation,
        timedOut: false,
        cause: error,
      });
    } finally {
      answered = true;
      clearTimeout(timer);
    }
  };

  const compareAndDelete = async (operation: RedisTokenStoreOperation, key: string, expected: string): Promise<void> => {
    await command(operation, key, ['EVAL', compareAndDeleteScript, '1', key, expected]);
  };

  const readRaw = async (operation: RedisTokenStoreOperation, cacheKey: string): Promise<string | undefined> => {
    const key = tokenKey(cacheKey);
    const reply = await command(operation, key, ['GET', key]);
    if (reply === null || reply === undefined) return undefined;
    return text(reply);
  };

  const text = (reply: unknown): string => (Buffer.isBuffer(reply) ? reply.toString('utf8') : String(reply));

  const decode = (cacheKey: string, stored: string): string | undefined => {
    if (cipher === undefined) {
      if (!isEncryptedValue(stored)) return stored;
      emit({ type: 'store-decrypt-failed', cacheKey, reason: 'no-key' });
      return undefined;
    }
    const result = cipher.decrypt(stored, cacheKey);
    if (result.ok) return result.value;
    emit({ type: 'store-decrypt-failed', cacheKey, reason: result.reason });
    return undefined;
  };

  const getEntry = async (cacheKey: string): Promise<TokenStoreEntry | undefined> => {
    const key = tokenKey(cacheKey);
    const reply = await command('get', key, ['EVAL', getWithTtlScript, '1', key]);
    if (!Array.isArray(reply) || reply[0] === null || reply[0] === undefined) return undefined;
    const value = decode(cacheKey, text(reply[0]));
    if (value === undefined) return undefined;
    const remainingMs = Number(reply[1]);
    // -1: a key without expiry (written by hand); the value's own expiry is then all there is.
    return remainingMs >= 0 ? { value, remainingMs } : { value };
  };

  const store: TokenStore & Required<Pick<TokenStore, 'lock'>> = {
    async get(cacheKey) {
      const stored = await readRaw('get', cacheKey);
      return stored === undefined ? undefined : decode(cacheKey, stored);
    },

    async set(cacheKey, value, ttlMs) {
      const stored = cipher === undefined ? value : cipher.encrypt(value, cacheKey);
      const key = tokenKey(cacheKey);
      await command('set', key, ['SET', key, stored, 'PX', String(wholeMilliseconds(ttlMs))]);
    },

    async delete(cacheKey, expected) {
      if (expected === undefined) {
        const key = tokenKey(cacheKey);
        await command('delete', key, ['DEL', key]);
        return;
      }
      if (cipher === undefined) {
        await compareAndDelete('delete', tokenKey(cacheKey), expected);
        return;
      }
      // Each encryption has a fresh IV, so the ciphertext of `expected` cannot be recomputed: read what is there,
      // and delete exactly those bytes if they decrypt to `expected` (a value written in between survives).
      const stored = await readRaw('delete', cacheKey);
      if (stored === undefined || decode(cacheKey, stored) !== expected) return;
      await compareAndDelete('delete', tokenKey(cacheKey), stored);
    },

    async lock(cacheKey, ttlMs): Promise<TokenStoreLock | undefined> {
      const key = lockKey(cacheKey);
      const owner = randomBytes(16).toString('hex');
      // Held for a lease at a time, extended while the holder lives, for `ttlMs` in all at most.
      const leaseMs = Math.min(wholeMilliseconds(lockLeaseMs), wholeMilliseconds(ttlMs));
      const reply = await command('lock', key, ['SET', key, owner, 'NX', 'PX', String(leaseMs)]);
      if (reply === null || reply === undefined) return undefined;
      const heldUntil = performance.now() + ttlMs;
      let released = false;
      const extender = setInterval(() => {
        const leftMs = heldUntil - performance.now();
        if (released || leftMs <= 0) {
          clearInterval(extender);
          return;
        }
        command('lock', key, ['EVAL', extendScript, '1', key, owner, String(Math.min(leaseMs, wholeMilliseconds(leftMs)))]).then(
          (extended) => {
            if (Number(extended) === 1 || released) return;
            clearInterval(extender);
            emit({ type: 'store-lock-lost', cacheKey });
          },
          // A failed extension is tried again a third of a lease later; the lease outlives two failures.
          noop,
        );
      }, leaseMs / 3);
      extender.unref?.();
      return {
        async release() {
          if (released) return;
          released = true;
          clearInterval(extender);
          try {
            if (lockSignal === undefined) await compareAndDelete('release', key, owner);
            else await command('release', key, ['EVAL', releaseAndPublishScript, '1', key, owner, unlockedChannel(cacheKey)]);
          } catch (error) {
            emit({ type: 'store-lock-release-failed', cacheKey, error });
          }
        },
      };
    },
  };
  if (lockSignal !== undefined) {
    store.waitForUnlock = async (cacheKey, timeoutMs) => {
      const key = lockKey(cacheKey);
      try {
        await lockSignal.wait(
          unlockedChannel(cacheKey),
          async () => {
            // -2: no lock (released, or ran out): no wait. -1: a lock without expiry (set by hand): the whole wait.
            const leftMs = Number(await command('wait', key, ['PTTL', key]));
            // A little past the lease, which PTTL rounds down and a timer may end a millisecond early.
            return leftMs === -1 ? timeoutMs : leftMs >= 0 ? leftMs + leaseSlackMs : 0;
          },
          timeoutMs,
        );
      } catch (error) {
        if (error instanceof RedisTokenStoreError) throw error;
        // The subscriber connection could not open or subscribe in time.
        const reason = error instanceof Error ? error.message : String(error);
        throw new RedisTokenStoreError(`Redis SUBSCRIBE (store wait) failed: ${reason}`, {
          operation: 'wait',
          timedOut: error instanceof LockSignalTimeout,
          cause: error,
        });
      }
    };
  }
  return withEntryReads(store, getEntry);
}

/** Redis wants a positive whole number of milliseconds. */
function wholeMilliseconds(milliseconds: number): number {
  return Number.isFinite(milliseconds) ? Math.max(1, Math.ceil(milliseconds)) : 1;
}

function noop(): void {}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
