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

/**
 * Runs `pnpm soak`'s command line as a child process, in the bench folder as pnpm does; it must end by itself well
 * within `timeoutMs`. `env` is added to the process's environment.
 */
function soak(
  args: readonly string[],
  timeoutMs = 45_000,
  env: Readonly<Record<string, string>> = {},
): Promise<{ code: number | null; signal: string | null; stdout: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--expose-gc', '--conditions=@x/source', '--import', 'tsx', 'src/soak.ts', ...args],
      { cwd: benchDirectory, env: { ...process.env, ...env }, timeout: timeoutMs, killSignal: 'SIGKILL' },
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
    // pnpm runs the script in bench/ and says in INIT_CWD where it was started: a relative --json is written there.
    const run = await soak(['--duration', '4s', '--seed', '20261122', '--json', 'soak.json'], undefined, { INIT_CWD: scratch });

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

  it('should take the token endpoints down for the middle third with --outage and count what it cost', async () => {
    scratch = await mkdtemp(join(tmpdir(), 'soak-'));
    const json = join(scratch, 'soak.json');
    // 7 s: the outage runs from 2.3 s to 4.7 s, and Vipps' 6 s tokens are refreshed 3.5 to 4 s after they were issued
    // (just after the start), inside it: each of those token requests fails, and the refresh is tried again.
    const run = await soak(['--duration', '7s', '--seed', '20261122', '--outage', '--json', json]);

    expect(run.signal).toBeNull();
    expect(run.code).toBe(0);
    const report = JSON.parse(await readFile(json, 'utf8')) as SoakReport;
    expect(report.lost).toBe(0);
    expect(report.failedOther).toBe(0);
    // The outage alone: no random faults unless --fault-rate asks for them.
    expect(report.faultRate).toBe(0);
    expect(Object.values(report.faults.token.faults).reduce((sum, count) => sum + count, 0)).toBe(0);
    expect(Object.values(report.faults.api.faults).reduce((sum, count) => sum + count, 0)).toBe(0);

    const outage = report.outage!;
    expect(outage).toMatchObject({ fault: '503', startMs: 7_000 / 3, durationMs: 7_000 / 3 });
    const seconds = outage.durationMs / 1000;
    expect(outage.merchants.map((row) => row.merchant)).toEqual(report.merchants.map((row) => row.merchant));
    for (const field of ['calls', 'succeeded', 'tokenRequests', 'gatewayTokenRequests'] as const) {
      expect(outage.merchants.reduce((sum, row) => sum + row[field], 0)).toBe(outage[field]);
    }
    // Every token request the gateways received during the outage was refused, and none outside it.
    expect(outage.gatewayTokenRequests).toBe(outage.refusedTokenRequests);
    expect(outage.refusedTokenRequests).toBeGreaterThan(0);
    for (const [index, row] of outage.merchants.entries()) {
      const whole = report.merchants[index]!;
      expect(row.calls).toBeGreaterThan(0);
      expect(row.calls).toBeLessThanOrEqual(whole.calls);
      expect(row.tokenRequests).toBeLessThanOrEqual(whole.tokenRequests);
      expect(row.gatewayTokenRequests).toBeLessThanOrEqual(whole.gatewayTokenRequests);
      // The cache counts a request when it sends it, the gateway when it arrives: one may straddle each edge.
      expect(Math.abs(row.tokenRequests - row.gatewayTokenRequests)).toBeLessThanOrEqual(2);
      expect(row.tokenRequestsPerSecond).toBeCloseTo(row.tokenRequests / seconds, 6);
      expect(row.callsPerSecond).toBeCloseTo(row.calls / seconds, 6);
    }

    expect(run.stdout).toMatch(/token endpoints down from 2\.3 s to 4\.7 s \(every token request answered 503\)/);
    expect(run.stdout).toMatch(
      /^during the outage +gateway +calls +calls\/s +succeeded +token requests +\(gateway's count\) +token requests\/s/m,
    );
    expect(run.stdout).toMatch(new RegExp(`^all merchants +${outage.calls} `, 'm'));
    expect(run.stdout).toMatch(/^result +PASS/m);
  });

  it("should rotate every merchant's secret with --rotate, no call carrying a token of revoked credentials", async () => {
    scratch = await mkdtemp(join(tmpdir(), 'soak-'));
    const json = join(scratch, 'soak.json');
    // 6 s: each merchant's first rotation starts between 1 and 3.7 s, its old secret revoked 1.5 s later; the first
    // two merchants' second rotations (4 and 4.3 s) end before the run does.
    const run = await soak(['--duration', '6s', '--seed', '20261122', '--rotate', '--json', json]);

    expect(run.signal).toBeNull();
    expect(run.code).toBe(0);
    const report = JSON.parse(await readFile(json, 'utf8')) as SoakReport;
    expect(report.lost).toBe(0);
    expect(report.failedOther).toBe(0);
    expect(report.faultRate).toBe(0);
    const rotation = report.rotation!;
    expect(rotation).toMatchObject({ everyMs: 3_000, graceMs: 1_500, merchantTtlMs: 500, revokedApiCalls: 0, failures: [] });
    expect(rotation.merchants.map((row) => row.merchant)).toEqual(report.merchants.map((row) => row.merchant));
    expect(rotation.rotations).toBe(12);
    expect(rotation.sources).toEqual({ resolver: 6, file: 4 });
    for (const [index, row] of rotation.merchants.entries()) {
      expect(row.rotations).toBe(index < 2 ? 2 : 1);
      if (row.source === 'resolver') {
        // Read from the database at the start, and again each time its settings went stale while it was called.
        expect(row.resolves).toBeGreaterThan(row.rotations);
        expect(row.reloads).toBe(0);
      } else {
        // Loaded with the file, then reloaded by the watcher once per secret file renamed; never rejected, never resolved.
        expect(row.reloads).toBe(row.rotations);
        expect(row.resolves).toBe(0);
      }
      // A rotation needs a token for the new secret: one request each, none refused for the old one.
      expect(row.tokenRequests).toBe(1 + row.rotations);
      expect(row.refusedTokenRequests).toBe(0);
      expect(row.tokenRequests).toBe(report.merchants[index]!.gatewayTokenRequests);
    }
    expect(rotation.tokenRequestsPerRotation).toBe(1);

    expect(run.stdout).toMatch(/secrets rotated under load/);
    expect(run.stdout).toMatch(/^rotations +gateway +source +rotations +resolves +reloads +token requests/m);
    expect(run.stdout).toMatch(/^API calls on revoked credentials +0 \(must be 0\)/m);
    expect(run.stdout).toMatch(/^token requests per rotation +1\.00 \(target 1\)/m);
    expect(run.stdout).toMatch(/^result +PASS/m);
  });

  it('should refuse --rotate with --outage, before starting anything', async () => {
    const run = await soak(['--rotate', '--outage']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
  });

  it('should refuse an outage fault it does not know, before starting anything', async () => {
    const run = await soak(['--outage', '--outage-fault', 'timeout']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
  });

  it('should refuse a duration it cannot read, before starting anything', async () => {
    const run = await soak(['--duration', 'soon']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
  });
});
