import { inspect } from 'node:util';
import type { Arbitrary } from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ConfigurationError, isConfigurationError } from '../errors.js';
import { createMerchantRegistry } from '../merchant-registry.js';
import { loadMerchantConfig } from '../node/load-merchant-config.js';
import type { ProviderConformanceGateway } from './provider-conformance.js';

const reservedMessage = 'is a reserved name (__proto__, constructor, prototype, …), not a setting';
const remoteHttpMessage = 'must use https (http is allowed for loopback hosts only: localhost, 127.0.0.0/8, [::1])';
const originMessage = 'must be an origin, without path, query or fragment';

/** The `ConfigurationError` that `action` throws; any other outcome fails the test. */
function configurationErrorOf(action: () => unknown): ConfigurationError {
  try {
    action();
  } catch (error) {
    if (isConfigurationError(error)) return error;
    throw error;
  }
  throw new Error('expected a ConfigurationError');
}

/** Every text form of `value` a log could hold. */
function everyForm(value: unknown): string {
  const message = value instanceof Error ? value.message : '';
  return `${message}${JSON.stringify(value)}${inspect(value, { depth: Number.POSITIVE_INFINITY, showHidden: true })}`;
}

/** `clientSecret` → `client_secret`: the near miss of a copy from the gateway's own documentation. */
const snakeCase = (name: string): string => name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);

/**
 * The settings rules every gateway keeps: unknown keys refused with a "did you mean", length limits, and hostile
 * values (reserved keys, control characters, whitespace around credentials, credentials that are not strings, bad
 * `baseUrl`s, settings that are not an object or inherit their values), each reported with its path and never its
 * value, from the settings check, the provider factory and a merchant registry alike.
 *
 * @example
 * describeSettingsConformance(iamportConformance);
 */
