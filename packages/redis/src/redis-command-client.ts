/**
 * The adapter interface: one raw command at a time. A node-redis 5 client (`createClient()`) and pool
 * (`createClientPool()`) fit it as they are; wrap anything else in it. A cluster-aware adapter routes by the command's
 * keys: every key of one command shares a hash tag, so they are in one slot.
 */
export interface RedisCommandClient {
  /** Sends one raw command, e.g. `['SET', key, value, 'PX', '1000', 'NX']`; the store aborts it at its timeout. */
  sendCommand(args: string[], options?: { abortSignal?: AbortSignal }): Promise<unknown>;
}

/** The part of a node-redis 5 cluster client (`createCluster()`) the store uses. */
export interface NodeRedisClusterClient {
  /** Routes the command to the node serving `firstKey`'s slot. */
  sendCommand(
    firstKey: string | undefined,
    isReadonly: boolean | undefined,
    args: string[],
    options?: { abortSignal?: AbortSignal },
  ): Promise<unknown>;
  /** Present on a node-redis cluster client only; tells it from a single-node client. */
  getSlotRandomNode(slot: number): unknown;
}

/** The part of a node-redis 5 Sentinel client (`createSentinel()`) the store uses. */
export interface NodeRedisSentinelClient {
  /** Sends the command to the master (`isReadonly` false), following the sentinels through a failover. */
  sendCommand(isReadonly: boolean | undefined, args: string[], options?: { abortSignal?: AbortSignal }): Promise<unknown>;
  /** Present on a node-redis Sentinel client only; tells it from a single-node client. */
  getSentinelNode(): unknown;
}

/** The part of an ioredis or iovalkey client (`new Redis()`, `new Cluster()`) the store uses. */
export interface IoRedisClient {
  /** `false` for `Redis`, `true` for `Cluster`; tells these clients from node-redis ones. */
  isCluster: boolean;
  /** Sends one raw command; a `Cluster` routes it by its keys. */
  call(command: string, ...args: string[]): Promise<unknown>;
}

/**
 * Every client {@link createRedisTokenStore} takes: node-redis (client, pool, cluster, Sentinel), ioredis or iovalkey
 * (`Redis`, which covers their Sentinel mode, or `Cluster`), or an adapter.
 */
export type RedisTokenStoreClient = RedisCommandClient | NodeRedisClusterClient | NodeRedisSentinelClient | IoRedisClient;

/** One command on whichever client: `key` is the command's first key (cluster routing), `signal` aborts it if the client can. */
export type RedisSend = (key: string, args: string[], signal: AbortSignal) => Promise<unknown>;

/** What kind of client this is, and how to send it a command; `undefined` for something that is no client at all. */
export function toRedisSend(client: unknown): RedisSend | undefined {
  if (typeof client !== 'object' || client === null) return undefined;
  const candidate = client as Partial<Record<'call' | 'sendCommand' | 'getSlotRandomNode' | 'getSentinelNode' | 'isCluster', unknown>>;
  // ioredis and iovalkey: `call` routes by the command's keys on a Cluster; neither takes an abort signal, so a
  // command they queue stays queued (their `enableOfflineQueue: false` fails it at once instead).
  if (typeof candidate.call === 'function' && typeof candidate.isCluster === 'boolean') {
    const io = client as IoRedisClient;
    return (_key, args) => io.call(args[0] as string, ...args.slice(1));
  }
  if (typeof candidate.sendCommand !== 'function') return undefined;
  if (typeof candidate.getSlotRandomNode === 'function') {
    const cluster = client as NodeRedisClusterClient;
    return (key, args, signal) => cluster.sendCommand(key, false, args, { abortSignal: signal });
  }
  if (typeof candidate.getSentinelNode === 'function') {
    const sentinel = client as NodeRedisSentinelClient;
    // Always to the master: a replica (`replicaPoolSize`) may not have the token just stored, or the lock just taken.
    return (_key, args, signal) => sentinel.sendCommand(false, args, { abortSignal: signal });
  }
  const single = client as RedisCommandClient;
  return (_key, args, signal) => single.sendCommand(args, { abortSignal: signal });
}
