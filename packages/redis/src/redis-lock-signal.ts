/**
 * Wakes the processes waiting for a credential's lock: the holder's release publishes on the lock's channel, and the
 * waiters listen on one subscriber connection per client, a duplicate of the user's client opened on the first wait and
 * kept while that client is open (a node-redis Sentinel's own pub/sub connection, which follows the master through a
 * failover). Kept, because waits come in bursts a token lifetime apart, and a connection opened for each burst costs
 * every process a handshake at the moment all of them wait. Classic pub/sub (`PUBLISH`/`SUBSCRIBE`): a Redis Cluster
 * carries it to every node, and a release is rare (one per token lifetime per credential), so the broadcast costs
 * nothing worth a sharded channel, which would need Redis 7 and a client that routes it.
 */

/** How often an open subscriber connection looks whether the user's client was closed, to close with it. */
const parentCheckMs = 10_000;

/** The least time the subscriber connection is given to open. */
const minConnectTimeoutMs = 2_000;

/** One subscriber connection, whatever the client. */
interface Subscriber {
  /**
   * False while the connection is down (reconnecting), or until the first subscription opens it (node-redis Sentinel):
   * a subscription made then waits for it, and has the time to connect.
   */
  readonly connected: boolean;
  subscribe(channel: string, onMessage: () => void): Promise<void>;
  unsubscribe(channel: string, onMessage: () => void): Promise<void>;
  close(): void;
}

/** Waits on lock channels; see {@link lockSignalFor}. */
export interface LockSignal {
  /**
   * Subscribes to `channel`, then asks `check` how long to wait at most (0: not at all), then waits for a message on
   * the channel, that long, or `timeoutMs`, whichever is first. Subscribed first, so a message published while
   * `check` runs is not lost. Rejects when the subscriber cannot connect or subscribe in time.
   */
  wait(channel: string, check: () => Promise<number>, timeoutMs: number): Promise<void>;
}

/** node-redis 5 (`createClient`, `createCluster`): `duplicate()` gives a client to `connect()`. */
interface NodeRedisDuplicate {
  on(event: 'error', listener: (error: unknown) => void): unknown;
  connect(): Promise<unknown>;
  subscribe(channel: string, listener: () => void): Promise<void>;
  unsubscribe(channel: string, listener: () => void): Promise<void>;
  destroy(): void;
  unref?(): void;
  readonly isReady: boolean;
}

/** ioredis and iovalkey (`Redis`, `Cluster`): `duplicate()` gives a client that connects on its own. */
interface IoRedisDuplicate {
  status: string;
  connect(): Promise<unknown>;
  on(event: 'error', listener: (error: unknown) => void): unknown;
  on(event: 'message', listener: (channel: string) => void): unknown;
  on(event: 'ready', listener: () => void): unknown;
  once(event: 'ready', listener: () => void): unknown;
  subscribe(channel: string): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  disconnect(): void;
  stream?: { unref?(): void };
}

/** node-redis 5 Sentinel (`createSentinel`): no `duplicate()`, but pub/sub of its own, on the master of the moment. */
interface NodeRedisSentinelPubSub {
  getSentinelNode(): unknown;
  subscribe(channel: string, listener: () => void): Promise<unknown>;
  unsubscribe(channel: string, listener: () => void): Promise<unknown>;
}

/** One signal per client: the stores made over one client (one per merchant, say) share its subscriber connection. */
const signals = new WeakMap<object, LockSignal>();

/**
 * The {@link LockSignal} over a duplicate of `client` (a node-redis Sentinel's own pub/sub), shared by every store on
 * that client; `undefined` when it cannot be duplicated (a node-redis pool, an adapter): the cache then polls the
 * store. `timeoutMs` bounds subscribing (the first store's); a subscriber that fails makes waits reject, which the
 * caches report.
 */
export function lockSignalFor(client: unknown, timeoutMs: number): LockSignal | undefined {
  const candidate = client as { duplicate?: unknown };
  if (typeof candidate?.duplicate !== 'function' && !isNodeRedisSentinel(client)) return undefined;
  let signal = signals.get(candidate);
  if (signal === undefined) {
    signal = createLockSignal(client, timeoutMs);
    signals.set(candidate, signal);
  }
  return signal;
}

