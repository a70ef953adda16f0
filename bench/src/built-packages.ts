import { execFileSync, fork } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ManyMerchantsResult } from './many-merchants.js';
import type { ResolvedMerchantsResult, ResolvedMerchantsSettings } from './resolved-merchants.js';

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
  log(`building ${stale.map((name) => `@x/${name}`).join(', ')} (figures 5 and 7 measure the built packages)`);
  execFileSync('pnpm', stale.flatMap((name) => ['--filter', `@x/${name}`]).concat('build'), {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/** Runs figure 5 in a child process without the `@x/source` condition, so `@x/*` resolve to `dist/`. */
export function measureManyMerchantsBuilt(emulatorUrl: string, merchantCount: number): Promise<ManyMerchantsResult> {
  return runBuilt(new URL('./many-merchants-process.ts', import.meta.url), { emulatorUrl, merchantCount }, 'many merchants');
}

/** Runs one size of figure 7 in a child process on the built packages, as figure 5. */
export function measureResolvedMerchantsBuilt(emulatorUrl: string, settings: ResolvedMerchantsSettings): Promise<ResolvedMerchantsResult> {
  return runBuilt(new URL('./resolved-merchants-process.ts', import.meta.url), { emulatorUrl, settings }, 'resolved merchants');
}

/** Forks `module` without the `@x/source` condition, sends it `message` and returns the result it answers with. */
async function runBuilt<Result>(module: URL, message: object, name: string): Promise<Result> {
  const execArgv = process.execArgv.filter((flag, index, flags) => !flag.startsWith('--conditions') && flags[index - 1] !== '--conditions');
  const child = fork(module, { execArgv, stdio: 'inherit' });
  child.send(message);
  const [reply] = (await once(child, 'message')) as [{ result?: Result; error?: string }];
  await once(child, 'exit');
  if (reply.result === undefined) throw new Error(`${name} failed: ${reply.error}`);
  return reply.result;
}
