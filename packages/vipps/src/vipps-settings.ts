import { ConfigurationError, type ConfigurationIssue } from '@x/core';
import { baseUrlProblem, checkProviderSettings, settingLimits } from '@x/core/provider';
import * as v from 'valibot';
import {
  merchantSerialNumberPattern,
  type VippsEnvironment,
  VippsHeader,
  type VippsTokenEndpoint,
  vippsBaseUrls,
  vippsSystemHeaderMaxLength,
  vippsTokenPaths,
} from './vipps-api-types.js';

/** Settings of {@link createVippsProvider}. Set `environment` or `baseUrl`: there is no default host. */
export interface VippsProviderSettings {
  /**
   * The `client_id` from portal.vippsmobilepay.com ("the username"). Printable Latin-1, at most 1024 characters, no
   * surrounding whitespace; no `:` with `tokenEndpoint: 'partner'`.
   */
  clientId: string;
  /**
   * The `client_secret` ("the password"). Printable Latin-1 (it is sent in a header), at most 1024 characters, no
   * surrounding whitespace. Never logged.
   */
  clientSecret: string;
  /**
   * The `Ocp-Apim-Subscription-Key`, sent on the token call and on every API call. No surrounding whitespace. Never logged.
   * Required for `tokenEndpoint: 'accesstoken'`; optional (and not sent on the token call) for `'partner'`.
   */
  subscriptionKey?: string | undefined;
  /** The `Merchant-Serial-Number` (4–6 digits) of the sales unit; sent on every call when set. */
  merchantSerialNumber?: string | undefined;
  /** `Vipps-System-Name`: your e-commerce solution, at most 30 characters. */
  systemName?: string | undefined;
  /** `Vipps-System-Version`, at most 30 characters. */
  systemVersion?: string | undefined;
  /** `Vipps-System-Plugin-Name`, at most 30 characters. */
  pluginName?: string | undefined;
  /** `Vipps-System-Plugin-Version`, at most 30 characters. */
  pluginVersion?: string | undefined;
  /** `test` (https://apitest.vipps.no) or `production` (https://api.vipps.no). Required unless `baseUrl` is set. */
  environment?: VippsEnvironment | undefined;
  /**
   * The API origin, e.g. an emulator or a proxy. Required unless `environment` is set; when both are set they must
   * agree. An origin without credentials, path, query or fragment; plain `http:` only on a loopback host
   * (`localhost`, 127.0.0.0/8, `[::1]`).
   */
  baseUrl?: string | undefined;
  /**
   * Which token endpoint to call: `accesstoken` (`POST /accesstoken/get`, credentials in headers) or `partner`
   * (`POST /miami/v1/token`, OAuth 2.0 client credentials: `Authorization: Basic`, `grant_type=client_credentials`).
   * @default 'accesstoken'
   */
  tokenEndpoint?: VippsTokenEndpoint | undefined;
}

/** Settings after validation, defaults filled. */
export interface ResolvedVippsSettings {
  /** The `client_id`. */
  clientId: string;
  /** The `client_secret`. A secret: never log this object. */
  clientSecret: string;
  /** The `Ocp-Apim-Subscription-Key`, when set. A secret. */
  subscriptionKey: string | undefined;
  /** The `Merchant-Serial-Number`, when set. */
  merchantSerialNumber: string | undefined;
  /** The environment, when it was given by name (not derived from `baseUrl`). */
  environment: VippsEnvironment | undefined;
  /** An origin, without a trailing slash. */
  baseUrl: string;
  /** Which token endpoint to call, `accesstoken` unless set. */
  tokenEndpoint: VippsTokenEndpoint;
  /** The `Vipps-System-*` headers that are set, under their documented names. */
  systemHeaders: Readonly<Record<string, string>>;
}

const systemSettings = [
  ['systemName', VippsHeader.SystemName],
  ['systemVersion', VippsHeader.SystemVersion],
  ['pluginName', VippsHeader.SystemPluginName],
  ['pluginVersion', VippsHeader.SystemPluginVersion],
] as const;

// Messages never quote the value: valibot's defaults do, and a value may be a secret.
const headerValue = (emptyMessage: string) =>
  v.pipe(
    v.string('must be a string'),
    v.nonEmpty<string, string>(emptyMessage),
    // Fetch rejects such a header with an error that quotes the value: stop it here, where nothing is quoted.
    v.regex(/^[\u0020-\u007e\u00a0-\u00ff\t]*$/, 'must only hold printable Latin-1 characters (no line breaks)'),
  );

const optionalEmpty = 'must not be empty (leave the setting out instead)';

const credential = (emptyMessage: string) =>
  v.pipe(
    headerValue(emptyMessage),
    v.maxLength(settingLimits.credentialMaxLength, `must be at most ${settingLimits.credentialMaxLength} characters`),
    // Fetch trims a header value, so the gateway would get another credential than the one given, and refuse it for ever.
    v.check((value) => value.trim() === value, 'must not start or end with whitespace'),
  );