function createLockSignal(client: unknown, timeoutMs: number): LockSignal {
  const candidate = client as { call?: unknown; isCluster?: unknown };
  const isIoRedis = typeof candidate.call === 'function' && typeof candidate.isCluster === 'boolean';
  const openSubscriber = isIoRedis ? openIoRedis : isNodeRedisSentinel(client) ? openNodeRedisSentinel : openNodeRedis;
  // Connecting takes a handshake or more (a cluster's slots): more than one command's time limit.
  const connectTimeoutMs = Math.max(timeoutMs, minConnectTimeoutMs);

  let subscriber: Promise<Subscriber> | undefined;
  let parentCheck: ReturnType<typeof setInterval> | undefined;
  const channels = new Map<
    string,
    { readonly wakers: Set<() => void>; readonly subscribed: Promise<void>; readonly onMessage: () => void }
  >();

  const open = (): Promise<Subscriber> => {
    let abandon = noop;
    const opening = openSubscriber(client, (close) => {
      abandon = close;
    });
    const opened = bounded(opening, connectTimeoutMs, 'connecting');
    opened.catch(() => {
      // Too slow: closed, so it does not go on connecting, and opened again on the next wait.
      try {
        abandon();
      } catch {
        // Already closed.
      }
      if (subscriber === opened) subscriber = undefined;
    });
    return opened;
  };

  /** Closes the subscriber once the user's client is closed and no one waits. */
  const followParent = (): void => {
    clearInterval(parentCheck);
    parentCheck = setInterval(() => {
      if (channels.size > 0 || subscriber === undefined || !isClosed(client)) return;
      clearInterval(parentCheck);
      const closing = subscriber;
      subscriber = undefined;
      closing.then((opened) => opened.close(), noop);
    }, parentCheckMs);
    parentCheck.unref?.();
  };

  const join = (connection: Subscriber, channel: string, wake: () => void) => {
    let entry = channels.get(channel);
    if (entry === undefined) {
      const wakers = new Set<() => void>();
      const onMessage = (): void => {
        for (const waker of wakers) waker();
      };
      const subscribed = bounded(
        connection.subscribe(channel, onMessage),
        connection.connected ? timeoutMs : connectTimeoutMs,
        'subscribing',
      );
      subscribed.catch(noop);
      entry = { wakers, subscribed, onMessage };
      channels.set(channel, entry);
    }
    entry.wakers.add(wake);
    return entry;
  };

  const leave = (connection: Subscriber, channel: string, wake: () => void): void => {
    const entry = channels.get(channel);
    if (entry === undefined) return;
    entry.wakers.delete(wake);
    if (entry.wakers.size > 0) return;
    channels.delete(channel);
    connection.unsubscribe(channel, entry.onMessage).catch(noop);
  };

  return {
    async wait(channel, check, waitTimeoutMs) {
      if (subscriber === undefined) {
        subscriber = open();
        followParent();
      }
      const connection = await subscriber;
      let wake = noop;
      const woken = new Promise<void>((resolve) => {
        wake = resolve;
      });
      const entry = join(connection, channel, wake);
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await entry.subscribed;
        const waitMs = Math.min(await check(), waitTimeoutMs);
        if (!(waitMs > 0)) return;
        await Promise.race([
          woken,
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, waitMs);
          }),
        ]);
      } finally {
        clearTimeout(timer);
        leave(connection, channel, wake);
      }
    },
  };
}

/** Whether the user's client was closed: node-redis' `isOpen`, ioredis' `status`; never, for a client that tells neither. */
function isClosed(client: unknown): boolean {
  const { isOpen, status } = client as { isOpen?: unknown; status?: unknown };
  if (typeof isOpen === 'boolean') return !isOpen;
  return status === 'end';
}

/**
 * Opens a subscriber; `created` receives a way to close the connection before it is ready. The connection's own errors
 * (a reconnect's) are swallowed: the user's client, on the same server, reports them already.
 */
