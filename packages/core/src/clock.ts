/**
 * The two clocks the cache needs. `now` is the wall clock, only used to convert epoch times; `monotonic` measures
 * elapsed time and never jumps when the wall clock is corrected. Inject both in tests.
 */
export interface Clock {
  /** Wall-clock time in epoch milliseconds. @default Date.now */
  now(): number;
  /** Milliseconds from an arbitrary origin that only moves forward. @default performance.now */
  monotonic(): number;
}

/** The process clocks: `Date.now()` and `performance.now()`. */
export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
};
