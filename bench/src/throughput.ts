import { median, runLoad } from './statistics.js';

export interface ThroughputComparison {
  /** Requests per second of the baseline over all its blocks. */
  baselineRps: number;
  /** Per subject: requests per second over all its blocks, and the median of the per-round ratios to the baseline. */
  subjects: Record<string, { rps: number; ratio: number; cpuRatio: number }>;
  /** The client process's CPU time per baseline request, in microseconds (all threads: JIT, GC, libuv). */
  baselineCpuMicroseconds: number;
  /** How many rounds the ratios are the median of. */
  rounds: number;
}

export interface ThroughputOptions {
  baseline: () => Promise<unknown>;
  subjects: Record<string, () => Promise<unknown>>;
  /** Requests each side sends in all (not counting the warm-up). */
  total: number;
  concurrency: number;
  /** Requests per block: each round runs one block of every side, back to back. */
  blockSize: number;
  /** Requests of each side sent once before measuring (JIT, sockets). */
  warmup: number;
}

/**
 * Interleaves the sides in short blocks (one block of each per round, the order rotating every round) and takes the
 * median of the per-round ratios. A shared machine's speed drifts by far more than the few per cent being measured,
 * but over one round (a second or so) it drifts little, and the median discards rounds hit by a neighbour's burst.
 * The client's CPU time per request is recorded too: the client is the bottleneck (one event loop at concurrency
 * 32), and its CPU cost per request is what the overhead is, undisturbed by time other processes take from it.
 */
export async function compareThroughput(options: ThroughputOptions): Promise<ThroughputComparison> {
  const { baseline, subjects, total, concurrency, blockSize, warmup } = options;
  const sides: Array<[string, () => Promise<unknown>]> = [['baseline', baseline], ...Object.entries(subjects)];
  for (const [, send] of sides) await runLoad(send, warmup, concurrency);
  const rounds = Math.ceil(total / blockSize);
  const rates = new Map<string, number[]>(sides.map(([name]) => [name, []]));
  const seconds = new Map<string, number>(sides.map(([name]) => [name, 0]));
  const cpu = new Map<string, number[]>(sides.map(([name]) => [name, []]));
  globalThis.gc?.();
  for (let round = 0; round < rounds; round += 1) {
    for (let index = 0; index < sides.length; index += 1) {
      const [name, send] = sides[(index + round) % sides.length]!;
      const cpuBefore = process.cpuUsage();
      const rate = await runLoad(send, blockSize, concurrency);
      const cpuUsed = process.cpuUsage(cpuBefore);
      cpu.get(name)!.push((cpuUsed.user + cpuUsed.system) / blockSize);
      rates.get(name)!.push(rate);
      seconds.set(name, seconds.get(name)! + blockSize / rate);
    }
  }
  const baselineRates = rates.get('baseline')!;
  const baselineCpu = cpu.get('baseline')!;
  const result: ThroughputComparison = {
    baselineRps: (rounds * blockSize) / seconds.get('baseline')!,
    baselineCpuMicroseconds: median(baselineCpu),
    subjects: {},
    rounds,
  };
  for (const name of Object.keys(subjects)) {
    const ratios = rates.get(name)!.map((rate, round) => rate / baselineRates[round]!);
    const cpuRatios = cpu.get(name)!.map((microseconds, round) => baselineCpu[round]! / microseconds);
    result.subjects[name] = { rps: (rounds * blockSize) / seconds.get(name)!, ratio: median(ratios), cpuRatio: median(cpuRatios) };
  }
  return result;
}
