/**
 * One naming template for every gateway package, so that a reader (and the provider kit's checklist) can guess a
 * name without looking: `createXProvider`, `XProvider`, `XTokenProvider`, `xProviderName`, `XProviderSettings`,
 * `validateXSettings` from the main entry; `createXEmulator`, `XEmulator`, `xEmulatorDefaultMerchant` from
 * `testing`. `X` is the package's name in the gateway's own casing (`Iamport`, `PortOne`), `x` the same with its first
 * letter lowered (`portOne`). Read from the sources, so it needs none of the gateways installed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const packages = fileURLToPath(new URL('../..', import.meta.url));
/** Every package that depends on the provider kit is a gateway. */
const gateways = readdirSync(packages).filter((name) => {
  try {
    return name !== 'core' && readFileSync(join(packages, name, 'src', `${name}-token-provider.ts`), 'utf8').includes('@x/core/provider');
  } catch {
    return false;
  }
});

/** The names `file` exports: values and types, by name (`export { a, b }`, `export type { C }`). */
function exportedNames(file: string): { values: string[]; types: string[] } {
  const text = readFileSync(file, 'utf8');
  const names = (pattern: RegExp): string[] =>
    [...text.matchAll(pattern)].flatMap((match) =>
      match[1]!
        .split(',')
        .map((name) => name.trim())
        .filter(Boolean),
    );
  return { values: names(/export \{([^}]*)\}/g), types: names(/export type \{([^}]*)\}/g) };
}

describe('the gateway naming template', () => {
  it('should find the gateways', () => {
    expect(gateways).toEqual(expect.arrayContaining(['iamport', 'portone', 'vipps']));
  });

  it.each(gateways)('should name the exports of %s by the template', (name) => {
    const provider = readFileSync(join(packages, name, 'src', `${name}-token-provider.ts`), 'utf8');
    // The gateway's own casing, read from its provider class: the package name, whatever the case of its letters.
    const type = /\bclass (\w+)TokenProvider implements\b/.exec(provider)?.[1] ?? '';
    expect(type.toLowerCase()).toBe(name);
    const value = type[0]!.toLowerCase() + type.slice(1);
    const main = exportedNames(join(packages, name, 'src', 'index.ts'));
    expect(main.values).toEqual(expect.arrayContaining([`create${type}Provider`, `${value}ProviderName`, `validate${type}Settings`]));
    expect(main.types).toEqual(expect.arrayContaining([`${type}Provider`, `${type}ProviderSettings`]));
    const testing = exportedNames(join(packages, name, 'src', 'testing', 'index.ts'));
    expect(testing.values).toEqual(expect.arrayContaining([`create${type}Emulator`, `${value}EmulatorDefaultMerchant`]));
    expect(testing.types).toEqual(expect.arrayContaining([`${type}Emulator`, `${type}EmulatorOptions`, `${type}EmulatorMerchant`]));
    expect(provider).toMatch(new RegExp(`\\bclass ${type}TokenProvider implements ${type}Provider\\b`));
    expect(provider).toMatch(new RegExp(`\\bexport const ${value}ProviderName = '${name}'`));
  });
});
