/**
 * Vipps MobilePay access tokens: the provider, its settings and the wire formats of both token endpoints.
 *
 * @module \@x/vipps
 */
export type {
  VippsAccessTokenResponse,
  VippsEnvironment,
  VippsPartnerTokenResponse,
  VippsTokenEndpoint,
  VippsTokenErrorResponse,
  VippsTokenResponse,
} from './vipps-api-types.js';
export {
  merchantSerialNumberPattern,
  VippsHeader,
  vippsBaseUrls,
  vippsPaymentPathPrefix,
  vippsSystemHeaderMaxLength,
  vippsTokenErrorSchema,
  vippsTokenPaths,
  vippsTokenResponseSchema,
} from './vipps-api-types.js';
export type { ResolvedVippsSettings, VippsProviderSettings } from './vipps-settings.js';
export { resolveVippsSettings, validateVippsSettings } from './vipps-settings.js';
export type { VippsTokenProvider } from './vipps-token-provider.js';
export { createVippsProvider, vippsProviderName } from './vipps-token-provider.js';
