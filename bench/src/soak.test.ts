import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SoakReport } from './soak-run.js';

const benchDirectory = new URL('..', import.meta.url);
let scratch: string | undefined;

afterEach(async () => {
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  scratch = undefined;
});

/** Runs `pnpm soak`'s command line as a child process; it must end by itself well within `timeoutMs`. */
function soak(args: readonly string[], timeoutMs = 45_000): Promise<{ code: number | null; signal: string | null; stdout: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--expose-gc', '--conditions=@x/source', '--import', 'tsx', 'src/soak.ts', ...args],
      { cwd: benchDirectory, timeout: timeoutMs, killSignal: 'SIGKILL' },
      (error, stdout) => {
        const failure = error as (Error & { code?: number | string; signal?: string | null }) | null;
        resolve({
          code: failure === null ? 0 : typeof failure.code === 'number' ? failure.code : null,
          signal: failure?.signal ?? null,
          stdout,
        });
      },
    );
  });
}

describe('pnpm soak', () => {
  it('should settle every call under random faults, count each once, print the tables and end by itself', async () => {
    scratch = await mkdtemp(join(tmpdir(), 'soak-'));
    const json = join(scratch, 'soak.json');
    const run = await soak(['--duration', '4s', '--seed', '20261122', '--json', json]);

    expect(run.signal).toBeNull();
    expect(run.code).toBe(0);
    const report = JSON.parse(await readFile(json, 'utf8')) as SoakReport;
    expect(report.seed).toBe(20261122);
    expect(report.lost).toBe(0);
    expect(report.failedOther).toBe(0);
    expect(report.otherCauses).toEqual({});
    expect(report.calls).toBeGreaterThan(100);
    expect(report.succeeded).toBeGreaterThan(report.calls / 2);

    // Each merchant's calls end exactly one way, and the run's totals are the merchants' sums.
    for (const row of report.merchants) {
      expect(row.succeeded + row.failedRetryable + row.failedOther + row.lost).toBe(row.calls);
      expect(row.calls).toBeGreaterThan(0);
      // The cache asks one at a time: the gateway has seen all its token requests, or all but the one under way.
      expect(row.tokenRequests).toBeGreaterThanOrEqual(1);
      expect(row.tokenRequests - row.gatewayTokenRequests).toBeGreaterThanOrEqual(0);
      expect(row.tokenRequests - row.gatewayTokenRequests).toBeLessThanOrEqual(1);
    }
    expect(new Set(report.merchants.map((row) => row.gateway))).toEqual(new Set(['iamport', 'vipps']));
    for (const field of ['calls', 'succeeded', 'failedRetryable', 'failedOther', 'lost'] as const) {
      expect(report.merchants.reduce((sum, row) => sum + row[field], 0)).toBe(report[field]);
    }
    expect(Object.values(report.retryableCauses).reduce((sum, count) => sum + count, 0)).toBe(report.failedRetryable);

    // The faults were there: about 10 % of the API requests, of every kind drawn often enough to be sure of.
    const api = report.faults.api;
    const apiFaults = Object.values(api.faults).reduce((sum, count) => sum + count, 0);
    expect(apiFaults / api.requests).toBeGreaterThan(0.05);
    expect(apiFaults / api.requests).toBeLessThan(0.15);
    expect(api.faults['5xx']).toBeGreaterThan(0);
    expect(api.faults.reset).toBeGreaterThan(0);
    expect(api.faults.stall).toBeGreaterThan(0);
    expect(report.faults.token.requests).toBeGreaterThanOrEqual(report.merchants.length);
    // A 503 reaches its caller unless the call's deadline came first.
    expect(report.retryableCauses['api: HTTP 503']).toBeGreaterThan(0);
    expect(report.retryableCauses['api: HTTP 503']).toBeLessThanOrEqual(api.faults['5xx']);

    expect(run.stdout).toMatch(/seed 20261122/);
    expect(run.stdout).toMatch(/^outcome +calls +share$/m);
    expect(run.stdout).toMatch(new RegExp(`^calls +${report.calls}$`, 'm'));
    expect(run.stdout).toMatch(/^ {2}lost \(expected 0\) +0 +0\.0 %$/m);
    expect(run.stdout).toMatch(/^faults injected +token requests +api requests$/m);
    expect(run.stdout).toMatch(/^merchant +gateway +calls +succeeded +failed retryable +failed other +lost +token requests/m);
    expect(run.stdout).toMatch(/^heap used +start [\d.]+ MB, end [\d.]+ MB/m);
    expect(run.stdout).toMatch(/^result +PASS/m);
  });

  it('should refuse a duration it cannot read, before starting anything', async () => {
    const run = await soak(['--duration', 'soon']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
  });
});
