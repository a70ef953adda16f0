/**
 * The access-token engine for applications: the token cache, the bearer fetch, the merchant registry, token stores,
 * the error hierarchy and the {@link TokenProvider} contract that gateway packages implement. What a gateway
 * package's author needs besides (sending and reading token requests, settings checks, error mapping) is in
 * `@x/core/provider`; reading a configuration file is in `@x/core/node`. This entry imports no Node built-in.
 *
 * @module \@x/core
 */
export type { AuthFetch, AuthFetchOptions, RequestLike } from './bearer-fetch.js';
export { createAuthFetch } from './bearer-fetch.js';
export type { CachePolicy } from './cache-policy.js';
export { maxDurationMs } from './cache-policy.js';
export type { Clock } from './clock.js';
export type { ConfigurationIssue, TokenRequestFailure, TokenStoreFailure, TokenStoreOperation } from './errors.js';
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
export { fingerprint } from './fingerprint.js';
export type { MerchantConfig, ResolveMerchantConfigOptions } from './merchant-config.js';
export { resolveMerchantConfig } from './merchant-config.js';
export type {
  MerchantRegistry,
  MerchantRegistryOptions,
  MerchantSettings,
  MerchantTokenEvent,
  ProviderFactory,
} from './merchant-registry.js';
export { createMerchantRegistry } from './merchant-registry.js';
export type { AccessToken, GetTokenOptions, InvalidateOptions, TokenCache, TokenCacheOptions } from './token-cache.js';
export { createTokenCache } from './token-cache.js';
export type { TokenEvent, TokenEventListener, TokenRequestReason } from './token-events.js';
export type { ProviderToken, TokenProvider, TokenRequestContext } from './token-provider.js';
export type { MemoryTokenStoreOptions, TokenStore, TokenStoreLock } from './token-store.js';
export { createMemoryTokenStore } from './token-store.js';
