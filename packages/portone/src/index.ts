/**
 * PortOne V2 access tokens: the provider factory and its settings. The wire schemas stay inside the package, shared
 * by the provider and the emulator in `@x/portone/testing`.
 *
 * @categoryDescription Provider
 * One API secret, in `token` mode (a login, then rotating refresh tokens carried by the cache) or `static` mode (the
 * secret on every call): {@link createPortOneProvider}, {@link PortOneProvider}, {@link portOneProviderName}.
 *
 * @categoryDescription Settings
 * What the provider takes, checked before any request: {@link PortOneProviderSettings}, {@link PortOneMode},
 * {@link validatePortOneSettings}.
 *
 * @module \@x/portone
 */
export type { PortOneMode, PortOneProviderSettings } from './portone-settings.js';
export { validatePortOneSettings } from './portone-settings.js';
export type { PortOneProvider } from './portone-token-provider.js';
export { createPortOneProvider, portOneProviderName } from './portone-token-provider.js';
