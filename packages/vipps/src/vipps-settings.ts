import { ConfigurationError, type ConfigurationIssue } from '@x/core';
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
  /** The `client_id` from portal.vippsmobilepay.com ("the username"). */
  clientId: string;
  /** The `client_secret` ("the password"). Never logged. */
  clientSecret: string;
  /**
   * The `Ocp-Apim-Subscription-Key`, sent on the token call and on every API call. Never logged.
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
   * agree. Plain `http:` is only allowed for loopback hosts.
   */
  baseUrl?: string | undefined;
  /**
   * Which token endpoint to call: `accesstoken` (`POST /accesstoken/get`) or `partner` (`POST /miami/v1/token`).
   * @default 'accesstoken'
   */
  tokenEndpoint?: VippsTokenEndpoint | undefined;
}

/** Settings after validation, defaults filled. */
export interface ResolvedVippsSettings {
  clientId: string;
  clientSecret: string;
  subscriptionKey: string | undefined;
  merchantSerialNumber: string | undefined;
  environment: VippsEnvironment | undefined;
  /** An origin, without a trailing slash. */
  baseUrl: string;
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

const systemHeader = v.pipe(
  headerValue(optionalEmpty),
  v.maxLength(vippsSystemHeaderMaxLength, `must be at most ${vippsSystemHeaderMaxLength} characters`),
);

const settingsSchema = v.object({
  clientId: headerValue('must not be empty'),
  clientSecret: headerValue('must not be empty'),
  subscriptionKey: v.optional(headerValue(optionalEmpty)),
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

const loopbackHosts = new Set(['localhost', '127.0.0.1', '[::1]']);

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

/** Validates settings and fills defaults; throws a `ConfigurationError` naming every bad setting. */
export function resolveVippsSettings(settings: VippsProviderSettings): ResolvedVippsSettings {
  const { issues, resolved } = check(settings);
  if (resolved === undefined) throw new ConfigurationError({ provider: 'vipps', issues });
  return resolved;
}

function check(settings: unknown): { issues: ConfigurationIssue[]; resolved?: ResolvedVippsSettings } {
  if (typeof settings !== 'object' || settings === null) {
    return { issues: [{ path: '', message: 'settings must be an object' }] };
  }
  const result = v.safeParse(settingsSchema, settings);
  const issues: ConfigurationIssue[] = result.success
    ? []
    : result.issues.map((issue) => ({ path: v.getDotPath(issue) ?? '', message: issue.message }));
  const input = settings as Record<string, unknown>;
  const has = (key: string): boolean => input[key] !== undefined;
  const failed = (key: string): boolean => issues.some((issue) => issue.path === key);

  for (const key of ['clientId', 'clientSecret'] as const) {
    if (!has(key)) replaceIssue(issues, key, 'required');
  }
  const tokenEndpoint = (input.tokenEndpoint ?? 'accesstoken') as VippsTokenEndpoint;
  if (tokenEndpoint === 'accesstoken' && !has('subscriptionKey')) {
    issues.push({ path: 'subscriptionKey', message: "required for tokenEndpoint 'accesstoken'" });
  }

  let baseUrl: string | undefined;
  const environment = input.environment as VippsEnvironment | undefined;
  if (!has('environment') && !has('baseUrl')) {
    issues.push({ path: 'environment', message: "required: set 'test' or 'production' (or set baseUrl)" });
  }
  if (has('baseUrl') && !failed('baseUrl')) {
    const parsed = parseBaseUrl(input.baseUrl as string);
    if (typeof parsed === 'string') issues.push({ path: 'baseUrl', message: parsed });
    else baseUrl = parsed.origin;
  }
  if (environment !== undefined && !failed('environment')) {
    const expected = vippsBaseUrls[environment];
    if (baseUrl === undefined) baseUrl = has('baseUrl') ? undefined : expected;
    else if (new URL(baseUrl).origin !== expected) {
      issues.push({ path: 'baseUrl', message: `does not match environment '${environment}' (${expected}); set only one of them` });
    }
  }

  if (issues.length > 0 || baseUrl === undefined) return { issues };
  const valid = settings as VippsProviderSettings;
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

function replaceIssue(issues: ConfigurationIssue[], path: string, message: string): void {
  const index = issues.findIndex((issue) => issue.path === path);
  if (index === -1) issues.push({ path, message });
  else issues[index] = { path, message };
}

function parseBaseUrl(value: string): URL | string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute URL';
  }
  if (url.username !== '' || url.password !== '') return 'must not contain credentials';
  // API calls resolve paths such as `/epayment/v1/…` against the origin, so a path prefix would not be honoured.
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '') {
    return 'must be an origin without path, query or fragment (e.g. https://apitest.vipps.no)';
  }
  if (url.protocol === 'https:') return url;
  // client_secret travels in a header: plain HTTP is for a local emulator only.
  if (url.protocol === 'http:' && loopbackHosts.has(url.hostname)) return url;
  return url.protocol === 'http:' ? 'must use https (http is allowed for localhost only)' : 'must be an http(s) URL';
}

/** The URL of the token endpoint for resolved settings. */
export function tokenUrlOf(settings: Pick<ResolvedVippsSettings, 'baseUrl' | 'tokenEndpoint'>): string {
  return settings.baseUrl + vippsTokenPaths[settings.tokenEndpoint];
}
