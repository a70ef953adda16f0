/**
 * `pnpm soak`: the fault soak (see `soak-run.ts`). Prints the report and exits non-zero when a call was lost or
 * failed in a way a retry cannot fix, and, with `--rotate`, when an API call carried a token of revoked credentials.
 *
 *   pnpm soak                          60 s, a random seed (printed)
 *   pnpm soak --duration 10s           the short run CI makes
 *   pnpm soak --seed 1234 --fault-rate 0.2 --json soak.json   (relative to the folder pnpm was started from)
 *   pnpm soak --outage                 the token endpoints down (HTTP 503) for the middle third, no random faults
 *   pnpm soak --outage --outage-fault reset --fault-rate 0.1
 *   pnpm soak --rotate                 every merchant's secret rotated every 3 s, merchants read from their sources
 *
 * `SOAK_DURATION` and `SOAK_SEED` set the same as the flags, which win.
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { formatSoakReport, soakPassed } from './soak-report.js';
import { runSoak, type SoakOutageFault } from './soak-run.js';

// An unknown or malformed flag is a bad flag (exit code 2), not a crash.
const { values } = (() => {
  try {
    return parseArgs({
      options: {
        duration: { type: 'string' },
        seed: { type: 'string' },
        'fault-rate': { type: 'string' },
        outage: { type: 'boolean' },
        'outage-fault': { type: 'string' },
        rotate: { type: 'boolean' },
        json: { type: 'string' },
      },
      strict: true,
    });
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error));
  }
})();

const durationText = values.duration ?? process.env.SOAK_DURATION ?? '60s';
const seedText = values.seed ?? process.env.SOAK_SEED;
const durationMs = parseDuration(durationText);
const seed = seedText === undefined ? undefined : parseWhole(seedText, 'seed');
const outageFaultText = values['outage-fault'] ?? '503';
if (outageFaultText !== '503' && outageFaultText !== 'reset') fail(`--outage-fault must be 503 or reset, not "${outageFaultText}"`);
if (values['outage-fault'] !== undefined && values.outage !== true) fail('--outage-fault needs --outage');
const outage: SoakOutageFault | undefined = values.outage === true ? outageFaultText : undefined;
const rotate = values.rotate === true;
if (rotate && outage !== undefined) fail('--rotate and --outage are measured apart: give one of them');
// An outage or rotations are measured on their own unless random faults are asked for too.
const faultRate = values['fault-rate'] === undefined ? (outage === undefined && !rotate ? 0.1 : 0) : Number(values['fault-rate']);
if (!(faultRate >= 0 && faultRate <= 1)) fail(`--fault-rate must be a number from 0 to 1, not "${values['fault-rate']}"`);

const report = await runSoak({
  durationMs,
  seed,
  faultRate,
  outage,
  rotate,
  log: (line) => process.stderr.write(`soak: ${line}\n`),
});
process.stdout.write(
  `fault soak: ${report.merchants.length} merchants (i'mport and Vipps emulators on 127.0.0.1), ${report.workersPerMerchant} callers each, ` +
    `${durationMs / 1000} s, faults at ${report.faultRate * 100} % of requests, seed ${report.seed} (replay: --seed ${report.seed})` +
    `${outage === undefined ? '' : `, token endpoints down for the middle third (${outage === 'reset' ? 'connections reset' : 'HTTP 503'})`}` +
    `${rotate ? ', secrets rotated under load' : ''}\n\n`,
);
process.stdout.write(`${formatSoakReport(report)}\n`);
// pnpm runs this in bench/: a relative --json is the caller's, so it resolves against the folder pnpm was started from.
if (values.json !== undefined) await writeFile(resolve(process.env.INIT_CWD ?? '', values.json), `${JSON.stringify(report, null, 2)}\n`);
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
