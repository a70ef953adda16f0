/**
 * One error hierarchy for every package of `@x`. Each error has a stable `code`, the `provider` it concerns, the
 * merchant where there is one, and the standard `cause`. Nothing here ever holds a secret or an access token in an
 * enumerable property, so `JSON.stringify`, `util.inspect` and loggers cannot leak one.
 */

const brand = Symbol.for('@x/core.error');

/** Stable error codes. Compare against these, never against messages. */
export const ErrorCode = {
  /** {@link TokenRequestError}: the token endpoint failed, timed out or refused the credentials. */
  TokenRequestFailed: 'X_TOKEN_REQUEST_FAILED',
  /** {@link TokenResponseError}: the token endpoint answered with something that is not a usable token. */
  TokenResponseInvalid: 'X_TOKEN_RESPONSE_INVALID',
  /** {@link ConfigurationError}: settings that cannot work. */
  ConfigurationInvalid: 'X_CONFIGURATION_INVALID',
  /** {@link ForeignOriginError}: a request pointed at another origin than the token's. */
  ForeignOrigin: 'X_FOREIGN_ORIGIN',
  /** {@link UnknownMerchantError}: a merchant id the registry does not know. */
  UnknownMerchant: 'X_UNKNOWN_MERCHANT',
  /** {@link TokenStoreError}: a token store failed, timed out, or held a value that is not a valid token. */
  TokenStoreFailed: 'X_TOKEN_STORE_FAILED',
  /** {@link MerchantResolveError}: a registry's `resolveMerchant` threw, rejected or did not answer in time. */
  MerchantResolveFailed: 'X_MERCHANT_RESOLVE_FAILED',
  /** {@link RegistryClosedError}: a call on a merchant registry after its `close()`. */
  RegistryClosed: 'X_REGISTRY_CLOSED',
} as const;

/** One of the {@link ErrorCode} values; `error.code` is typed with it so a `switch` can be exhaustive. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** What every {@link AuthError} constructor takes besides its message. */
export interface AuthErrorOptions {
  /** Short name of the gateway, e.g. `iamport`. */
  provider?: string | undefined;
  /** Merchant id from the registry, where the error concerns one merchant. */
  merchant?: string | undefined;
  /** The underlying error, kept as the standard `cause` so stack traces and loggers show it. */
  cause?: unknown;
}

/** Base class of every error thrown by `@x` packages. */
export class AuthError extends Error {
  /** The class name, set on the instance so it survives minification and shows in logs. */
  override name = 'AuthError';
  /** Stable code of the error class: compare against {@link ErrorCode}, never against the message. */
  readonly code: ErrorCode;
  /** Short name of the gateway, e.g. `iamport`; undefined when the error concerns no single provider. */
  readonly provider: string | undefined;
  /** Merchant id from the registry, where the error concerns one merchant. */
  readonly merchant: string | undefined;

