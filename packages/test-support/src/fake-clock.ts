/**
 * The clocks tests inject into caches, stores and emulators (a {@link Clock} is a wall clock for epoch times and a
 * monotonic one for elapsed time). Both kinds can jump the wall clock alone, as an NTP correction would.
 */
import type { Clock } from '@x/core';
import { vi } from 'vitest';

/** A clock that tests move by hand. */
export interface ManualClock extends Clock {
  /** Moves both clocks forward by `milliseconds`. */
  advance(milliseconds: number): void;
  /** Moves only the wall clock, by `milliseconds` (negative: backwards). */
  jumpWall(milliseconds: number): void;
}

/** A clock that follows vitest's fake time (`vi.advanceTimersByTime`), so timers and the arithmetic move together. */
export interface FakeTimersClock extends Clock {
  /** Moves only the wall clock, by `milliseconds` (negative: backwards). */
  jumpWall(milliseconds: number): void;
}

/** A clock that stands still until the test calls `advance`; the wall clock starts at `startMs`, the monotonic at 0. */
export function createManualClock(startMs: number = Date.UTC(2025, 0, 1)): ManualClock {
  let elapsed = 0;
  let wallOffset = 0;
  return {
    now: () => startMs + elapsed + wallOffset,
    monotonic: () => elapsed,
    advance(milliseconds) {
      elapsed += milliseconds;
    },
    jumpWall(milliseconds) {
      wallOffset += milliseconds;
    },
  };
}

/**
 * A clock over `Date.now()`, for tests under `vi.useFakeTimers()`: the monotonic clock is the fake time elapsed since
 * the clock was created, the wall clock is the fake time plus any {@link FakeTimersClock.jumpWall}.
 */
export function createFakeTimersClock(): FakeTimersClock {
  const origin = Date.now();
  let wallOffset = 0;
  return {
    now: () => Date.now() + wallOffset,
    monotonic: () => Date.now() - origin,
    jumpWall(milliseconds) {
      wallOffset += milliseconds;
    },
  };
}

/** Lets real I/O (sockets) run until `condition` holds, for at most 5 s of real time; fake time does not move. */
export async function untilIo(condition: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + 5_000;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * Tries `attempt` every 20 ms of real time until it resolves, for at most `limitMs`; then fails with its last error. For
 * what another process (a server, a client's reconnect) does in its own time.
 */
export async function eventually<T>(limitMs: number, attempt: () => Promise<T>): Promise<T> {
  const deadline = performance.now() + limitMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (performance.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/** Moves vitest's fake time forward by `milliseconds`, running the timers and promise callbacks due on the way. */
export function advanceFakeTime(milliseconds: number): Promise<void> {
  return vi.advanceTimersByTimeAsync(milliseconds).then(() => undefined);
}
