/**
 * One naming template for every gateway package, so that a reader (and the provider kit's checklist) can guess a
 * name without looking: `createXProvider`, `XProvider`, `XTokenProvider`, `xProviderName`, `XProviderSettings`,
 * `validateXSettings` from the main entry; `createXEmulator`, `XEmulator`, `xEmulatorDefaultMerchant` from
 * `testing`. Read from the sources, so it needs none of the gateways installed.
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
    expect(gateways).toEqual(expect.arrayContaining(['iamport', 'oauth2', 'vipps']));
  });

  it.each(gateways)('should name the exports of %s by the template', (name) => {
    const type = name[0]!.toUpperCase() + name.slice(1);
    const { provider: providerType = type, emulator: emulatorType = type } = templateTypes[name] ?? {};
    const main = exportedNames(join(packages, name, 'src', 'index.ts'));
    expect(main.values).toEqual(
      expect.arrayContaining([`create${providerType}Provider`, `${name}ProviderName`, `validate${providerType}Settings`]),
    );
    expect(main.types).toEqual(expect.arrayContaining([`${providerType}Provider`, `${providerType}ProviderSettings`]));
    const testing = exportedNames(join(packages, name, 'src', 'testing', 'index.ts'));
    expect(testing.values).toEqual(expect.arrayContaining([`create${emulatorType}Emulator`, `${name}EmulatorDefaultMerchant`]));
    expect(testing.types).toEqual(
      expect.arrayContaining([`${emulatorType}Emulator`, `${emulatorType}EmulatorOptions`, `${emulatorType}EmulatorMerchant`]),
    );
    const provider = readFileSync(join(packages, name, 'src', `${name}-token-provider.ts`), 'utf8');
    expect(provider).toMatch(new RegExp(`\\bclass ${providerType}TokenProvider implements ${providerType}Provider\\b`));
    expect(provider).toMatch(new RegExp(`\\bexport const ${name}ProviderName = '${name}'`));
  });
});
