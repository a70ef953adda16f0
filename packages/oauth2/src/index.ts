/**
 * OAuth 2.0 client credentials access tokens (RFC 6749 §4.4) for any server that speaks the grant, with PayPal as a
 * preset: the provider factory, its settings and its errors. The emulator is in `@x/oauth2/testing`.
 *
 * @categoryDescription OAuth 2.0 client credentials
 * The provider and what it is made of: {@link createClientCredentialsProvider}, {@link ClientCredentialsProvider},
 * {@link oauth2ProviderName}, {@link ClientAuthMethod}.
 *
 * @categoryDescription Settings
 * What a provider is made from, checked all at once: {@link ClientCredentialsProviderSettings},
 * {@link validateClientCredentialsSettings}, {@link OAuth2Preset}, {@link PayPalEnvironment}.
 *
 * @categoryDescription Errors
 * A failed token request, with the response headers kept for the server's support: {@link OAuth2TokenRequestError},
 * {@link isOAuth2TokenRequestError}, {@link OAuth2ErrorCode}.
 *
 * @module \@x/oauth2
 */
export type { ClientAuthMethod, OAuth2ErrorCode, OAuth2Preset, PayPalEnvironment } from './oauth2-api-types.js';
export type { OAuth2TokenRequestError } from './oauth2-error.js';
export { isOAuth2TokenRequestError } from './oauth2-error.js';
export type { ClientCredentialsProviderSettings } from './oauth2-settings.js';
export { validateClientCredentialsSettings } from './oauth2-settings.js';
export type { ClientCredentialsProvider } from './oauth2-token-provider.js';
export { createClientCredentialsProvider, oauth2ProviderName } from './oauth2-token-provider.js';
