/** A memory token store that wakes its lock waiters, as `@x/redis` does over pub/sub. For @x/core's tests. */
import type { Clock, TokenStore } from '@x/core';

/** {@link createWakingStore}'s store: locks and waits always there, and how many waits it has seen. */
export type WakingStore = TokenStore & Required<Pick<TokenStore, 'lock' | 'waitForUnlock'>> & { readonly waits: number };

/**
 * `memory` (a `createMemoryTokenStore` on `clock`) with `waitForUnlock`: a waiter wakes when the lock is released, when
 * it runs out (its holder died), or at its time-out, whichever is first; at once when no one holds the lock.
 */
export function createWakingStore(memory: TokenStore, clock: Pick<Clock, 'monotonic'>): WakingStore {
  const wakers = new Set<() => void>();
  const leases = new Map<string, number>();
  let waits = 0;
  return {
    ...memory,
    getEntry: memory.getEntry,
    get waits() {
      return waits;
    },
    async lock(key, ttlMs) {
      const lock = await memory.lock!(key, ttlMs);
      if (lock === undefined) return undefined;
      leases.set(key, clock.monotonic() + ttlMs);
      return {
        async release() {
          await lock.release();
          leases.delete(key);
          for (const wake of [...wakers]) wake();
        },
      };
    },
    waitForUnlock(key, timeoutMs) {
      waits += 1;
      const leftMs = Math.max(0, Math.min(timeoutMs, (leases.get(key) ?? 0) - clock.monotonic()));
      return new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          wakers.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, leftMs);
        wakers.add(wake);
      });
    },
  };
}
