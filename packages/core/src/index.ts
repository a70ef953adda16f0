/**
 * The access-token engine for applications: the token cache, the bearer fetch, the merchant registry, token stores,
 * the error hierarchy and the {@link TokenProvider} contract that gateway packages implement. What a gateway
 * package's author needs besides (sending and reading token requests, settings checks, error mapping) is in
 * `@x/core/provider`; reading a configuration file is in `@x/core/node`. This entry imports no Node built-in.
 *
 * @categoryDescription Bearer fetch
 * A `fetch` that sends the token and the provider's API headers, refuses other origins and retries once after a 401:
 * {@link createAuthFetch}, {@link AuthFetch}, {@link AuthFetchOptions}, {@link RequestLike}. For undici, see
 * `@x/core/undici`.
 *
 * @categoryDescription Merchants
 * Many merchants, each on its gateway, from configuration with `{ "$env": "NAME" }` secrets (and `{ "$file": "path" }`
 * ones, read by `loadMerchantConfig` from `@x/core/node`):
 * {@link createMerchantRegistry}, {@link MerchantRegistry}, {@link MerchantRegistryOptions},
 * {@link MerchantSettings}, {@link ProviderFactory}, {@link MerchantTokenEvent}, {@link ResolveMerchant},
 * {@link MerchantReloadResult}, {@link MerchantWarmResult}, {@link resolveMerchantConfig},
 * {@link MerchantConfig}, {@link ResolveMerchantConfigOptions}. Merchants written in TypeScript are typed by their
 * providers' settings with {@link defineMerchants} ({@link MerchantSettingsFor}, {@link ProviderSettingsOf},
 * {@link MerchantConfigFor}, {@link MerchantConfigValue}).
 *
 * @categoryDescription Token cache
 * One token request at a time, refresh ahead, a still-valid token served while the gateway fails:
 * {@link createTokenCache}, {@link TokenCache}, {@link TokenCacheOptions}, {@link AccessToken},
 * {@link GetTokenOptions}, {@link InvalidateOptions}, {@link CachePolicy}, {@link maxDurationMs}, {@link Clock}.
 *
 * @categoryDescription Health
 * Where a cache, or a registry's merchants, stand now, for health checks and dashboards: {@link TokenCache.health},
 * {@link TokenCacheHealth}, {@link TokenCacheState}, {@link TokenErrorSummary}, {@link MerchantRegistry.health},
 * {@link MerchantHealth}, {@link MerchantHealthState}; for an HTTP health endpoint, {@link checkReadiness},
 * {@link ReadinessOptions}, {@link Readiness}, {@link ReadinessBody}, {@link ReadinessEntry}.
 *
 * @categoryDescription Events
 * What the cache does, for logs and metrics, with a token's {@link fingerprint} and never the token:
 * {@link TokenEvent}, {@link TokenEventListener}, {@link TokenRequestReason}; logged through pino, winston or the like,
 * at a level per event and secret-free by construction, with {@link createTokenEventLogger}
 * ({@link TokenEventLoggerOptions}, {@link TokenEventLoggerTarget}, {@link TokenEventLevels}, {@link TokenLogLevel},
 * {@link defaultTokenEventLevels}).
 *
 * @categoryDescription Diagnostics channels
 * What the token layer publishes on `node:diagnostics_channel` (where the runtime has it), for tracers and metrics
 * (`@x/opentelemetry` subscribes): a `TracingChannel` around each token request ({@link tokenRequestChannelName},
 * {@link TokenRequestMessage}), every event ({@link tokenEventChannelName}, {@link TokenEventMessage}) and each API
 * request sent again ({@link apiResendChannelName}, {@link ApiResendMessage}). Nothing is built while nobody
 * subscribes.
 *
 * @categoryDescription Token stores
 * Where tokens are shared (`@x/redis` implements the contract for fleets): {@link TokenStore},
 * {@link TokenStoreLock}, {@link TokenStoreEntry}, {@link TokenStoreOperation}, {@link createMemoryTokenStore},
 * {@link splitTokenStoreKey}, {@link withEntryReads},
 * {@link MemoryTokenStoreOptions}.
 *
 * @categoryDescription Errors
 * One hierarchy with stable codes, and guards that work across copies of the package: {@link AuthError},
 * {@link ErrorCode}, {@link isAuthError}, {@link isRetryable}, {@link TokenRequestError}, {@link isTokenRequestError},
 * {@link TokenRequestFailure}, {@link TokenResponseError}, {@link isTokenResponseError}, {@link ConfigurationError},
 * {@link isConfigurationError}, {@link ConfigurationIssue}, {@link ForeignOriginError}, {@link isForeignOriginError},
 * {@link TokenStoreError}, {@link isTokenStoreError}, {@link TokenStoreFailure}, {@link UnknownMerchantError},
 * {@link isUnknownMerchantError}, {@link MerchantResolveError}, {@link isMerchantResolveError},
 * {@link MerchantResolveFailure}, {@link MerchantResolveErrorOptions}, {@link RegistryClosedError}, {@link isRegistryClosedError}.
 *
 * @categoryDescription Provider contract
 * What a gateway package implements ({@link TokenProvider}, {@link ProviderToken}, {@link TokenRequestContext}); the
 * kit for writing one is `@x/core/provider`.
 *
 * @module \@x/core
 */
