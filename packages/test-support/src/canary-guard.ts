/**
 * A Vitest setup file: every package and example runs its tests with it (`setupFiles` in each
 * `vitest.config.ts`). It watches what tests *output* — console calls, writes to stdout and stderr, unhandled
 * rejections, uncaught exceptions and process warnings — and fails the test (or the file) during which a canary
 * secret or token appeared there. It also fails the test during which a rejection went unhandled or an exception
 * uncaught: its own listener would otherwise silence Vitest's report of them. Values a test merely holds or compares (a header it asserts equals the token) are
 * not outputs and are not scanned.
 *
 * Canaries are anything holding the marker `xcanary`: the emulators' default credentials and the tokens they issue
 * (the i'mport emulator's with `tokenFormat: 'canary'`, as every test here that relies on them asks).
 * Set `X_CANARY_REPORT` to a file path to get one JSON line per test file with how much was scanned.
 */
import { appendFileSync } from 'node:fs';
import { formatWithOptions, type InspectOptions, inspect } from 'node:util';
import { type CanaryLeak, CanaryScanner } from '@x/core/testing';
import { afterAll, afterEach, expect } from 'vitest';

const scanner = new CanaryScanner();
const scanned = { console: 0, writes: 0, processEvents: 0 };

const consoleMethods = ['log', 'info', 'warn', 'error', 'debug', 'trace', 'table', 'group', 'groupCollapsed', 'timeLog'] as const;
for (const method of consoleMethods) {
  const original = console[method] as (...args: unknown[]) => void;
  console[method] = function scannedConsole(this: Console, ...args: unknown[]): void {
    scanned.console += 1;
    // The same formatting the console applies, so only what would really be printed counts.
    scanner.scanText(`console.${method}`, formatWithOptions({}, ...args));
    original.apply(this, args);
  };
}
const originalDir = console.dir;
console.dir = function scannedDir(this: Console, item?: unknown, options?: InspectOptions): void {
  scanned.console += 1;
  scanner.scanText('console.dir', inspect(item, options));
  originalDir.call(this, item, options);
};
const originalAssert = console.assert;
console.assert = function scannedAssert(this: Console, condition?: boolean, ...args: unknown[]): void {
  scanned.console += 1;
  if (!condition) scanner.scanText('console.assert', formatWithOptions({}, ...args));
  (originalAssert as (condition?: boolean, ...data: unknown[]) => void).call(this, condition, ...args);
};

for (const [name, stream] of [
  ['process.stdout', process.stdout],
  ['process.stderr', process.stderr],
] as const) {
  const originalWrite = stream.write;
  stream.write = function scannedWrite(this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]): boolean {
    scanned.writes += 1;
    scanner.scanText(`${name}.write`, typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
    return (originalWrite as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof stream.write;
}

// A listener of its own makes Node (and so Vitest) treat these as handled: Vitest stops reporting unhandled
// rejections once any listener exists. So the guard fails the test they happen in itself, besides scanning them.
const unhandled: string[] = [];
for (const event of ['unhandledRejection', 'uncaughtException', 'warning'] as const) {
  process.on(event, (value: unknown) => {
    scanned.processEvents += 1;
    scanner.scan(`process '${event}'`, value);
    if (event !== 'warning') unhandled.push(`${event}: ${value instanceof Error ? (value.stack ?? value.message) : inspect(value)}`);
  });
}

/** The unhandled rejections and uncaught exceptions since the last call, which then no longer fail the test: for the guard's own test. */
export function takeUnhandled(): string | undefined {
  if (unhandled.length === 0) return undefined;
  return unhandled.splice(0).join('\n');
}

/**
 * The leaks found since the last call (or the last test), which then no longer fail the test: for the guard's own
 * test, which writes a canary on purpose.
 */
export function takeGuardLeaks(): CanaryLeak[] {
  return scanner.takeLeaks();
}

function newLeaks(): string | undefined {
  const leaks = takeGuardLeaks();
  if (leaks.length === 0) return undefined;
  return leaks.map((leak) => `  ${leak.label} (${leak.form}): …${leak.excerpt}…`).join('\n');
}

afterEach(() => {
  const leaks = newLeaks();
  if (leaks !== undefined) throw new Error(`A canary secret or token was output during this test:\n${leaks}`);
  const errors = takeUnhandled();
  if (errors !== undefined) throw new Error(`Unhandled during this test (or one before it in this file):\n${errors}`);
});

afterAll(() => {
  const report = process.env.X_CANARY_REPORT;
  if (report !== undefined && report !== '') {
    const file = expect.getState().testPath ?? 'unknown';
    appendFileSync(report, `${JSON.stringify({ file, ...scanned, forms: scanner.forms, leaks: scanner.leaks.length })}\n`);
  }
  const leaks = newLeaks();
  if (leaks !== undefined) throw new Error(`A canary secret or token was output outside a test (a hook):\n${leaks}`);
  const errors = takeUnhandled();
  if (errors !== undefined) throw new Error(`Unhandled after the last test of this file:\n${errors}`);
});
