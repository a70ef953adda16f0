/**
 * The provider kit: what the author of a gateway package needs besides the {@link TokenProvider} contract. Send the
 * token request and read its answer ({@link sendTokenRequest}, {@link parseTokenBody}), map a failed answer to a
 * typed error ({@link createTokenErrorMapper}), check settings ({@link checkProviderSettings}, {@link settingLimits}),
 * derive the cache key ({@link cacheKeyOf}) and redact the server's texts ({@link redactGatewayText}). The README
 * next to this entry lists the files a new gateway needs, with `@x/iamport` and `@x/vipps` as worked examples.
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
