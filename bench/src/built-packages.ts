import { execFileSync, fork } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ManyMerchantsResult } from './many-merchants.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const packages = ['core', 'iamport'];

function newestSource(directory: string): number {
  let newest = 0;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function builtAt(name: string): number {
  try {
    return statSync(join(root, 'packages', name, 'dist', 'index.js')).mtimeMs;
  } catch {
    return 0;
  }
}

/** Builds `@x/core` and `@x/iamport` unless their `dist/` is newer than every source file. */
export function ensureBuilt(log: (message: string) => void): void {
  const stale = packages.filter((name) => builtAt(name) < newestSource(join(root, 'packages', name, 'src')));
  if (stale.length === 0) return;
  log(`building ${stale.map((name) => `@x/${name}`).join(', ')} (figure 5 measures the built packages)`);
  execFileSync('pnpm', stale.flatMap((name) => ['--filter', `@x/${name}`]).concat('build'), {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/** Runs figure 5 in a child process without the `@x/source` condition, so `@x/*` resolve to `dist/`. */
export async function measureManyMerchantsBuilt(emulatorUrl: string, merchantCount: number): Promise<ManyMerchantsResult> {
  const execArgv = process.execArgv.filter((flag, index, flags) => !flag.startsWith('--conditions') && flags[index - 1] !== '--conditions');
  const child = fork(new URL('./many-merchants-process.ts', import.meta.url), { execArgv, stdio: 'inherit' });
  child.send({ emulatorUrl, merchantCount });
  const [reply] = (await once(child, 'message')) as [{ result?: ManyMerchantsResult; error?: string }];
  await once(child, 'exit');
  if (reply.result === undefined) throw new Error(`many merchants failed: ${reply.error}`);
  return reply.result;
}
