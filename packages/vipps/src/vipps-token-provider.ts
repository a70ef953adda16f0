import {
  basicAuthorization,
  type ClientCredentialsRequest,
  cacheKeyOf,
  createClientCredentialsRequest,
  type ProviderToken,
  parseTokenBody,
  requestClientCredentialsToken,
  sendTokenRequest,
  type TokenProvider,
  type TokenRequestContext,
} from '@x/core/provider';
import type * as v from 'valibot';
import { type VippsEnvironment, VippsHeader, type VippsTokenEndpoint, vippsTokenResponseSchema } from './vipps-api-types.js';
import { createVippsRequestError } from './vipps-error.js';
import {
  type ResolvedVippsSettings,
  resolveVippsSettings,
  tokenUrlOf,
  type VippsProviderSettings,
  validateVippsSettings,
} from './vipps-settings.js';

/** The provider name in errors, events and cache keys. */
export const vippsProviderName = 'vipps';

/** A Vipps MobilePay {@link TokenProvider}, with the settings it was made from that are not secret. */
export interface VippsProvider extends TokenProvider {
  readonly provider: 'vipps';
  /** The environment, when it was given by name. */
  readonly environment: VippsEnvironment | undefined;
  /** Which token endpoint the provider calls. */
  readonly tokenEndpoint: VippsTokenEndpoint;
  /** The full URL of the token endpoint. */
  readonly tokenUrl: string;
  /** The `client_id`: not secret, so it may identify the merchant in logs. */
  readonly clientId: string;
  /** The `Merchant-Serial-Number`, when set. */
  readonly merchantSerialNumber: string | undefined;
  /**
   * `Ocp-Apim-Subscription-Key`, `Merchant-Serial-Number` and `Vipps-System-*`, as set. Holds the subscription key,
   * so it is non-enumerable: `JSON.stringify` and `util.inspect` leave it out.
   */
  readonly apiHeaders: Readonly<Record<string, string>>;
}

const inspectSymbol = Symbol.for('nodejs.util.inspect.custom');

/**
 * Creates the token provider for one Vipps MobilePay merchant (or partner). Validates the settings at once and
 * throws a `ConfigurationError` naming every bad setting.
 *
 * @example
 * const vipps = createAuthFetch(createVippsProvider({ clientId, clientSecret, subscriptionKey, environment: 'test' }));
 * const response = await vipps(`/epayment/v1/payments/${reference}`);
 *
 * @throws {@link @x/core!"@x/core".ConfigurationError | ConfigurationError} naming every bad setting, never its value.
 * Its `requestToken` throws a {@link @x/core!"@x/core".TokenRequestError | TokenRequestError} (not retryable when
 * the gateway rejects the credentials) or a {@link @x/core!"@x/core".TokenResponseError | TokenResponseError}.
 */
export function createVippsProvider(settings: VippsProviderSettings): VippsProvider {
  return Object.freeze(new VippsTokenProvider(resolveVippsSettings(settings)));
}

/**
 * A class, so the methods live once on the prototype (a registry may hold thousands of providers), and the
 * credentials in private fields, where neither `JSON.stringify` nor `util.inspect` reaches.
 */
class VippsTokenProvider implements VippsProvider {
  readonly provider = vippsProviderName;
  readonly cacheKey: string;
  readonly baseUrl: string;
  readonly environment: VippsEnvironment | undefined;
  readonly tokenEndpoint: VippsTokenEndpoint;
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly merchantSerialNumber: string | undefined;
  /** The partner endpoint's OAuth 2.0 request, or the `/accesstoken/get` headers. */
  readonly #tokenRequest: ClientCredentialsRequest | Readonly<Record<string, string>>;
  readonly #apiHeaders: Readonly<Record<string, string>>;
  readonly #secrets: readonly string[];

