/** The median of `values` (mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** The `p`th percentile of `values`, nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  if (p === 50 && sorted.length % 2 === 0) {
    return (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
  }
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Percentiles of a large array of numbers, sorted once in place. */
export function latencySummary(values: Float64Array): { p50: number; p99: number; max: number } {
  values.sort();
  const at = (p: number): number => values[Math.min(values.length, Math.max(1, Math.ceil((p / 100) * values.length))) - 1]!;
  return { p50: at(50), p99: at(99), max: values[values.length - 1]! };
}

/** Runs `send` `total` times with `concurrency` calls in flight; returns requests per second. */
export async function runLoad(send: () => Promise<unknown>, total: number, concurrency: number): Promise<number> {
  let issued = 0;
  const worker = async (): Promise<void> => {
    while (issued < total) {
      issued += 1;
      await send();
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return total / ((performance.now() - started) / 1000);
}
