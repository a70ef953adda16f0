/**
 * `pnpm soak`: the fault soak (see `soak-run.ts`). Prints the report and exits non-zero when a call was lost or
 * failed in a way a retry cannot fix.
 *
 *   pnpm soak                          60 s, a random seed (printed)
 *   pnpm soak --duration 10s           the short run CI makes
 *   pnpm soak --seed 1234 --fault-rate 0.2 --json soak.json
 *
 * `SOAK_DURATION` and `SOAK_SEED` set the same as the flags, which win.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { formatSoakReport, soakPassed } from './soak-report.js';
import { runSoak } from './soak-run.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string' },
    seed: { type: 'string' },
    'fault-rate': { type: 'string' },
    json: { type: 'string' },
  },
  strict: true,
});

const durationText = values.duration ?? process.env.SOAK_DURATION ?? '60s';
const seedText = values.seed ?? process.env.SOAK_SEED;
const durationMs = parseDuration(durationText);
const seed = seedText === undefined ? undefined : parseWhole(seedText, 'seed');
const faultRate = values['fault-rate'] === undefined ? 0.1 : Number(values['fault-rate']);
if (!(faultRate >= 0 && faultRate <= 1)) fail(`--fault-rate must be a number from 0 to 1, not "${values['fault-rate']}"`);

const report = await runSoak({
  durationMs,
  seed,
  faultRate,
  log: (line) => process.stderr.write(`soak: ${line}\n`),
});
process.stdout.write(
  `fault soak: ${report.merchants.length} merchants (i'mport and Vipps emulators on 127.0.0.1), ${report.workersPerMerchant} callers each, ` +
    `${durationMs / 1000} s, faults at ${report.faultRate * 100} % of requests, seed ${report.seed} (replay: --seed ${report.seed})\n\n`,
);
process.stdout.write(`${formatSoakReport(report)}\n`);
if (values.json !== undefined) await writeFile(values.json, `${JSON.stringify(report, null, 2)}\n`);
// exitCode rather than exit(): the process must also end by itself, with nothing left running.
process.exitCode = soakPassed(report) ? 0 : 1;

/** `60s`, `10s`, `500ms`, `2m`, or a bare number of seconds. */
function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (match === null) fail(`--duration must look like 60s, 500ms or 2m, not "${text}"`);
  const amount = Number(match[1]);
  const milliseconds = match[2] === 'ms' ? amount : match[2] === 'm' ? amount * 60_000 : amount * 1000;
  if (!(milliseconds >= 100 && milliseconds <= 3_600_000)) fail('--duration must be between 100ms and 60m');
  return milliseconds;
}

function parseWhole(text: string, name: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0 || value > 0xffff_ffff)
    fail(`--${name} must be a whole number from 0 to 4294967295, not "${text}"`);
  return value;
}

function fail(message: string): never {
  process.stderr.write(`soak: ${message}\n`);
  process.exit(2);
}
