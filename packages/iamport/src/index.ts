/**
 * i'mport (PortOne V1) access tokens: the provider factory, its settings and its cache policy. The wire schemas
 * stay inside the package, shared by the provider and the emulator in `@x/iamport/testing`.
 *
 * @module \@x/iamport
 */
export type { IamportProviderSettings } from './iamport-settings.js';
export { validateIamportSettings } from './iamport-settings.js';
export type { IamportProvider } from './iamport-token-provider.js';
export { createIamportProvider, iamportCachePolicy, iamportProviderName } from './iamport-token-provider.js';
