/**
 * What the provider and the emulator of `@x/oauth2` both need to know of the wire: how a client authenticates, the
 * error codes of RFC 6749 §5.2, and PayPal's hosts, token path and debug header. The token and error bodies
 * themselves are `@x/core/provider`'s `clientCredentialsTokenSchema` and `oauthErrorSchema`.
 */

/**
 * How the client authenticates at the token endpoint (RFC 6749 §2.3.1; the names of RFC 7591's registry):
 * - `client_secret_basic`: `Authorization: Basic base64(id ":" secret)`, id and secret form-encoded first, as the
 *   RFC says.
 * - `client_secret_basic_unencoded`: the same header with id and secret as they are, as PayPal, Vipps MobilePay and
 *   many servers document it. The two differ only for characters such as `+`, `/`, `=`, `:` and spaces.
 * - `client_secret_post`: `client_id` and `client_secret` in the form body.
 */
export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_basic_unencoded' | 'client_secret_post';

/** Every {@link ClientAuthMethod}. */
export const clientAuthMethods: readonly ClientAuthMethod[] = [
  'client_secret_basic',
  'client_secret_basic_unencoded',
  'client_secret_post',
];

/** The error codes of RFC 6749 §5.2, as a token endpoint sends them in `error`. */
export type OAuth2ErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope';

/** A gateway whose token URL, hosts and conventions the provider knows. */
export type OAuth2Preset = 'paypal';

/** PayPal's two environments. */
export type PayPalEnvironment = 'sandbox' | 'live';

/** PayPal's API hosts, which serve the token endpoint too. */
export const paypalBaseUrls: Readonly<Record<PayPalEnvironment, string>> = Object.freeze({
  sandbox: 'https://api-m.sandbox.paypal.com',
  live: 'https://api-m.paypal.com',
});

/** PayPal's token endpoint, on the API host. */
export const paypalTokenPath = '/v1/oauth2/token';

/** The header PayPal puts on every answer, for its support to find the request: not a secret. */
export const paypalDebugIdHeader = 'paypal-debug-id';
