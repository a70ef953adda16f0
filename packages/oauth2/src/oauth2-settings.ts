import { ConfigurationError, type ConfigurationIssue } from '@x/core';
import { baseUrlProblem, checkProviderSettings, durationProblem, hasControlCharacter, settingLimits } from '@x/core/provider';
import * as v from 'valibot';
import {
  type ClientAuthMethod,
  clientAuthMethods,
  type OAuth2Preset,
  type PayPalEnvironment,
  paypalBaseUrls,
  paypalDebugIdHeader,
  paypalTokenPath,
} from './oauth2-api-types.js';

/**
 * Settings of {@link createClientCredentialsProvider}: `tokenUrl` and `baseUrl`, or `preset: 'paypal'` with an
 * `environment` (or a `baseUrl`, e.g. an emulator).
 */
export interface ClientCredentialsProviderSettings {
  /** The `client_id`. Not secret; at most 1024 characters, no control characters, no surrounding whitespace. */
  clientId: string;
  /** The `client_secret`. Never logged; at most 1024 characters, no control characters, no surrounding whitespace. */
  clientSecret: string;
  /**
   * The token endpoint, e.g. `https://auth.example.com/oauth2/token`: `https` (plain `http` on a loopback host only),
   * without credentials or fragment. The only place the client secret is sent. Required unless `preset` is set
   * (PayPal's is `{baseUrl}/v1/oauth2/token`).
   */
  tokenUrl?: string | undefined;
  /**
   * The origin of the API the tokens are for, the only one they are sent to; it may differ from `tokenUrl`'s.
   * Required unless `preset` and `environment` are set; when both are, they must agree.
   */
  baseUrl?: string | undefined;
  /** A gateway the provider knows: `'paypal'` fills in its token URL, hosts, Basic credential and debug header. */
  preset?: OAuth2Preset | undefined;
  /** With `preset: 'paypal'`: `'sandbox'` (https://api-m.sandbox.paypal.com) or `'live'` (https://api-m.paypal.com). */
  environment?: PayPalEnvironment | undefined;
  /** The `scope` to ask for: scope tokens separated by single spaces (RFC 6749 §3.3). @default undefined (not sent) */
  scope?: string | undefined;
  /** The `audience` to ask for, for servers that issue one token per API (Auth0 and others). @default undefined (not sent) */
  audience?: string | undefined;
  /**
   * How the client authenticates, see {@link ClientAuthMethod}.
   * @default 'client_secret_basic' ('client_secret_basic_unencoded' with `preset: 'paypal'`, as PayPal documents)
   */
  authMethod?: ClientAuthMethod | undefined;
  /**
   * How long a token lives when the answer has no `expires_in` (RFC 6749 §5.1 makes it optional), 1 to 2^31−1 ms.
   * @default undefined: such an answer is a `ConfigurationError` naming this setting, never a guess
   */
  defaultLifetimeMs?: number | undefined;
  /**
   * Response headers copied (redacted) into the `diagnostics` and message of a token request's errors, e.g. a
   * request id for the server's support. At most 10 names.
   * @default [] (['paypal-debug-id'] with `preset: 'paypal'`)
   */
  diagnosticHeaders?: readonly string[] | undefined;
}

/** Settings after validation, defaults filled. A secret: never log this object. */
export interface ResolvedClientCredentialsSettings {
  clientId: string;
  clientSecret: string;
  tokenUrl: string;
  baseUrl: string;
  preset: OAuth2Preset | undefined;
  environment: PayPalEnvironment | undefined;
  scope: string | undefined;
  audience: string | undefined;
  authMethod: ClientAuthMethod;
  defaultLifetimeMs: number | undefined;
  /** Lower case. */
  diagnosticHeaders: readonly string[];
}

// Messages never quote the value: it may be a secret.
const text = (limit: number, emptyMessage: string) =>
  v.pipe(
    v.string('must be a string'),
    v.nonEmpty<string, string>(emptyMessage),
    v.maxLength(limit, `must be at most ${limit} characters`),
    v.check((value) => !hasControlCharacter(value), 'must not contain control characters'),
  );
const credential = v.pipe(
  text(settingLimits.credentialMaxLength, 'must not be empty'),
  v.check((value) => value.trim() === value, 'must not start or end with whitespace'),
);
/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), separated by single spaces. */
const scopePattern = /^[\x21\x23-\x5b\x5d-\x7e]+(?: [\x21\x23-\x5b\x5d-\x7e]+)*$/;

