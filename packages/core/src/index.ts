/**
 * The access-token engine: the {@link TokenProvider} contract that gateway packages implement, the token cache,
 * the bearer fetch, the error hierarchy, token stores and the merchant registry.
 *
 * @module \@x/core
 */
export type { AuthFetch, AuthFetchOptions, RequestLike } from './bearer-fetch.js';
export { createAuthFetch } from './bearer-fetch.js';
export type { CachePolicy } from './cache-policy.js';
export { defaultCachePolicy, durationProblem, maxDurationMs, resolveCachePolicy } from './cache-policy.js';
export type { Clock } from './clock.js';
export { systemClock } from './clock.js';
export type {
  AuthErrorOptions,
  ConfigurationErrorOptions,
  ConfigurationIssue,
  ForeignOriginErrorOptions,
  TokenRequestErrorOptions,
  TokenRequestFailure,
  TokenResponseErrorOptions,
  TokenStoreErrorOptions,
  TokenStoreOperation,
} from './errors.js';
export {
  AuthError,
  ConfigurationError,
  ErrorCode,
  ForeignOriginError,
  isAuthError,
  isConfigurationError,
  isForeignOriginError,
  isRetryable,
  isTokenRequestError,
  isTokenResponseError,
  isTokenStoreError,
  isUnknownMerchantError,
  TokenRequestError,
  TokenResponseError,
  TokenStoreError,
  UnknownMerchantError,
} from './errors.js';
export { cacheKeyOf, fingerprint } from './fingerprint.js';
export { gatewayTextMaxLength, redactGatewayText } from './gateway-text.js';
export type { LoadMerchantConfigOptions, MerchantConfig } from './merchant-config.js';
export { loadMerchantConfig } from './merchant-config.js';
export type {
  MerchantRegistry,
  MerchantRegistryOptions,
  MerchantSettings,
  MerchantTokenEvent,
  ProviderFactory,
} from './merchant-registry.js';
export { createMerchantRegistry } from './merchant-registry.js';
export type { ProviderSettingsCheck } from './settings-checks.js';
export {
  baseUrlProblem,
  checkProviderSettings,
  hasControlCharacter,
  isLoopbackHostname,
  isReservedKey,
  ownSettings,
  reservedKeyIssues,
  settingLimits,
} from './settings-checks.js';
export type { AccessToken, GetTokenOptions, InvalidateOptions, TokenCache, TokenCacheOptions } from './token-cache.js';
export { createTokenCache, isTokenCache } from './token-cache.js';
export type { TokenEvent, TokenEventListener, TokenRequestReason } from './token-events.js';
export type { SendTokenRequestOptions, TokenHttpResponse } from './token-http.js';
export { accessTokenSchema, defaultMaxTokenResponseBytes, parseTokenBody, sendTokenRequest } from './token-http.js';
export type { ProviderToken, TokenProvider, TokenRequestContext } from './token-provider.js';
export { isTokenProvider } from './token-provider.js';
export type { MemoryTokenStoreOptions, StoredToken, TokenStore, TokenStoreLock } from './token-store.js';
export { createMemoryTokenStore, parseStoredToken, serializeToken } from './token-store.js';