export type { AuthFetch, AuthFetchOptions, RequestLike } from './bearer-fetch.js';
export { createAuthFetch } from './bearer-fetch.js';
export type { CachePolicy } from './cache-policy.js';
export { maxDurationMs } from './cache-policy.js';
export type { Clock } from './clock.js';
export type { MerchantConfigFor, MerchantConfigValue, MerchantSettingsFor, ProviderSettingsOf } from './define-merchants.js';
export { defineMerchants } from './define-merchants.js';
export type { ApiResendMessage, TokenEventMessage, TokenRequestMessage } from './diagnostics.js';
export { apiResendChannelName, tokenEventChannelName, tokenRequestChannelName } from './diagnostics.js';
export type {
  ConfigurationIssue,
  MerchantResolveErrorOptions,
  MerchantResolveFailure,
  TokenRequestFailure,
  TokenStoreFailure,
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
  isMerchantResolveError,
  isRegistryClosedError,
  isRetryable,
  isTokenRequestError,
  isTokenResponseError,
  isTokenStoreError,
  isUnknownMerchantError,
  MerchantResolveError,
  RegistryClosedError,
  TokenRequestError,
  TokenResponseError,
  TokenStoreError,
  UnknownMerchantError,
} from './errors.js';
export { fingerprint } from './fingerprint.js';
export type { MerchantConfig, ResolveMerchantConfigOptions } from './merchant-config.js';
export { resolveMerchantConfig } from './merchant-config.js';
export type { MerchantHealth, MerchantHealthState } from './merchant-health.js';
export type { Readiness, ReadinessBody, ReadinessEntry, ReadinessOptions } from './merchant-readiness.js';
export { checkReadiness } from './merchant-readiness.js';
export type {
  MerchantRegistry,
  MerchantRegistryOptions,
  MerchantReloadResult,
  MerchantSettings,
  MerchantTokenEvent,
  MerchantWarmResult,
  ProviderFactory,
  ResolveMerchant,
} from './merchant-registry.js';
export { createMerchantRegistry } from './merchant-registry.js';
export type { AccessToken, GetTokenOptions, InvalidateOptions, TokenCache, TokenCacheOptions } from './token-cache.js';
export { createTokenCache } from './token-cache.js';
export type { TokenCacheHealth, TokenCacheState, TokenErrorSummary } from './token-cache-health.js';
export type { TokenEventLevels, TokenEventLoggerOptions, TokenEventLoggerTarget, TokenLogLevel } from './token-event-logger.js';
export { createTokenEventLogger, defaultTokenEventLevels } from './token-event-logger.js';
export type { TokenEvent, TokenEventListener, TokenRequestReason } from './token-events.js';
export type { ProviderToken, TokenProvider, TokenRequestContext } from './token-provider.js';
export type { MemoryTokenStoreOptions, TokenStore, TokenStoreEntry, TokenStoreLock } from './token-store.js';
export { createMemoryTokenStore, withEntryReads } from './token-store.js';
export { splitTokenStoreKey } from './token-store-exchange.js';
