import { isTokenRequestError, TokenRequestError } from '@x/core';
import {
  createTokenErrorMapper,
  oauthErrorDetails,
  oauthErrorSchema,
  redactGatewayText,
  type TokenErrorMapper,
  type TokenRequestErrorOptions,
} from '@x/core/provider';
import type { OAuth2ErrorCode } from './oauth2-api-types.js';

/** A `TokenRequestError` from a token endpoint's answer, with the response headers kept for the server's support. */
export interface OAuth2TokenRequestError extends TokenRequestError {
  /**
   * The `diagnosticHeaders` the answer carried, by lower-case name, redacted: PayPal's `paypal-debug-id`, for one.
   * Shown in the message and in `JSON.stringify(error)`: not secret.
   */
  readonly diagnostics: Readonly<Record<string, string>>;
}

class OAuth2TokenRequestFailure extends TokenRequestError implements OAuth2TokenRequestError {
  readonly diagnostics: Readonly<Record<string, string>>;

  constructor(message: string, options: TokenRequestErrorOptions, diagnostics: Readonly<Record<string, string>>) {
    super(message, options);
    this.diagnostics = diagnostics;
  }
}

/**
 * True for an {@link OAuth2TokenRequestError}: a `TokenRequestError` made from a token endpoint's answer, with its
 * `diagnostics`. Works across duplicated package copies (no `instanceof`). Connection failures and timeouts are plain
 * `TokenRequestError`s: no answer, no headers.
 *
 * @example
 * if (isOAuth2TokenRequestError(error)) console.error('PayPal debug id', error.diagnostics['paypal-debug-id']);
 */
export function isOAuth2TokenRequestError(value: unknown): value is OAuth2TokenRequestError {
  return isTokenRequestError(value) && value.provider === 'oauth2' && Object.hasOwn(value, 'diagnostics');
}

/**
 * What each RFC 6749 §5.2 code asks the user to check. Every one of them, at a status below 500, is a rejection:
 * the request cannot succeed until the settings (or the client's registration at the server) change, so it is never
 * retried. The README's table says the same.
 */
const settingsToCheck: Readonly<Record<OAuth2ErrorCode, readonly string[]>> = {
  invalid_request: ['authMethod', 'scope', 'audience'],
  invalid_client: ['clientId', 'clientSecret', 'authMethod'],
  invalid_grant: ['clientId', 'clientSecret', 'audience'],
  unauthorized_client: ['clientId', 'clientSecret', 'authMethod', 'whether the client may use client_credentials'],
  unsupported_grant_type: ['tokenUrl'],
  invalid_scope: ['scope', 'audience'],
};

const isOAuth2ErrorCode = (code: unknown): code is OAuth2ErrorCode => typeof code === 'string' && Object.hasOwn(settingsToCheck, code);

/** Who the provider talks to, as its errors name it, and the response headers they carry. */
export interface OAuth2ErrorMapperOptions {
  /** `PayPal`, or the token URL's host. */
  displayName: string;
  /** What to check when the token URL is wrong, e.g. `tokenUrl`. */
  endpointSettings: string;
  /** Lower-case names of the response headers to keep. */
  diagnosticHeaders: readonly string[];
  /** Every secret the provider holds, redacted from the headers kept. */
  secrets: readonly string[];
}

/**
 * The mapping of one provider's failed token answers (RFC 6749 §5.2 bodies, or none) to
 * {@link OAuth2TokenRequestError}s: a §5.2 code, 401 or 403 below status 500 is a rejection; 5xx, 408 and 429 are
 * retryable; the `diagnosticHeaders` of the answer, redacted, join the error and its message.
 */
export function createOAuth2ErrorMapper(options: OAuth2ErrorMapperOptions): TokenErrorMapper {
  return createTokenErrorMapper({
    provider: 'oauth2',
    displayName: options.displayName,
    errorSchema: oauthErrorSchema,
    errorDetails: oauthErrorDetails,
    isRejected: ({ status, code }) => status < 500 && (isOAuth2ErrorCode(code) || status === 401 || status === 403),
    credentialSettings: (body) => (isOAuth2ErrorCode(body?.error) ? settingsToCheck[body.error] : ['clientId', 'clientSecret']),
    endpointSettings: options.endpointSettings,
    createError(message, errorOptions) {
      const diagnostics: Record<string, string> = {};
      for (const name of options.diagnosticHeaders) {
        const value = errorOptions.response?.headers.get(name);
        if (value !== null && value !== undefined) diagnostics[name] = redactGatewayText(value, options.secrets, 100);
      }
      const said = Object.entries(diagnostics).map(([name, value]) => `; ${name} ${value}`);
      return new OAuth2TokenRequestFailure(message + said.join(''), errorOptions, Object.freeze(diagnostics));
    },
  });
}