export function describeSettingsConformance<Settings extends object, Target extends string, Variant>(
  gateway: ProviderConformanceGateway<Settings, Target, Variant>,
): void {
  const { fc, provider, credentialSettings, defaultBaseUrl } = gateway;
  const [secretSetting = ''] = gateway.secretSettings;
  const host = new URL(defaultBaseUrl).host;
  /** Valid settings at a loopback address nothing listens on; the default merchant's credentials hold the marker. */
  const base = gateway.settingsFor('http://127.0.0.1:9') as Record<string, unknown>;
  const create = (settings: unknown) => gateway.createProvider(settings as Settings);
  const issuesOf = (settings: unknown): Record<string, string> =>
    Object.fromEntries(gateway.validateSettings(settings).map((issue) => [issue.path, issue.message]));

  describe(`${gateway.displayName} settings, the rules every gateway keeps`, () => {
    const hostileCredentials: ReadonlyArray<readonly [name: string, value: unknown, message: string]> = [
      ['a number', 42, 'must be a string'],
      ['an object', { value: 'xcanary' }, 'must be a string'],
      ['an array', ['xcanary'], 'must be a string'],
      ['null', null, 'must be a string'],
      ['1 MB long', 'x'.repeat(1_048_576), 'must be at most 1024 characters'],
      ['a CR/LF (a header injection)', 'xcanary\r\nX-Injected: 1', gateway.settings.controlCharacterMessage],
      ['a NUL', 'xcanary\u0000', gateway.settings.controlCharacterMessage],
      ['a C1 control', 'xcanary\u0085', gateway.settings.controlCharacterMessage],
      ...gateway.settings.hostileCredentials,
    ];
    it.each(hostileCredentials)('should refuse every credential that is %s, without quoting it', (_name, value, message) => {
      for (const key of credentialSettings) {
        expect(issuesOf({ ...base, [key]: value }), key).toEqual({ [key]: message });
        expect(JSON.stringify(gateway.validateSettings({ ...base, [key]: value }))).not.toContain('xcanary');
      }
      const error = configurationErrorOf(() => create({ ...base, [secretSetting]: value }));
      expect(error.provider).toBe(provider);
      expect(error.path).toBe(secretSetting);
      expect(everyForm(error)).not.toContain('xcanary');
    });

    it('should refuse every credential that is empty, naming the setting', () => {
      for (const key of credentialSettings) {
        expect(issuesOf({ ...base, [key]: '' }), key).toEqual({ [key]: gateway.settings.emptyCredentialMessages[key] });
      }
      const error = configurationErrorOf(() => create({ ...base, [secretSetting]: '' }));
      expect(error.provider).toBe(provider);
      expect(error.path).toBe(secretSetting);
    });

    it('should accept credentials of exactly 1024 characters', () => {
      expect(issuesOf({ ...base, ...Object.fromEntries(credentialSettings.map((key) => [key, 'k'.repeat(1024)])) })).toEqual({});
    });

    it('should refuse credentials with surrounding whitespace (a copy-paste slip), without quoting them', () => {
      for (const key of credentialSettings) {
        for (const value of [` ${String(base[key])}`, `${String(base[key])} `]) {
          expect(issuesOf({ ...base, [key]: value }), key).toEqual({ [key]: 'must not start or end with whitespace' });
        }
      }
      const error = configurationErrorOf(() => create({ ...base, [secretSetting]: ` ${String(base[secretSetting])} ` }));
      expect(error.path).toBe(secretSetting);
      expect(everyForm(error)).not.toContain('xcanary');
    });

    it.each([
      ['not a URL', 'xcanary', 'must be an absolute URL'],
      ['credentials in it', `https://user:xcanary@${host}`, 'must not contain credentials'],
      ['a path', `https://${host}/xcanary`, originMessage],
      ['a query', `https://${host}/?key=xcanary`, originMessage],
      ['a fragment', `https://${host}#xcanary`, originMessage],
      ['plain http to a remote host', 'http://xcanary.example', remoteHttpMessage],
      ['plain http to the gateway’s own host', `http://${host}`, remoteHttpMessage],
      ['a file: URL', 'file:///xcanary', 'must be an http(s) URL'],
      ['a javascript: URL', 'javascript:xcanary()', 'must be an http(s) URL'],
      ['a line break', `https://${host}\n`, 'must not contain whitespace or control characters'],
      ['a tab', `https://${host.replace('.', '.\t')}`, 'must not contain whitespace or control characters'],
      ['2 KB and more', `https://${'a'.repeat(4096)}.example`, 'must be at most 2048 characters'],
      ['a number', 443, 'must be a string'],
    ])('should refuse a baseUrl with %s', (_name, baseUrl, message) => {
      expect(issuesOf({ ...base, baseUrl })).toEqual({ baseUrl: message });
      expect(JSON.stringify(gateway.validateSettings({ ...base, baseUrl }))).not.toContain('xcanary');
    });

    it.each(['http://127.0.0.1:8080', 'http://127.1.2.3', 'http://127.9.9.9', 'http://localhost:3000', 'http://[::1]:3000'])(
      'should allow plain http on the loopback host %s',
      (baseUrl) => {
        expect(create({ ...base, baseUrl }).baseUrl).toBe(new URL(baseUrl).origin);
      },
    );

    it('should use the default host without a baseUrl, normalised to an origin', () => {
      expect(create(gateway.validSettings).baseUrl).toBe(defaultBaseUrl);
      expect(create({ ...base, baseUrl: `${defaultBaseUrl.toUpperCase().replace('HTTPS', 'https')}/` }).baseUrl).toBe(defaultBaseUrl);
    });

    it('should refuse settings that are not an object', () => {
      for (const settings of [null, undefined, 42, 'xcanary', [gateway.validSettings]]) {
        expect(gateway.validateSettings(settings)).toEqual([{ path: '', message: 'must be an object' }]);
      }
    });

    it('should refuse an unknown key such as baseURL, with a did-you-mean for near misses and never its value', () => {
      const nearMisses = Object.fromEntries(credentialSettings.map((key) => [snakeCase(key), 'xcanary']));
      const settings = { ...base, baseURL: 'http://127.0.0.1:9', ...nearMisses, region: 'xcanary' };
      expect(issuesOf(settings)).toEqual({
        baseURL: 'unknown setting; did you mean "baseUrl"?',
        ...Object.fromEntries(credentialSettings.map((key) => [snakeCase(key), `unknown setting; did you mean "${key}"?`])),
        region: expect.stringMatching(/^unknown setting; the settings are: /),
      });
      const issues = gateway.validateSettings(settings);
      const error = configurationErrorOf(() => create(settings));
      expect(error.message).toBe(
        `[${provider}] Invalid configuration:\n${issues.map((issue) => `  ${issue.path}: ${issue.message}`).join('\n')}`,
      );
      expect(configurationErrorOf(() => create({ ...base, baseURL: 'http://127.0.0.1:9' })).message).toBe(
        `[${provider}] Invalid configuration: baseURL: unknown setting; did you mean "baseUrl"?`,
      );
      expect(everyForm(error)).not.toMatch(/127\.0\.0\.1|xcanary/);
      const registryError = configurationErrorOf(() =>
        createMerchantRegistry({
          providers: { [provider]: gateway.createProvider },
          merchants: { 'shop-1': { provider, ...settings } },
        }),
      );
      expect(registryError.issues.map((issue) => issue.path)).toEqual(issues.map((issue) => `merchants.shop-1.${issue.path}`));
    });

    it('should refuse __proto__ and constructor keys in settings and pollute nothing', () => {
      const settings = JSON.parse(
        JSON.stringify(base).replace(
          /}$/,
          `,"__proto__": {"polluted": true, "baseUrl": "http://evil.example"}, "constructor": {"prototype": {"polluted": true}}}`,
        ),
      );
      expect(gateway.validateSettings(settings)).toEqual([
        { path: '__proto__', message: reservedMessage },
        { path: 'constructor', message: reservedMessage },
      ]);
      expect(() => create(settings)).toThrowError(/__proto__/);
      expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    });

    it('should read own settings only: an inherited baseUrl is never used, a prototype-less object works', () => {
      const inherits = Object.assign(Object.create({ baseUrl: 'http://evil.example', environment: 'production' }), gateway.validSettings);
      expect(create(inherits).baseUrl).toBe(defaultBaseUrl);
      expect(create(Object.assign(Object.create(null), gateway.validSettings)).baseUrl).toBe(defaultBaseUrl);
      expect(create(Object.assign(Object.create(null), { ...base, baseUrl: 'http://127.0.0.1:1' })).baseUrl).toBe('http://127.0.0.1:1');
    });

    it('should use the value it validated, even from a getter that answers differently the second time', () => {
      let reads = 0;
      const settings = {
        ...base,
        get baseUrl() {
          reads += 1;
          return reads === 1 ? 'http://127.0.0.1:1' : 'http://evil.example';
        },
      };
      expect(create(settings).baseUrl).toBe('http://127.0.0.1:1');
    });

    it('should answer any settings value with a provider or a ConfigurationError, never another error', () => {
      const value = fc.oneof(fc.string({ maxLength: 40 }), fc.anything({ withNullPrototype: true, withBigInt: true, withMap: true }));
      const known = gateway.settings.settingArbitraries(fc);
      const names = [...new Set([...Object.keys(base), ...Object.keys(known), 'baseUrl'])];
      const arbitraryOf = (name: string): Arbitrary<unknown> =>
        name === 'baseUrl'
          ? fc.oneof(value, fc.webUrl(), fc.constant('http://127.0.0.1:1'))
          : fc.oneof(value, known[name] ?? fc.constant(base[name]));
      const valid = gateway.validSettings as Record<string, unknown>;
      const settings = fc.oneof(
        fc.anything({ withNullPrototype: true, withObjectString: true, withBigInt: true }),
        fc.record(Object.fromEntries(names.map((name) => [name, arbitraryOf(name)])), { requiredKeys: [] }),
        fc.dictionary(fc.constantFrom(...names, '__proto__', 'constructor', 'prototype'), value),
        // Mostly valid settings, so providers are made too and the property is not only about refusals.
        fc.record(
          Object.fromEntries(
            Object.keys(valid).map((name) => [
              name,
              credentialSettings.includes(name) ? fc.string({ minLength: 1, maxLength: 40 }) : (known[name] ?? fc.constant(valid[name])),
            ]),
          ),
        ),
      );
      let providers = 0;
      fc.assert(
        fc.property(settings, (candidate) => {
          try {
            expect(create(candidate).baseUrl).toMatch(/^https:\/\/|^http:\/\/(127\.|localhost|\[::1\])/);
            providers += 1;
          } catch (error) {
            if (!isConfigurationError(error)) throw error;
            expect(error.issues.length).toBeGreaterThan(0);
          }
          expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('polluted');
        }),
        { numRuns: 1000 },
      );
      expect(providers).toBeGreaterThan(0);
      // 1,000 random settings: seconds on a loaded 2-core machine, not a time limit on the behaviour.
    }, 30_000);

    it('should reject hostile merchants from a JSON configuration with the merchant, provider and path', async () => {
      const hostile = { ...gateway.settingsFor(`http://${host}`), [secretSetting]: { $env: 'SECRET' } };
      const { merchants } = await loadMerchantConfig(
        JSON.parse(
          JSON.stringify({ merchants: { 'shop-1': { provider, ...hostile }, 'shop-ok': { provider, ...gateway.validSettings } } }),
        ),
        { env: { SECRET: 'xcanary\r\n' } },
      );
      const error = configurationErrorOf(() => createMerchantRegistry({ providers: { [provider]: gateway.createProvider }, merchants }));
      expect(error.issues).toEqual([
        { path: `merchants.shop-1.${secretSetting}`, message: gateway.settings.controlCharacterMessage, merchant: 'shop-1', provider },
        { path: 'merchants.shop-1.baseUrl', message: remoteHttpMessage, merchant: 'shop-1', provider },
      ]);
      expect(error.message).toMatch(new RegExp(`^\\[${provider}, merchant shop-1\\] Invalid configuration:`));
      expect(everyForm(error)).not.toContain('xcanary');
    });
  });
}