  /**
   * @param code - One of {@link ErrorCode}.
   * @param message - What went wrong; prefixed with the provider and merchant, and never given a secret.
   * @param options - Provider, merchant and cause.
   */
  constructor(code: ErrorCode, message: string, options: AuthErrorOptions = {}) {
    super(
      label(options.provider, options.merchant === undefined ? [] : [options.merchant]) + message,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.provider = options.provider;
    this.merchant = options.merchant;
    Object.defineProperty(this, brand, { value: code });
  }

  /** A plain, secret-free description, so `JSON.stringify(error)` says something useful. */
  toJSON(): Record<string, unknown> {
    const json: Record<string, unknown> = { name: this.name, code: this.code, message: this.message };
    for (const [key, value] of Object.entries(this)) {
      if (key !== 'name' && key !== 'code' && value !== undefined) json[key] = value;
    }
    return json;
  }
}

/** The prefix of an error's message: `[iamport, merchant shop-kr] `, `[iamport, merchants a1, a2] `, `[iamport] ` or none. */
function label(provider: string | undefined, merchantIds: readonly string[]): string {
  const who = merchantIds.length === 0 ? undefined : `${merchantIds.length === 1 ? 'merchant' : 'merchants'} ${merchantIds.join(', ')}`;
  const parts = [provider, who].filter(Boolean);
  return parts.length === 0 ? '' : `[${parts.join(', ')}] `;
}

/**
 * Names the merchants an error concerns, in place: its `merchant`, and the prefix of its message and stack, as the
 * constructor writes them. An error that names a merchant already, or that is not an `@x` error, is left as it is. In
 * place rather than a copy: each error is made for one request, and everyone it reaches shares those merchants. Not in
 * the package API.
 */
export function nameMerchants(error: unknown, merchantIds: readonly string[]): void {
  if (!isAuthError(error) || error.merchant !== undefined || merchantIds.length === 0) return;
  const unnamed = label(error.provider, []);
  const body = error.message.startsWith(unnamed) ? error.message.slice(unnamed.length) : error.message;
  const message = label(error.provider, merchantIds) + body;
  if (typeof error.stack === 'string') error.stack = error.stack.replace(error.message, message);
  Object.defineProperty(error, 'message', { value: message, enumerable: false, writable: true, configurable: true });
  Object.defineProperty(error, 'merchant', { value: merchantIds.join(', '), enumerable: true, writable: true, configurable: true });
}

/** Why a token request failed, in one word. */
export type TokenRequestFailure =
  /** The gateway answered with an HTTP error status or an error envelope. */
  | 'http'
  /** The gateway rejected the credentials: retrying cannot help until the configuration changes. */
  | 'rejected'
  /** The connection failed or was reset before a response arrived. */
  | 'network'
  /** No response within `requestTimeoutMs`. */
  | 'timeout';

/** What a {@link TokenRequestError} is built from. */
export interface TokenRequestErrorOptions extends AuthErrorOptions {
  /** Why the request failed, in one word. */
  reason: TokenRequestFailure;
  /** Whether asking again later can succeed. */
  retryable: boolean;
  /** HTTP status of the token response, when one arrived. */
  status?: number | undefined;
  /** The gateway's own error code (i'mport's `code`, Vipps' `error`), verbatim. */
  providerCode?: string | number | undefined;
  /** The gateway's own error message, verbatim (i'mport's is often Korean: keep it for their support). */
  providerMessage?: string | undefined;
  /** The raw response. Held outside the error object: it never reaches a log, even `util.inspect` with `showHidden`. */
  response?: Response | undefined;
}

/**
 * The raw responses of token errors, held outside the error objects: a gateway's (or proxy's) response headers may
 * echo what was sent, and not even `util.inspect(error, { showHidden: true })` reaches into a WeakMap.
 */
const rawResponses = new WeakMap<object, Response>();

/** The token endpoint could not be reached, timed out, or answered with an error. */
export class TokenRequestError extends AuthError {
  /** The class name, for logs. */
  override name = 'TokenRequestError';
  /** Why the request failed: an HTTP error, rejected credentials, a network failure or a timeout. */
  readonly reason: TokenRequestFailure;
  /** Whether asking again later can succeed; false when the gateway rejected the credentials. */
  readonly retryable: boolean;
  /** HTTP status of the token response, when one arrived. */
  readonly status: number | undefined;
  /** The gateway's own error code (i'mport's `code`, Vipps' `error`), verbatim. */
  readonly providerCode: string | number | undefined;
  /** The gateway's own error message, verbatim, for the gateway's support. */
  readonly providerMessage: string | undefined;
  constructor(message: string, options: TokenRequestErrorOptions) {
    super(ErrorCode.TokenRequestFailed, message, options);
    this.reason = options.reason;
    this.retryable = options.retryable;
    this.status = options.status;
    this.providerCode = options.providerCode;
    this.providerMessage = options.providerMessage;
    if (options.response !== undefined) rawResponses.set(this, options.response);
  }

  /** The raw response, when one arrived. Held outside the error, so no log, `JSON.stringify` or `util.inspect` shows it. */
  get response(): Response | undefined {
    return rawResponses.get(this);
  }
}

/** What a {@link TokenResponseError} is built from. */
export interface TokenResponseErrorOptions extends AuthErrorOptions {
  /** Dotted path of the field that was wrong, e.g. `response.expired_at`; empty for the body as a whole. */
  field: string;
  /** HTTP status of the response. */
  status?: number | undefined;
  /** The raw response. Held outside the error object: it never reaches a log, even `util.inspect` with `showHidden`. */
  response?: Response | undefined;
}

/** The token endpoint answered, but not with a token this library can trust (HTML, truncated JSON, wrong fields). */
export class TokenResponseError extends AuthError {
  /** The class name, for logs. */
  override name = 'TokenResponseError';
  /** Dotted path of the field that was wrong, e.g. `response.expired_at`; empty for the body as a whole. */
  readonly field: string;
  /** HTTP status of the response. */
  readonly status: number | undefined;
  /** Token responses are never worth retrying at once, but a proxy's HTML page may go away: retry with backoff. */
  readonly retryable = true;
  constructor(message: string, options: TokenResponseErrorOptions) {
    super(ErrorCode.TokenResponseInvalid, message, options);
    this.field = options.field;
    this.status = options.status;
    if (options.response !== undefined) rawResponses.set(this, options.response);
  }