type OpenSubscriber = (client: unknown, created: (close: () => void) => void) => Promise<Subscriber>;

const openNodeRedis: OpenSubscriber = async (client, created) => {
  const duplicate = (client as { duplicate(): NodeRedisDuplicate }).duplicate();
  created(() => duplicate.destroy());
  duplicate.on('error', noop);
  await duplicate.connect();
  // Waiting for a lock must not keep a process alive that is otherwise done.
  duplicate.unref?.();
  return {
    // A subscription made while it reconnects is queued, and made again, whatever `disableOfflineQueue` says.
    get connected() {
      return duplicate.isReady;
    },
    subscribe: (channel, onMessage) => duplicate.subscribe(channel, onMessage),
    unsubscribe: (channel, onMessage) => duplicate.unsubscribe(channel, onMessage),
    close: () => duplicate.destroy(),
  };
};

/**
 * The Sentinel's pub/sub connection opens on its first subscription and closes on its last unsubscription, and moves to
 * the new master on a failover, subscriptions and all: nothing to open or close here.
 */
const openNodeRedisSentinel: OpenSubscriber = async (client) => {
  const sentinel = client as NodeRedisSentinelPubSub;
  return {
    connected: false,
    subscribe: async (channel, onMessage) => {
      await sentinel.subscribe(channel, onMessage);
    },
    unsubscribe: async (channel, onMessage) => {
      await sentinel.unsubscribe(channel, onMessage);
    },
    close: noop,
  };
};

const openIoRedis: OpenSubscriber = async (client, created) => {
  const duplicate = (client as { duplicate(): IoRedisDuplicate }).duplicate();
  created(() => duplicate.disconnect());
  duplicate.on('error', noop);
  const listeners = new Map<string, () => void>();
  duplicate.on('message', (channel) => listeners.get(channel)?.());
  // One promise for every subscription made while the connection is down.
  let reconnected: Promise<void> | undefined;
  const ready = (): Promise<void> =>
    (reconnected ??= new Promise<void>((resolve) =>
      duplicate.once('ready', () => {
        reconnected = undefined;
        resolve();
      }),
    ));
  // A client made with `lazyConnect` waits to be told; one with `enableOfflineQueue: false` refuses to subscribe before
  // it is ready.
  if (duplicate.status === 'wait') await duplicate.connect();
  else if (duplicate.status !== 'ready') await ready();
  // Each reconnection opens a new socket, unref'd too.
  const unref = () => duplicate.stream?.unref?.();
  unref();
  duplicate.on('ready', unref);
  return {
    get connected() {
      return duplicate.status === 'ready';
    },
    async subscribe(channel, onMessage) {
      listeners.set(channel, onMessage);
      // The same refusal while it reconnects (a failover, a restart): the subscription waits for it instead. The
      // subscriptions it had, ioredis makes again itself.
      if (duplicate.status !== 'ready') await ready();
      await duplicate.subscribe(channel);
    },
    async unsubscribe(channel, onMessage) {
      if (listeners.get(channel) !== onMessage) return;
      listeners.delete(channel);
      await duplicate.unsubscribe(channel);
    },
    close: () => duplicate.disconnect(),
  };
};

function isNodeRedisSentinel(client: unknown): boolean {
  const candidate = client as Partial<Record<keyof NodeRedisSentinelPubSub, unknown>> | null;
  return (
    typeof candidate?.getSentinelNode === 'function' &&
    typeof candidate.subscribe === 'function' &&
    typeof candidate.unsubscribe === 'function'
  );
}

/** The subscriber connection did not open, or a subscription was not confirmed, in time. */
export class LockSignalTimeout extends Error {
  override name = 'LockSignalTimeout';
}

/** `promise`, or a rejection after `timeoutMs`. */
function bounded<T>(promise: Promise<T>, timeoutMs: number, doing: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new LockSignalTimeout(`The lock subscriber timed out ${doing} after ${timeoutMs} ms`)), timeoutMs);
    timer.unref?.();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function noop(): void {}
