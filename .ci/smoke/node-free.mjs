// The main entries of @x/core and the gateway packages must load where there is no Node: Bun, Deno, Cloudflare
// Workers without Node compatibility. Fails when a built main entry (ESM or CJS), or any chunk it imports, imports a
// Node built-in (`node:…` or a bare built-in name such as `crypto`). Usage: node node-free.mjs PACKAGE_DIR…, where
// each directory holds a built package (its package.json and dist). Run by `pnpm check:packages` on the workspace
// and by .ci/pack-smoke on the installed tarballs.
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, resolve } from 'node:path';

const builtins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));
// Static and dynamic imports, re-exports and require calls, with their specifier.
const specifierPattern = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)["']([^"']+)["']/g;

/** Every Node built-in the file at `path` imports, following its relative imports; as `file: specifier`. */
function builtinImports(path, seen = new Set()) {
  if (seen.has(path)) return [];
  seen.add(path);
  const found = [];
  for (const [, specifier] of readFileSync(path, 'utf8').matchAll(specifierPattern)) {
    if (specifier.startsWith('.')) found.push(...builtinImports(resolve(dirname(path), specifier), seen));
    else if (builtins.has(specifier) || specifier.startsWith('node:')) found.push(`${path}: ${specifier}`);
  }
  return found;
}

const problems = [];
for (const directory of process.argv.slice(2)) {
  const manifest = JSON.parse(readFileSync(join(directory, 'package.json'), 'utf8'));
  const main = manifest.exports['.'];
  for (const file of [main.import.default, main.require.default]) {
    problems.push(...builtinImports(resolve(directory, file)).map((problem) => `${manifest.name}: ${problem}`));
  }
}
if (problems.length > 0) {
  console.error(`A main entry imports a Node built-in; move the code to a subpath (such as @x/core/node):\n${problems.join('\n')}`);
  process.exit(1);
}
console.log(`node-free: ${process.argv.length - 2} main entries import no Node built-in`);