  /** The raw response. Held outside the error, so no log, `JSON.stringify` or `util.inspect` shows it. */
  get response(): Response | undefined {
    return rawResponses.get(this);
  }
}

/** One problem found in a configuration: where, and what is wrong. Never the value itself. */
export interface ConfigurationIssue {
  /** Dotted path of the setting, e.g. `merchants.shop-kr.impSecret`. */
  path: string;
  /** What is wrong with it, e.g. `required`. */
  message: string;
  /** The merchant whose settings these are, in a registry or merchant configuration. */
  merchant?: string | undefined;
  /** The provider the merchant's settings are for, when it is known. */
  provider?: string | undefined;
}

/** What a {@link ConfigurationError} is built from. */
export interface ConfigurationErrorOptions extends AuthErrorOptions {
  /** Every problem found, so a user can fix them all in one go; at least one. */
  issues: readonly ConfigurationIssue[];
}

/** Settings that cannot work: reported when the provider or registry is created, every problem at once. */
export class ConfigurationError extends AuthError {
  /** The class name, for logs. */
  override name = 'ConfigurationError';
  /** Every problem found, each with the path of the setting; never a setting's value. */
  readonly issues: readonly ConfigurationIssue[];

  /** Without a `merchant` or `provider` in the options, takes the one every issue names, if they all name the same. */
  constructor(options: ConfigurationErrorOptions) {
    const lines = options.issues.map((issue) => `${issue.path}: ${issue.message}`);
    const sharedBy = (field: 'merchant' | 'provider'): string | undefined => {
      const values = new Set(options.issues.map((issue) => issue[field]));
      return values.size === 1 ? [...values][0] : undefined;
    };
    super(
      ErrorCode.ConfigurationInvalid,
      lines.length === 1 ? `Invalid configuration: ${lines[0]}` : `Invalid configuration:\n  ${lines.join('\n  ')}`,
      { ...options, merchant: options.merchant ?? sharedBy('merchant'), provider: options.provider ?? sharedBy('provider') },
    );
    this.issues = options.issues;
  }

  /** The first bad setting's path, for the common case of one problem. */
  get path(): string | undefined {
    return this.issues[0]?.path;
  }
}

/** What a {@link ForeignOriginError} is built from. */
export interface ForeignOriginErrorOptions extends AuthErrorOptions {
  /** The origin the request pointed at. */
  origin: string;
  /** The origin the token was issued for. */
  expectedOrigin: string;
}

/** A request pointed at a host the token was not issued for; it was refused before anything was sent. */
export class ForeignOriginError extends AuthError {
  /** The class name, for logs. */
  override name = 'ForeignOriginError';
  /** The origin the request pointed at. */
  readonly origin: string;
  /** The origin the token was issued for (the provider's `baseUrl`). */
  readonly expectedOrigin: string;

  constructor(options: ForeignOriginErrorOptions) {
    super(
      ErrorCode.ForeignOrigin,
      `Refused to send a bearer token to ${options.origin}: tokens are issued for ${options.expectedOrigin} only`,
      options,
    );
    this.origin = options.origin;
    this.expectedOrigin = options.expectedOrigin;
  }
}

/** A merchant id the registry does not know. */
export class UnknownMerchantError extends AuthError {
  /** The class name, for logs. */
  override name = 'UnknownMerchantError';

  /**
   * @param merchant - The id that was asked for; ids are not secret, so the message names it.
   * @param detail - Why, when more can be said than "unknown" (removed, not resolved yet).
   */
  constructor(merchant: string, detail?: string) {
    super(ErrorCode.UnknownMerchant, `Unknown merchant id "${merchant}"${detail === undefined ? '' : `: ${detail}`}`, { merchant });
  }
}

/** Why a {@link MerchantResolveError} happened: the resolver threw or rejected (`failed`), or did not answer in time. */
export type MerchantResolveFailure = 'failed' | 'timeout';

/** What a {@link MerchantResolveError} is built from. */
export interface MerchantResolveErrorOptions extends AuthErrorOptions {
  /** The merchant being resolved. */
  merchant: string;
  /** Why, in one word. */
  reason: MerchantResolveFailure;
}

/**
 * A registry's `resolveMerchant` threw, rejected, or did not answer within `resolveTimeoutMs`. Retryable: the next
 * call for the merchant asks again. The resolver's own error is the `cause`, never quoted in the message (a database
 * error may quote a connection string).
 */
export class MerchantResolveError extends AuthError {
  /** The class name, for logs. */
  override name = 'MerchantResolveError';
  /** Why: `failed` or `timeout`. */
  readonly reason: MerchantResolveFailure;
  /** Always `true`: a later call asks the resolver again. */
  readonly retryable = true;

