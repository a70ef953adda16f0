import { parseArgs } from 'node:util';

/** What `main.ts` runs with. */
export interface FleetArguments {
  /** Number of worker processes. */
  workers: number;
}

/**
 * Reads `--workers N` (default `FLEET_WORKERS`, else 6). `pnpm --filter @x/example-fleet start -- --workers 50`
 * passes the `--` on to the script, where `parseArgs` would take it for the end of the options: it is dropped first.
 */
export function parseFleetArguments(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): FleetArguments {
  const args = argv[0] === '--' ? argv.slice(1) : [...argv];
  const { values } = parseArgs({ args, options: { workers: { type: 'string', default: env.FLEET_WORKERS ?? '6' } } });
  const workers = Number(values.workers);
  if (!Number.isInteger(workers) || workers < 1) {
    throw new Error(`--workers must be a whole number of at least 1, got "${values.workers.slice(0, 20)}"`);
  }
  return { workers };
}
