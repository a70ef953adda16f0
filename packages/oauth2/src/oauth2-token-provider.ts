import { ConfigurationError } from '@x/core';
import {
  basicAuthorization,
  type ClientAuthentication,
  type ClientCredentialsRequest,
  cacheKeyOf,
  createClientCredentialsRequest,
  type ProviderToken,
  requestClientCredentialsToken,
  type TokenErrorMapper,
  type TokenProvider,
  type TokenRequestContext,
} from '@x/core/provider';
import type { ClientAuthMethod, OAuth2Preset, PayPalEnvironment } from './oauth2-api-types.js';
import { createOAuth2ErrorMapper } from './oauth2-error.js';
import {
  type ClientCredentialsProviderSettings,
  type ResolvedClientCredentialsSettings,
  resolveClientCredentialsSettings,
  validateClientCredentialsSettings,
} from './oauth2-settings.js';

/** The provider name in errors, events and cache keys, and the name to register the factory under. */
export const oauth2ProviderName = 'oauth2';

/** An OAuth 2.0 client credentials {@link TokenProvider}, with the settings it was made from that are not secret. */
export interface ClientCredentialsProvider extends TokenProvider {
  readonly provider: 'oauth2';
  /** The token endpoint: the only URL the client secret is sent to. */
  readonly tokenUrl: string;
  /** The `client_id`: not secret, so it may identify the client in logs. */
  readonly clientId: string;
  /** The preset, when one was set. */
  readonly preset: OAuth2Preset | undefined;
  /** PayPal's environment, when it was given by name. */
  readonly environment: PayPalEnvironment | undefined;
  /** How the client authenticates. */
  readonly authMethod: ClientAuthMethod;
  /** The `scope` asked for, when set. */
  readonly scope: string | undefined;
  /** The `audience` asked for, when set. */
  readonly audience: string | undefined;
}

const inspectSymbol = Symbol.for('nodejs.util.inspect.custom');

/** The provider kit's names for the three ways to authenticate. */
const kitAuthentication: Readonly<Record<ClientAuthMethod, ClientAuthentication>> = {
  client_secret_basic: 'basic-form-encoded',
  client_secret_basic_unencoded: 'basic',
  client_secret_post: 'body',
};

/**
 * Creates the token provider for one OAuth 2.0 client (RFC 6749 §4.4, the client credentials grant). Validates the
 * settings at once and throws a `ConfigurationError` naming every bad one. Register it as `oauth2` in a merchant
 * registry: `createMerchantRegistry({ providers: { oauth2: createClientCredentialsProvider }, … })`.
 *
 * @example
 * const paypal = createAuthFetch(createClientCredentialsProvider({ preset: 'paypal', environment: 'sandbox', clientId, clientSecret }));
 * const order = await paypal(`/v2/checkout/orders/${orderId}`);
 *
 * @throws {@link @x/core!"@x/core".ConfigurationError | ConfigurationError} naming every bad setting, never its value.
 * Its `requestToken` throws an {@link OAuth2TokenRequestError} (not retryable for an RFC 6749 §5.2 error or a 401),
 * a {@link @x/core!"@x/core".TokenResponseError | TokenResponseError} (a `token_type` other than Bearer, for one), or
 * a `ConfigurationError` for an answer without `expires_in` when `defaultLifetimeMs` is not set.
 */
export function createClientCredentialsProvider(settings: ClientCredentialsProviderSettings): ClientCredentialsProvider {
  return Object.freeze(new ClientCredentialsTokenProvider(resolveClientCredentialsSettings(settings)));
}

/** A class, so the methods live once on the prototype, and the secret in private fields that nothing prints. */
class ClientCredentialsTokenProvider implements ClientCredentialsProvider {
  readonly provider = oauth2ProviderName;
  readonly cacheKey: string;
  readonly baseUrl: string;
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly preset: OAuth2Preset | undefined;
  readonly environment: PayPalEnvironment | undefined;
  readonly authMethod: ClientAuthMethod;
  readonly scope: string | undefined;
  readonly audience: string | undefined;
  readonly #request: ClientCredentialsRequest;
  readonly #mapError: TokenErrorMapper;
  readonly #secrets: readonly string[];
  readonly #defaultLifetimeMs: number | undefined;

  constructor(resolved: ResolvedClientCredentialsSettings) {
    const { tokenUrl, baseUrl, clientId, clientSecret, authMethod, scope, audience } = resolved;
    // The scope and audience are part of the identity: a token for one API is not a token for another.
    this.cacheKey = cacheKeyOf(oauth2ProviderName, [tokenUrl, baseUrl, clientId, clientSecret, authMethod, scope ?? '', audience ?? '']);
    this.baseUrl = baseUrl;
    this.tokenUrl = tokenUrl;
    this.clientId = clientId;
    this.preset = resolved.preset;
    this.environment = resolved.environment;
    this.authMethod = authMethod;
    this.scope = scope;
    this.audience = audience;
    this.#defaultLifetimeMs = resolved.defaultLifetimeMs;
    this.#request = createClientCredentialsRequest(oauth2ProviderName, {
      clientId,
      clientSecret,
      authentication: kitAuthentication[authMethod],
      scope,
      audience,
      headers: { Accept: 'application/json' },
    });
    // Both Basic credentials decode to the secret: redacted whichever method sent it, whatever the server echoes.
    const basic = [false, true].map((formEncoded) => basicAuthorization(clientId, clientSecret, { formEncoded }).slice('Basic '.length));
    this.#secrets = [...new Set([...this.#request.secrets, ...basic])];
    const paypal = resolved.preset === 'paypal';
    this.#mapError = createOAuth2ErrorMapper({
      displayName: paypal ? 'PayPal' : new URL(tokenUrl).host,
      endpointSettings: paypal ? 'tokenUrl, baseUrl or environment' : 'tokenUrl',
      diagnosticHeaders: resolved.diagnosticHeaders,
      secrets: this.#secrets,
    });
  }

  async requestToken(context: TokenRequestContext): Promise<ProviderToken> {
    const { body, receivedAt } = await requestClientCredentialsToken(oauth2ProviderName, context, this.tokenUrl, this.#request, {
      mapError: this.#mapError,
      secrets: this.#secrets,
    });
    const lifetimeMs = body.expires_in === undefined ? this.#defaultLifetimeMs : body.expires_in * 1000;
    if (lifetimeMs === undefined) {
      // A guessed lifetime would either hand out dead tokens or hammer the server: the user must say.
      throw new ConfigurationError({
        provider: oauth2ProviderName,
        issues: [{ path: 'defaultLifetimeMs', message: `required: ${this.tokenUrl} answers without expires_in` }],
      });
    }
    const diagnostics: Record<string, number> =
      body.expires_in === undefined ? { defaultLifetimeMs: lifetimeMs } : { expiresInSeconds: body.expires_in };
    return { accessToken: body.access_token, expiresAt: receivedAt + lifetimeMs, diagnostics };
  }

  toJSON(): Record<string, unknown> {
    const { provider, cacheKey, baseUrl, tokenUrl, clientId, preset, environment, authMethod, scope, audience } = this;
    return { provider, cacheKey, baseUrl, tokenUrl, clientId, preset, environment, authMethod, scope, audience };
  }

  [inspectSymbol](): Record<string, unknown> {
    return this.toJSON();
  }
}

/** Lets `createMerchantRegistry` check every merchant's settings at start without creating providers. */
createClientCredentialsProvider.validateSettings = validateClientCredentialsSettings;