const settingsSchema = v.object({
  clientId: credential,
  clientSecret: credential,
  tokenUrl: v.optional(v.string('must be a string')),
  baseUrl: v.optional(v.string('must be a string')),
  preset: v.optional(v.picklist(['paypal'], "must be 'paypal'")),
  environment: v.optional(v.picklist(['sandbox', 'live'], "must be 'sandbox' or 'live'")),
  scope: v.optional(
    v.pipe(
      v.string('must be a string'),
      v.maxLength(settingLimits.baseUrlMaxLength, `must be at most ${settingLimits.baseUrlMaxLength} characters`),
      v.regex(scopePattern, 'must be scope tokens separated by single spaces (RFC 6749 §3.3)'),
    ),
  ),
  audience: v.optional(text(settingLimits.baseUrlMaxLength, 'must not be empty (leave the setting out instead)')),
  authMethod: v.optional(v.picklist(clientAuthMethods, `must be ${clientAuthMethods.map((name) => `'${name}'`).join(', ')}`)),
  defaultLifetimeMs: v.optional(v.number('must be a number')),
  diagnosticHeaders: v.optional(
    v.pipe(
      v.array(v.pipe(v.string('must be a string'), v.regex(/^[\w!#$%&'*+.^`|~-]{1,64}$/, 'must be a header name'))),
      v.maxLength(10, 'must name at most 10 headers'),
    ),
  ),
});

/**
 * Checks client credentials settings and returns every problem at once, paths relative to the settings object (e.g.
 * `tokenUrl`); an empty array means they are valid. Messages never contain a value.
 *
 * @example
 * const issues = validateClientCredentialsSettings(config.merchants.paypal);
 * for (const issue of issues) console.error(`merchants.paypal.${issue.path}: ${issue.message}`);
 */
export function validateClientCredentialsSettings(settings: unknown): ConfigurationIssue[] {
  return check(settings).issues;
}

/**
 * Validates settings and fills defaults.
 *
 * @throws {@link @x/core!"@x/core".ConfigurationError | ConfigurationError} naming every bad setting, never its value.
 */
export function resolveClientCredentialsSettings(settings: ClientCredentialsProviderSettings): ResolvedClientCredentialsSettings {
  const { issues, resolved } = check(settings);
  if (resolved === undefined) throw new ConfigurationError({ provider: 'oauth2', issues });
  return resolved;
}

function check(settings: unknown): { issues: ConfigurationIssue[]; resolved?: ResolvedClientCredentialsSettings } {
  const { issues, own: input, output } = checkProviderSettings(settingsSchema, settings);
  if (input === undefined) return { issues };
  const has = (key: string): boolean => input[key] !== undefined && !issues.some((issue) => issue.path.split('.')[0] === key);
  const problem = (path: string, message: string | undefined): void => {
    if (message !== undefined) issues.push({ path, message });
  };
  const paypal = input.preset === 'paypal';
  const authMethod = (input.authMethod ?? (paypal ? 'client_secret_basic_unencoded' : 'client_secret_basic')) as ClientAuthMethod;
  if (authMethod === 'client_secret_basic_unencoded' && has('clientId') && String(input.clientId).includes(':')) {
    problem('clientId', "must not contain ':' with authMethod 'client_secret_basic_unencoded' (the server splits at the first colon)");
  }
  if (has('defaultLifetimeMs')) problem('defaultLifetimeMs', durationProblem(input.defaultLifetimeMs, { positive: true }));

  let baseUrl = has('baseUrl') ? originOf(input.baseUrl as string, (message) => problem('baseUrl', message)) : undefined;
  if (has('environment') && !paypal) problem('environment', "only with preset 'paypal'");
  else if (has('environment')) {
    const expected = paypalBaseUrls[input.environment as PayPalEnvironment];
    if (!has('baseUrl')) baseUrl = expected;
    else if (baseUrl !== undefined && baseUrl !== expected) {
      problem('baseUrl', `does not match environment '${String(input.environment)}' (${expected}); set only one of them`);
    }
  }
  if (input.baseUrl === undefined && !(paypal && input.environment !== undefined)) {
    problem(paypal ? 'environment' : 'baseUrl', paypal ? "required: 'sandbox' or 'live' (or set baseUrl)" : 'required: the API origin');
  }
  let tokenUrl: string | undefined;
  if (has('tokenUrl')) tokenUrl = tokenUrlOf(input.tokenUrl as string, (message) => problem('tokenUrl', message));
  else if (input.tokenUrl === undefined && !paypal) problem('tokenUrl', "required (or set preset: 'paypal')");
  else if (paypal && baseUrl !== undefined) tokenUrl = baseUrl + paypalTokenPath;

  if (issues.length > 0 || output === undefined || baseUrl === undefined || tokenUrl === undefined) return { issues };
  const diagnosticHeaders = output.diagnosticHeaders ?? (paypal ? [paypalDebugIdHeader] : []);
  return {
    issues,
    resolved: {
      clientId: output.clientId,
      clientSecret: output.clientSecret,
      tokenUrl,
      baseUrl,
      preset: output.preset,
      environment: output.environment,
      scope: output.scope,
      audience: output.audience,
      authMethod,
      defaultLifetimeMs: output.defaultLifetimeMs,
      diagnosticHeaders: Object.freeze(diagnosticHeaders.map((name) => name.toLowerCase())),
    },
  };
}

function originOf(value: string, report: (message: string | undefined) => void): string | undefined {
  const message = baseUrlProblem(value);
  report(message);
  return message === undefined ? new URL(value).origin : undefined;
}

/**
 * `baseUrl`'s rules but for a path and a query, which a token URL may have (a fragment it may not): the URL,
 * normalised, or `undefined` after reporting what is wrong.
 */
function tokenUrlOf(value: string, report: (message: string | undefined) => void): string | undefined {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {}
  const origin = url?.origin;
  const unusable = url === undefined || origin === 'null' || value.length > settingLimits.baseUrlMaxLength;
  if (unusable || origin === undefined || /\s/.test(value) || hasControlCharacter(value)) {
    report(baseUrlProblem(value) ?? 'must be an absolute http(s) URL');
  } else if (url?.username !== '' || url.password !== '') report('must not contain credentials');
  else if (value.includes('#')) report('must not have a fragment');
  else {
    const message = baseUrlProblem(origin);
    report(message);
    return message === undefined ? url.href : undefined;
  }
  return undefined;
}
