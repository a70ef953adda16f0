/**
 * The provider kit: what the author of a gateway package needs besides the {@link TokenProvider} contract. Send the
 * token request and read its answer ({@link sendTokenRequest}, {@link parseTokenBody}), map a failed answer to a
 * typed error ({@link createTokenErrorMapper}), check settings ({@link checkProviderSettings}, {@link settingLimits}),
 * derive the cache key ({@link cacheKeyOf}), redact the server's texts ({@link redactGatewayText}), and speak the OAuth 2.0
 * client credentials grant ({@link createClientCredentialsRequest}, {@link requestClientCredentialsToken}). The README
 * next to this entry lists the files a new gateway needs, with `@x/iamport` and `@x/vipps` as worked examples.
 *
 * @categoryDescription Provider contract
 * What a gateway package implements, the same types as in `@x/core`: {@link TokenProvider}, {@link ProviderToken},
 * {@link TokenRequestContext}.
 *
 * @categoryDescription Token requests
 * Send the request and read the answer, with the typed errors and a bounded body: {@link sendTokenRequest},
 * {@link SendTokenRequestOptions}, {@link TokenHttpResponse}, {@link parseTokenBody}, {@link accessTokenSchema}.
 *
 * @categoryDescription OAuth 2.0 client credentials
 * The client credentials grant (RFC 6749 §4.4) for gateways that speak it: build the request once
 * ({@link createClientCredentialsRequest}, {@link ClientCredentialsRequestOptions}, {@link ClientCredentialsRequest},
 * {@link basicAuthorization}, {@link ClientAuthentication}), send it and read the answer
 * ({@link requestClientCredentialsToken}, {@link RequestClientCredentialsTokenOptions}, {@link ClientCredentialsToken},
 * {@link clientCredentialsTokenSchema}, {@link expiresInSchema}),
 * and map its errors ({@link oauthErrorSchema}, {@link oauthErrorDetails}).
 *
 * @categoryDescription Error mapping
 * Turn a gateway's refusal into a redacted `TokenRequestError`: {@link createTokenErrorMapper},
 * {@link TokenErrorMapper}, {@link TokenErrorMapperOptions}, {@link TokenErrorRequest}, {@link GatewayErrorDetails},
 * {@link redactGatewayText}, and the errors' constructor options ({@link AuthErrorOptions},
 * {@link TokenRequestErrorOptions}, {@link TokenResponseErrorOptions}, {@link ConfigurationErrorOptions},
 * {@link ForeignOriginErrorOptions}, {@link TokenStoreErrorOptions}).
 *
 * @categoryDescription Settings
 * Check a gateway's settings the way every gateway does, and derive its cache key: {@link checkProviderSettings},
 * {@link ProviderSettingsCheck}, {@link settingLimits}, {@link baseUrlProblem}, {@link hasControlCharacter},
 * {@link durationProblem}, {@link cacheKeyOf}.
 *
 * @module \@x/core/provider
 */
export { durationProblem } from '../cache-policy.js';
export type {
  AuthErrorOptions,
  ConfigurationErrorOptions,
  ForeignOriginErrorOptions,
  TokenRequestErrorOptions,
  TokenResponseErrorOptions,
  TokenStoreErrorOptions,
} from '../errors.js';
export { cacheKeyOf } from '../fingerprint.js';
export { redactGatewayText } from '../gateway-text.js';
export type { ProviderSettingsCheck } from '../settings-checks.js';
export { baseUrlProblem, checkProviderSettings, hasControlCharacter, settingLimits } from '../settings-checks.js';
export type { GatewayErrorDetails, TokenErrorMapper, TokenErrorMapperOptions, TokenErrorRequest } from '../token-error-mapper.js';
export { createTokenErrorMapper } from '../token-error-mapper.js';
export type { SendTokenRequestOptions, TokenHttpResponse } from '../token-http.js';
export { accessTokenSchema, parseTokenBody, sendTokenRequest } from '../token-http.js';
export type { ProviderToken, TokenProvider, TokenRequestContext } from '../token-provider.js';
export type {
  ClientAuthentication,
  ClientCredentialsRequest,
  ClientCredentialsRequestOptions,
  ClientCredentialsToken,
  RequestClientCredentialsTokenOptions,
} from './client-credentials.js';
export {
  basicAuthorization,
  clientCredentialsTokenSchema,
  createClientCredentialsRequest,
  expiresInSchema,
  oauthErrorDetails,
  oauthErrorSchema,
  requestClientCredentialsToken,
} from './client-credentials.js';
