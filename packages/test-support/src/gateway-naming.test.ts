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

/**
 * The template's `X` where it is not the package name capitalised. `@x/oauth2` is a protocol, not a gateway: its
 * provider is named after the grant it speaks (`createClientCredentialsProvider`, as issue 17 names it, leaving room
 * for other grants) and its emulator after the server it plays (`createOAuth2Emulator`).
 */
const templateTypes: Readonly<Record<string, { provider?: string; emulator?: string }>> = {
  oauth2: { provider: 'ClientCredentials', emulator: 'OAuth2' },
};

describe('the gateway naming template', () => {
  it('should find the gateways', () => {
    expect(gateways).toEqual(expect.arrayContaining(['iamport', 'oauth2', 'portone', 'vipps']));
  });

  it.each(gateways)('should name the exports of %s by the template', (name) => {
    const provider = readFileSync(join(packages, name, 'src', `${name}-token-provider.ts`), 'utf8');
    // The gateway's own casing, read from its provider class: the package name, whatever the case of its letters, or
    // the names a package's entry in templateTypes gives (a protocol rather than a gateway).
    const type = /\bclass (\w+)TokenProvider implements\b/.exec(provider)?.[1] ?? '';
    const named = templateTypes[name];
    if (named === undefined) expect(type.toLowerCase()).toBe(name);
    const { provider: providerType = type, emulator: emulatorType = type } = named ?? {};
    const value = named === undefined ? type[0]!.toLowerCase() + type.slice(1) : name;
    const main = exportedNames(join(packages, name, 'src', 'index.ts'));
    expect(main.values).toEqual(
      expect.arrayContaining([`create${providerType}Provider`, `${value}ProviderName`, `validate${providerType}Settings`]),
    );
    expect(main.types).toEqual(expect.arrayContaining([`${providerType}Provider`, `${providerType}ProviderSettings`]));
    const testing = exportedNames(join(packages, name, 'src', 'testing', 'index.ts'));
    expect(testing.values).toEqual(expect.arrayContaining([`create${emulatorType}Emulator`, `${value}EmulatorDefaultMerchant`]));
    expect(testing.types).toEqual(
      expect.arrayContaining([`${emulatorType}Emulator`, `${emulatorType}EmulatorOptions`, `${emulatorType}EmulatorMerchant`]),
    );
    expect(provider).toMatch(new RegExp(`\\bclass ${providerType}TokenProvider implements ${providerType}Provider\\b`));
    expect(provider).toMatch(new RegExp(`\\bexport const ${value}ProviderName = '${name}'`));
  });
});