const systemHeader = v.pipe(
  headerValue(optionalEmpty),
  v.maxLength(vippsSystemHeaderMaxLength, `must be at most ${vippsSystemHeaderMaxLength} characters`),
);

const settingsSchema = v.object({
  clientId: credential('must not be empty'),
  clientSecret: credential('must not be empty'),
  subscriptionKey: v.optional(credential(optionalEmpty)),
  merchantSerialNumber: v.optional(
    v.pipe(v.string('must be a string of 4 to 6 digits'), v.regex(merchantSerialNumberPattern, 'must be 4 to 6 digits')),
  ),
  systemName: v.optional(systemHeader),
  systemVersion: v.optional(systemHeader),
  pluginName: v.optional(systemHeader),
  pluginVersion: v.optional(systemHeader),
  environment: v.optional(v.picklist(['test', 'production'], "must be 'test' or 'production'")),
  baseUrl: v.optional(v.string('must be a string')),
  tokenEndpoint: v.optional(v.picklist(['accesstoken', 'partner'], "must be 'accesstoken' or 'partner'")),
});

/**
 * Checks Vipps settings and returns every problem at once, paths relative to the settings object (e.g.
 * `clientSecret`); an empty array means the settings are valid. Messages never contain a value.
 *
 * @example
 * const issues = validateVippsSettings(config.merchants.oslo);
 * for (const issue of issues) console.error(`merchants.oslo.${issue.path}: ${issue.message}`);
 */
export function validateVippsSettings(settings: unknown): ConfigurationIssue[] {
  return check(settings).issues;
}

/**
 * Validates settings and fills defaults.
 *
 * @throws {@link @x/core!"@x/core".ConfigurationError | ConfigurationError} naming every bad setting, never its value.
 */
export function resolveVippsSettings(settings: VippsProviderSettings): ResolvedVippsSettings {
  const { issues, resolved } = check(settings);
  if (resolved === undefined) throw new ConfigurationError({ provider: 'vipps', issues });
  return resolved;
}

function check(settings: unknown): { issues: ConfigurationIssue[]; resolved?: ResolvedVippsSettings } {
  // Own properties only, read once: an inherited `baseUrl` (a polluted `Object.prototype`) is never a setting, and
  // what is validated is what is used.
  const { issues, own: input } = checkProviderSettings(settingsSchema, settings);
  if (input === undefined) return { issues };
  const has = (key: string): boolean => input[key] !== undefined;
  const failed = (key: string): boolean => issues.some((issue) => issue.path === key);
  const tokenEndpoint = (input.tokenEndpoint ?? 'accesstoken') as VippsTokenEndpoint;
  if (tokenEndpoint === 'accesstoken' && !has('subscriptionKey')) {
    issues.push({ path: 'subscriptionKey', message: "required for tokenEndpoint 'accesstoken'" });
  }
  // The partner endpoint gets `client_id:client_secret` as it is, in Basic: the gateway reads the id up to the first colon.
  if (tokenEndpoint === 'partner' && !failed('clientId') && String(input.clientId).includes(':')) {
    issues.push({
      path: 'clientId',
      message: "must not contain ':' for tokenEndpoint 'partner' (the Basic credential splits at the first colon)",
    });
  }

  let baseUrl: string | undefined;
  const environment = input.environment as VippsEnvironment | undefined;
  if (!has('environment') && !has('baseUrl')) {
    issues.push({ path: 'environment', message: "required: set 'test' or 'production' (or set baseUrl)" });
  }
  if (has('baseUrl') && !failed('baseUrl')) {
    const problem = baseUrlProblem(input.baseUrl as string);
    if (problem !== undefined) issues.push({ path: 'baseUrl', message: problem });
    else baseUrl = new URL(input.baseUrl as string).origin;
  }
  if (environment !== undefined && !failed('environment')) {
    const expected = vippsBaseUrls[environment];
    if (baseUrl === undefined) baseUrl = has('baseUrl') ? undefined : expected;
    else if (baseUrl !== expected) {
      issues.push({ path: 'baseUrl', message: `does not match environment '${environment}' (${expected}); set only one of them` });
    }
  }

  if (issues.length > 0 || baseUrl === undefined) return { issues };
  const valid = input as unknown as VippsProviderSettings;
  const systemHeaders: Record<string, string> = {};
  for (const [key, header] of systemSettings) {
    const value = valid[key];
    if (value !== undefined) systemHeaders[header] = value;
  }
  return {
    issues,
    resolved: {
      clientId: valid.clientId,
      clientSecret: valid.clientSecret,
      subscriptionKey: valid.subscriptionKey,
      merchantSerialNumber: valid.merchantSerialNumber,
      environment: valid.environment,
      baseUrl,
      tokenEndpoint,
      systemHeaders: Object.freeze(systemHeaders),
    },
  };
}

/** The URL of the token endpoint for resolved settings. */
export function tokenUrlOf(settings: Pick<ResolvedVippsSettings, 'baseUrl' | 'tokenEndpoint'>): string {
  return settings.baseUrl + vippsTokenPaths[settings.tokenEndpoint];
}
