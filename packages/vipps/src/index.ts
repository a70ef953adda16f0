/**
 * Vipps MobilePay access tokens: the provider factory and its settings. The wire formats of both token endpoints
 * stay inside the package, shared by the provider and the emulator in `@x/vipps/testing`.
 *
 * @module \@x/vipps
 */
export type { VippsEnvironment, VippsTokenEndpoint } from './vipps-api-types.js';
export type { VippsErrorLayer, VippsTokenRequestError } from './vipps-error.js';
export { isVippsTokenRequestError } from './vipps-error.js';
export type { VippsProviderSettings } from './vipps-settings.js';
export { validateVippsSettings } from './vipps-settings.js';
export type { VippsProvider } from './vipps-token-provider.js';
export { createVippsProvider, vippsProviderName } from './vipps-token-provider.js';
