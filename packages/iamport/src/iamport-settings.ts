import { ConfigurationError, type ConfigurationIssue } from '@x/core';
import * as v from 'valibot';

/** The i'mport API origin merchants call in production. */
export const iamportDefaultBaseUrl = 'https://api.iamport.kr';

/** Settings of {@link createIamportProvider}. */
export interface IamportProviderSettings {
  /** The REST API key from the i'mport admin console (`imp_key`). */
  impKey: string;
  /** The REST API secret from the i'mport admin console (`imp_secret`). Never logged or shown in errors. */
  impSecret: string;
  /**
   * The API origin. `https` is required, except for `localhost`/`127.0.0.1`/`[::1]` (an emulator).
   * @default 'https://api.iamport.kr'
   */
  baseUrl?: string | undefined;
}

/** Settings after validation, with defaults filled in and `baseUrl` normalised to an origin. */
export interface ResolvedIamportSettings {
  impKey: string;
  impSecret: string;
  baseUrl: string;
}

const loopbackHosts = new Set(['localhost', '127.0.0.1', '[::1]']);

function parseUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

const credentialSchema = v.pipe(
  v.string('must be a string'),
  v.nonEmpty('required'),
  v.check((value) => value.trim() === value, 'must not start or end with whitespace'),
);

const baseUrlSchema = v.pipe(
  v.string('must be a string'),
  v.check((value) => parseUrl(value) !== undefined, 'must be an absolute URL'),
  v.check((value) => {
    const url = parseUrl(value)!;
    return url.protocol === 'https:' || (url.protocol === 'http:' && loopbackHosts.has(url.hostname));
  }, 'must use https (http is allowed for localhost only)'),
  v.check((value) => {
    const url = parseUrl(value)!;
    return url.username === '' && url.password === '' && url.search === '' && url.hash === '' && /^\/?$/.test(url.pathname);
  }, 'must be an origin, e.g. https://api.iamport.kr, without path, query or credentials'),
);

/**
 * The valibot schema of {@link IamportProviderSettings}. Its messages never quote the value they reject, so an
 * issue can be logged even when the value is a secret.
 */
export const iamportSettingsSchema = v.object(
  {
    impKey: credentialSchema,
    impSecret: credentialSchema,
    baseUrl: v.optional(baseUrlSchema),
  },
  'must be an object',
);

/**
 * Every problem with a set of i'mport settings, with paths relative to the settings object (`impSecret`), so a
 * registry can prefix them and report all merchants' problems together. Empty when the settings are usable.
 *
 * @example
 * validateIamportSettings({ impKey: 'imp_apikey' }) // [{ path: 'impSecret', message: 'required' }]
 */
export function validateIamportSettings(settings: unknown): ConfigurationIssue[] {
  const result = v.safeParse(iamportSettingsSchema, settings, { abortPipeEarly: true });
  if (result.success) return [];
  return result.issues.map((issue) => {
    const path = v.getDotPath(issue) ?? '';
    // A missing key is reported by the object schema with the object's message; say what the user must do.
    const message = path !== '' && issue.input === undefined ? 'required' : issue.message;
    return { path, message };
  });
}

/** Validates the settings and fills the defaults; throws a `ConfigurationError` naming every bad setting. */
export function resolveIamportSettings(settings: IamportProviderSettings): ResolvedIamportSettings {
  const issues = validateIamportSettings(settings);
  if (issues.length > 0) throw new ConfigurationError({ provider: 'iamport', issues });
  const baseUrl = settings.baseUrl === undefined ? iamportDefaultBaseUrl : new URL(settings.baseUrl).origin;
  return { impKey: settings.impKey, impSecret: settings.impSecret, baseUrl };
}
