import { ConfigurationError, type ConfigurationIssue } from '@x/core';
import { baseUrlProblem, checkProviderSettings, hasControlCharacter, settingLimits } from '@x/core/provider';
import * as v from 'valibot';

/** The i'mport API origin merchants call in production. */
export const iamportDefaultBaseUrl = 'https://api.iamport.kr';

/** Settings of {@link createIamportProvider}. */
export interface IamportProviderSettings {
  /** The REST API key from the i'mport admin console (`imp_key`). At most 1024 characters. */
  impKey: string;
  /** The REST API secret from the i'mport admin console (`imp_secret`). At most 1024 characters. Never logged or shown in errors. */
  impSecret: string;
  /**
   * The API origin, without credentials, path, query or fragment. `https` is required, except on a loopback host
   * (`localhost`, 127.0.0.0/8, `[::1]`: an emulator).
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

const credentialSchema = v.pipe(
  v.string('must be a string'),
  v.nonEmpty('required'),
  v.maxLength(settingLimits.credentialMaxLength, `must be at most ${settingLimits.credentialMaxLength} characters`),
  v.check((value) => !hasControlCharacter(value), 'must not contain control characters (line breaks, NUL, …)'),
  v.check((value) => value.trim() === value, 'must not start or end with whitespace'),
);

const baseUrlSchema = v.pipe(
  v.string('must be a string'),
  v.rawCheck(({ dataset, addIssue }) => {
    const problem = dataset.typed ? baseUrlProblem(dataset.value) : undefined;
    if (problem !== undefined) addIssue({ message: problem });
  }),
);

/**
 * The valibot schema of {@link IamportProviderSettings}. Its messages never quote the value they reject, so an
 * issue can be logged even when the value is a secret.
 */
export const iamportSettingsSchema = v.object(
  {
    /** Non-empty, at most 1024 characters, no control characters or surrounding whitespace. */
    impKey: credentialSchema,
    /** Checked like `impKey`. */
    impSecret: credentialSchema,
    /** An origin without credentials, path, query or fragment; `https` except on a loopback host. */
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
  return checkProviderSettings(iamportSettingsSchema, settings).issues;
}

/** Validates the settings and fills the defaults; throws a `ConfigurationError` naming every bad setting. */
export function resolveIamportSettings(settings: IamportProviderSettings): ResolvedIamportSettings {
  // What was checked is what is used: the schema's output from a copy of the own properties.
  const { issues, output: valid } = checkProviderSettings(iamportSettingsSchema, settings);
  if (valid === undefined) throw new ConfigurationError({ provider: 'iamport', issues });
  const baseUrl = valid.baseUrl === undefined ? iamportDefaultBaseUrl : new URL(valid.baseUrl).origin;
  return { impKey: valid.impKey, impSecret: valid.impSecret, baseUrl };
}
