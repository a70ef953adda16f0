import { ConfigurationError, type ConfigurationIssue } from '@x/core';
import { baseUrlProblem, checkProviderSettings, hasControlCharacter, settingLimits } from '@x/core/provider';
import * as v from 'valibot';
import { portOneDefaultBaseUrl } from './portone-api-types.js';

/** How the provider authorises API calls: `token` (a login, then rotating refresh tokens) or `static` (the secret itself). */
export type PortOneMode = 'token' | 'static';

/** Settings of {@link createPortOneProvider}. */
export interface PortOneProviderSettings {
  /** The V2 API secret from PortOne's console. Visible ASCII, at most 1024 characters. Never logged or shown in errors. */
  apiSecret: string;
  /**
   * The API origin, without credentials, path, query or fragment. `https` is required, except on a loopback host
   * (`localhost`, 127.0.0.0/8, `[::1]`: an emulator).
   * @default 'https://api.portone.io'
   */
  baseUrl?: string | undefined;
  /**
   * `token`: exchange the secret for 30-minute access tokens, refreshed with the rotating refresh token.
   * `static`: send `Authorization: PortOne <apiSecret>` on every call, as PortOne's own server SDK does; no token.
   * @default 'token'
   */
  mode?: PortOneMode | undefined;
}

const credentialSchema = v.pipe(
  v.string('must be a string'),
  v.nonEmpty('required'),
  v.maxLength(settingLimits.credentialMaxLength, `must be at most ${settingLimits.credentialMaxLength} characters`),
  v.check((value) => !hasControlCharacter(value), 'must not contain control characters (line breaks, NUL, …)'),
  v.check((value) => value.trim() === value, 'must not start or end with whitespace'),
  // In static mode it is an `Authorization` value: fetch would throw a TypeError quoting anything else.
  v.regex(/^[\x21-\x7e]+$/, 'must be visible ASCII, without spaces'),
);

const baseUrlSchema = v.pipe(
  v.string('must be a string'),
  v.rawCheck(({ dataset, addIssue }) => {
    const problem = dataset.typed ? baseUrlProblem(dataset.value) : undefined;
    if (problem !== undefined) addIssue({ message: problem });
  }),
);

/** The settings as valibot checks them; messages never quote a value. */
const portOneSettingsSchema = v.object(
  {
    apiSecret: credentialSchema,
    baseUrl: v.optional(baseUrlSchema),
    mode: v.optional(v.picklist(['token', 'static'], "must be 'token' or 'static'")),
  },
  'must be an object',
);

/**
 * Every problem with a set of PortOne settings, paths relative to the settings (`apiSecret`), so a registry can
 * report all merchants' problems together. Empty when the settings are usable. Messages never quote a value.
 *
 * @example
 * validatePortOneSettings({ mode: 'static' }) // [{ path: 'apiSecret', message: 'required' }]
 */
export function validatePortOneSettings(settings: unknown): ConfigurationIssue[] {
  return checkProviderSettings(portOneSettingsSchema, settings).issues;
}

/** Validates the settings and fills the defaults; throws a `ConfigurationError` naming every bad setting. */
export function resolvePortOneSettings(settings: PortOneProviderSettings): { apiSecret: string; baseUrl: string; mode: PortOneMode } {
  // What was checked is what is used: the schema's output from a copy of the own properties.
  const { issues, output: valid } = checkProviderSettings(portOneSettingsSchema, settings);
  if (valid === undefined) throw new ConfigurationError({ provider: 'portone', issues });
  const baseUrl = valid.baseUrl === undefined ? portOneDefaultBaseUrl : new URL(valid.baseUrl).origin;
  return { apiSecret: valid.apiSecret, baseUrl, mode: valid.mode ?? 'token' };
}