  constructor(message: string, options: MerchantResolveErrorOptions) {
    super(ErrorCode.MerchantResolveFailed, message, options);
    this.reason = options.reason;
  }
}

/** A call on a merchant registry (or a fetch it handed out) after the registry's `close()`. */
export class RegistryClosedError extends AuthError {
  /** The class name, for logs. */
  override name = 'RegistryClosedError';

  /** @param merchant - The merchant the call was for, when there was one. */
  constructor(merchant?: string) {
    super(ErrorCode.RegistryClosed, 'The merchant registry is closed', { merchant });
  }
}

/** A token store method, as the token cache calls it. */
export type TokenStoreOperation = 'get' | 'set' | 'delete' | 'lock' | 'release' | 'wait';

/** What a {@link TokenStoreError} is built from. */
export interface TokenStoreErrorOptions extends AuthErrorOptions {
  /** The store method that failed. */
  operation: TokenStoreOperation;
  /**
   * Why, in one word: the call took longer than its time limit (the policy's `storeTimeoutMs`, or a store's own), the
   * value read is not a token the cache wrote, or the store itself failed (a Redis command refused, a connection lost).
   */
  reason: TokenStoreFailure;
}

/** Why a token store call failed, in one word: too slow (`timeout`), a value that is no token, or the store failed. */
export type TokenStoreFailure = 'timeout' | 'invalid-value' | 'failed';

/**
 * A token store call failed: it did not settle within the policy's `storeTimeoutMs`, it returned a value that is not
 * a valid token (a poisoned or corrupted store), or the store reported its own failure (`@x/redis`'s
 * `RedisTokenStoreError` is a subclass). The cache reports it in a `store-error` event and carries on without the
 * store; callers never get it. Never quotes the stored value.
 */
export class TokenStoreError extends AuthError {
  /** The class name, for logs. */
  override name = 'TokenStoreError';
  /** The store method that failed. */
  readonly operation: TokenStoreOperation;
  /** Why: `timeout`, `invalid-value` or `failed`. */
  readonly reason: TokenStoreFailure;

  constructor(message: string, options: TokenStoreErrorOptions) {
    super(ErrorCode.TokenStoreFailed, message, options);
    this.operation = options.operation;
    this.reason = options.reason;
  }
}

function hasCode(value: unknown, code?: ErrorCode): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const branded = (value as Record<symbol, unknown>)[brand];
  return typeof branded === 'string' && (code === undefined || branded === code);
}

/** True for any `@x` error, even one thrown by another copy of the package. */
export function isAuthError(value: unknown): value is AuthError {
  return hasCode(value);
}

/** True for a {@link TokenRequestError}, even one thrown by another copy of the package. */
export function isTokenRequestError(value: unknown): value is TokenRequestError {
  return hasCode(value, ErrorCode.TokenRequestFailed);
}

/** True for a {@link TokenResponseError}, even one thrown by another copy of the package. */
export function isTokenResponseError(value: unknown): value is TokenResponseError {
  return hasCode(value, ErrorCode.TokenResponseInvalid);
}

/** True for a {@link ConfigurationError}, even one thrown by another copy of the package. */
export function isConfigurationError(value: unknown): value is ConfigurationError {
  return hasCode(value, ErrorCode.ConfigurationInvalid);
}

/** True for a {@link ForeignOriginError}, even one thrown by another copy of the package. */
export function isForeignOriginError(value: unknown): value is ForeignOriginError {
  return hasCode(value, ErrorCode.ForeignOrigin);
}

/** True for an {@link UnknownMerchantError}, even one thrown by another copy of the package. */
export function isUnknownMerchantError(value: unknown): value is UnknownMerchantError {
  return hasCode(value, ErrorCode.UnknownMerchant);
}

/** True for a {@link TokenStoreError}, even one thrown by another copy of the package. */
export function isTokenStoreError(value: unknown): value is TokenStoreError {
  return hasCode(value, ErrorCode.TokenStoreFailed);
}

/** True for a {@link MerchantResolveError}, even one thrown by another copy of the package. */
export function isMerchantResolveError(value: unknown): value is MerchantResolveError {
  return hasCode(value, ErrorCode.MerchantResolveFailed);
}

/** True for a {@link RegistryClosedError}, even one thrown by another copy of the package. */
export function isRegistryClosedError(value: unknown): value is RegistryClosedError {
  return hasCode(value, ErrorCode.RegistryClosed);
}

/** Whether retrying a failed token request later can succeed. Unknown errors count as retryable. */
export function isRetryable(error: unknown): boolean {
  if (isTokenRequestError(error) || isTokenResponseError(error)) return error.retryable;
  if (isConfigurationError(error) || isForeignOriginError(error) || isRegistryClosedError(error)) return false;
  return true;
}