  constructor(resolved: ResolvedVippsSettings) {
    const { baseUrl, clientId, clientSecret, subscriptionKey, merchantSerialNumber, tokenEndpoint } = resolved;
    this.cacheKey = cacheKeyOf(vippsProviderName, [
      baseUrl,
      tokenEndpoint,
      clientId,
      clientSecret,
      subscriptionKey ?? '',
      merchantSerialNumber ?? '',
    ]);
    this.baseUrl = baseUrl;
    this.environment = resolved.environment;
    this.tokenEndpoint = tokenEndpoint;
    this.tokenUrl = tokenUrlOf(resolved);
    this.clientId = clientId;
    this.merchantSerialNumber = merchantSerialNumber;
    // The partner endpoint is OAuth 2.0 client credentials: the id and secret in a Basic credential, as they are.
    const partnerRequest =
      tokenEndpoint === 'partner'
        ? createClientCredentialsRequest(vippsProviderName, { clientId, clientSecret, headers: commonHeaders(resolved) })
        : undefined;
    this.#tokenRequest = partnerRequest ?? Object.freeze(accessTokenHeaders(resolved));
    this.#apiHeaders = Object.freeze(apiHeadersOf(resolved));
    // The Basic credential decodes to the secret: redacted on either endpoint, whichever one the server echoes.
    const basicCredential = basicAuthorization(clientId, clientSecret).slice('Basic '.length);
    this.#secrets = [...new Set([clientSecret, basicCredential, ...(partnerRequest?.secrets ?? []), subscriptionKey])].filter(
      (secret): secret is string => secret !== undefined,
    );
  }

  /** Holds the subscription key: a getter on the prototype, so it is not an enumerable own property. */
  get apiHeaders(): Readonly<Record<string, string>> {
    return this.#apiHeaders;
  }

  async requestToken(context: TokenRequestContext): Promise<ProviderToken> {
    const tokenRequest = this.#tokenRequest;
    const secrets = this.#secrets;
    if (isClientCredentialsRequest(tokenRequest)) {
      // The subscription key is not sent here, but it is redacted all the same.
      const mapError: typeof createVippsRequestError = (http, request) => createVippsRequestError(http, { ...request, secrets });
      const { body, receivedAt } = await requestClientCredentialsToken(vippsProviderName, context, this.tokenUrl, tokenRequest, {
        mapError,
        schema: vippsTokenResponseSchema,
        secrets,
      });
      return toProviderToken(body, receivedAt, this.tokenEndpoint);
    }
    const http = await sendTokenRequest(
      vippsProviderName,
      context,
      this.tokenUrl,
      {
        method: 'POST',
        headers: tokenRequest,
        // Following a redirect would resend client_secret to wherever it points.
        redirect: 'manual',
      },
      { secrets },
    );
    const failure = createVippsRequestError(http, { tokenUrl: this.tokenUrl, secrets });
    if (failure !== undefined) throw failure;
    const body = parseTokenBody(vippsProviderName, vippsTokenResponseSchema, http);
    return toProviderToken(body, http.receivedAt, this.tokenEndpoint);
  }

  toJSON(): Record<string, unknown> {
    return {
      provider: this.provider,
      cacheKey: this.cacheKey,
      baseUrl: this.baseUrl,
      environment: this.environment,
      tokenEndpoint: this.tokenEndpoint,
      clientId: this.clientId,
      merchantSerialNumber: this.merchantSerialNumber,
    };
  }

  [inspectSymbol](): Record<string, unknown> {
    return this.toJSON();
  }
}

function isClientCredentialsRequest(
  request: ClientCredentialsRequest | Readonly<Record<string, string>>,
): request is ClientCredentialsRequest {
  return 'init' in request;
}

/** `POST /accesstoken/get`: no body, the credentials in headers. The partner endpoint never gets the subscription key. */
function accessTokenHeaders(settings: ResolvedVippsSettings): Record<string, string> {
  const headers: Record<string, string> = {
    [VippsHeader.ClientId]: settings.clientId,
    [VippsHeader.ClientSecret]: settings.clientSecret,
  };
  if (settings.subscriptionKey !== undefined) headers[VippsHeader.SubscriptionKey] = settings.subscriptionKey;
  return { ...headers, ...commonHeaders(settings) };
}

function apiHeadersOf(settings: ResolvedVippsSettings): Record<string, string> {
  const headers: Record<string, string> = {};
  if (settings.subscriptionKey !== undefined) headers[VippsHeader.SubscriptionKey] = settings.subscriptionKey;
  return { ...headers, ...commonHeaders(settings) };
}

function commonHeaders(settings: ResolvedVippsSettings): Record<string, string> {
  const headers: Record<string, string> = {};
  if (settings.merchantSerialNumber !== undefined) headers[VippsHeader.MerchantSerialNumber] = settings.merchantSerialNumber;
  return { ...headers, ...settings.systemHeaders };
}

/**
 * Expiry comes from `expires_in` counted from when the response arrived, so a wrong local clock does not matter;
 * `expires_on` only serves to estimate the skew between the clocks, reported in events.
 */
function toProviderToken(
  body: v.InferOutput<typeof vippsTokenResponseSchema>,
  receivedAt: number,
  tokenEndpoint: VippsTokenEndpoint,
): ProviderToken {
  const expiresAt = receivedAt + body.expires_in * 1000;
  const diagnostics: Record<string, string | number | boolean> = { tokenEndpoint, expiresInSeconds: body.expires_in };
  if (body.expires_on !== undefined) {
    // Positive when the gateway's clock is ahead of ours. Whole seconds on the wire: ±1 s is noise.
    diagnostics.clockSkewMs = body.expires_on * 1000 - expiresAt;
  }
  if (body.not_before !== undefined && body.expires_on !== undefined) {
    diagnostics.notBeforeToExpirySeconds = body.expires_on - body.not_before;
  }
  return { accessToken: body.access_token, expiresAt, diagnostics };
}

/** Lets `createMerchantRegistry` check every merchant's settings at start without creating providers. */
createVippsProvider.validateSettings = validateVippsSettings;
