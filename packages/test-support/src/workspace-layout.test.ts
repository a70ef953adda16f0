/**
 * Where test-only code may live. Published packages ship their `src/` (through tsup) and nothing else, so a file
 * there that no entry point reaches is test-only code in the wrong place; it belongs here, in `@x/test-support`,
 * which is private and never built or packed. And a test reaches another package through its name, never through
 * `../../other/src/…`.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../..', import.meta.url));

interface Manifest {
  name: string;
  private?: boolean;
  exports?: Record<string, unknown>;
  bin?: string | Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

function readManifest(directory: string): Manifest {
  return JSON.parse(readFileSync(join(directory, 'package.json'), 'utf8')) as Manifest;
}

/** Every workspace project directory with a `src/` (packages, examples, bench). */
function projects(): string[] {
  const under = (folder: string): string[] =>
    readdirSync(join(root, folder), { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && existsSync(join(root, folder, entry.name, 'package.json')))
      .map((entry) => join(root, folder, entry.name));
  return [...under('packages'), ...under('examples'), join(root, 'bench')];
}

function sourceFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => join(entry.parentPath, entry.name));
}

const specifierPattern = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|new URL\(\s*)['"]([^'"]+)['"]/g;

/** The modules `file` imports (or forks) by relative path, as absolute `.ts` paths. */
function relativeImports(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(specifierPattern)]
    .map((match) => match[1]!)
    .filter((specifier) => specifier.startsWith('.') && /\.[jt]s$/.test(specifier))
    .map((specifier) => resolve(dirname(file), specifier).replace(/\.js$/, '.ts'));
}

/** The source of each of the package's commands: `./dist/testing/x-cli.js` is built from `./src/testing/x-cli.ts`. */
export function binSources(directory: string): string[] {
  const { bin } = readManifest(directory);
  const targets = typeof bin === 'string' ? [bin] : Object.values(bin ?? {});
  return targets.map((target) => resolve(directory, target.replace(/^(\.\/)?dist\//, 'src/').replace(/\.c?js$/, '.ts')));
}

/** The files of `directory/src` that no entry point of the package (its `@x/source` exports, its bins) reaches. */
export function unreachableSources(directory: string): string[] {
  const manifest = readManifest(directory);
  const entries = Object.values(manifest.exports ?? {})
    .map((target) => (typeof target === 'object' && target !== null ? (target as Record<string, unknown>)['@x/source'] : undefined))
    .filter((target): target is string => typeof target === 'string')
    .map((target) => resolve(directory, target))
    .concat(binSources(directory));
  const reached = new Set<string>();
  const pending = [...entries];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (reached.has(file) || !existsSync(file)) continue;
    reached.add(file);
    pending.push(...relativeImports(file));
  }
  return sourceFiles(join(directory, 'src'))
    .filter((file) => !file.endsWith('.test.ts') && !reached.has(file))
    .map((file) => relative(root, file));
}

/** Relative imports in `directory/src` that leave the project (`../../core/src/…`). */
export function importsOutsideProject(directory: string): string[] {
  return sourceFiles(join(directory, 'src')).flatMap((file) =>
    relativeImports(file)
      .filter((target) => relative(directory, target).startsWith('..'))
      .map((target) => `${relative(root, file)} → ${relative(root, target)}`),
  );
}

describe('the workspace layout', () => {
  it('should keep test-only code out of the published packages: every file in their src/ is reachable from an entry', () => {
    const published = projects().filter((directory) => readManifest(directory).private !== true);
    expect(published.map((directory) => relative(root, directory)).sort()).toEqual([
      'packages/core',
      'packages/iamport',
      'packages/oauth2',
      'packages/opentelemetry',
      'packages/portone',
      'packages/redis',
      'packages/vipps',
    ]);
    expect(published.flatMap(unreachableSources)).toEqual([]);
  });

  it('should build every command (bin) from a source file that starts with a node shebang', () => {
    const bins = projects()
      .filter((directory) => readManifest(directory).private !== true)
      .flatMap(binSources);
    expect(bins.map((file) => relative(root, file)).sort()).toEqual([
      'packages/iamport/src/testing/iamport-emulator-cli.ts',
      'packages/vipps/src/testing/vipps-emulator-cli.ts',
    ]);
    for (const file of bins) expect(readFileSync(file, 'utf8').startsWith('#!/usr/bin/env node\n'), relative(root, file)).toBe(true);
  });

  it('should import another workspace package by its name, never by a relative path into it', () => {
    expect(projects().flatMap(importsOutsideProject)).toEqual([]);
  });

  it('should keep @x/test-support private and out of every published dependency list', () => {
    const manifests = projects().map(readManifest);
    expect(manifests.find((manifest) => manifest.name === '@x/test-support')?.private).toBe(true);
    for (const manifest of manifests.filter((candidate) => candidate.private !== true)) {
      const dependencies = { ...manifest.dependencies, ...manifest.devDependencies, ...manifest.peerDependencies };
      expect(Object.keys(dependencies), manifest.name).not.toContain('@x/test-support');
    }
  });

  it('should run every test project with the canary guard as a setup file', () => {
    const configs = projects()
      .map((directory) => join(directory, 'vitest.config.ts'))
      .filter((file) => existsSync(file));
    expect(configs.length).toBeGreaterThanOrEqual(9);
    for (const config of configs) {
      expect(readFileSync(config, 'utf8'), relative(root, config)).toMatch(/setupFiles: \[[^\]]*canary-guard/);
    }
  });
});
