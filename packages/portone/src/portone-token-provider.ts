import { ConfigurationError, isTokenRequestError, TokenResponseError } from '@x/core';
import {
  cacheKeyOf,
  type ProviderToken,
  parseTokenBody,
  sendTokenRequest,
  type TokenHttpResponse,
  type TokenProvider,
  type TokenRequestContext,
} from '@x/core/provider';
import * as v from 'valibot';
import {
  type PortOneTokenEndpoint,
  portOneAccessTokenLifetimeMs,
  portOneAuthorizationScheme,
  portOneTokenClaimsSchema,
  portOneTokenPaths,
  portOneTokenResponseSchema,
} from './portone-api-types.js';
import { createPortOneRequestError } from './portone-error.js';
import { type PortOneMode, type PortOneProviderSettings, resolvePortOneSettings, validatePortOneSettings } from './portone-settings.js';

const inspectSymbol = Symbol.for('nodejs.util.inspect.custom');

/** The provider name in errors, events and cache keys. */
export const portOneProviderName = 'portone';

/** A {@link TokenProvider} for one PortOne V2 API secret, in either {@link PortOneMode}. */
export interface PortOneProvider extends TokenProvider {
  readonly provider: 'portone';
  /** `token` or `static`; a `static` provider has `staticAuthorization()` and never asks for a token. */
  readonly mode: PortOneMode;
}

/**
 * Creates the provider for one PortOne V2 API secret. In `token` mode (the default) its first request logs in
 * (`POST /login/api-secret`) and each later one refreshes (`POST /token/refresh`) with the refresh token the cache
 * hands back as `context.state`; a refused refresh token falls back to one login. In `static` mode every API call
 * carries `Authorization: PortOne <apiSecret>` and nothing asks for a token. Settings are checked at once.
 *
 * @example
 * const portone = createAuthFetch(createPortOneProvider({ apiSecret }));
 * const payment = await (await portone(`/payments/${encodeURIComponent(paymentId)}`)).json();
 *
 * @throws {@link @x/core!"@x/core".ConfigurationError | ConfigurationError} naming every bad setting, never its value.
 * Its `requestToken` throws a {@link @x/core!"@x/core".TokenRequestError | TokenRequestError} (not retryable when
 * PortOne refuses the secret) or a {@link @x/core!"@x/core".TokenResponseError | TokenResponseError}.
 */
export function createPortOneProvider(settings: PortOneProviderSettings): PortOneProvider {
  const { apiSecret, baseUrl, mode } = resolvePortOneSettings(settings);
  const cacheKey = cacheKeyOf(portOneProviderName, [baseUrl, mode, apiSecret]);
  const provider =
    mode === 'static' ? new PortOneStaticProvider(baseUrl, cacheKey, apiSecret) : new PortOneTokenProvider(baseUrl, cacheKey, apiSecret);
  return Object.freeze(provider);
}

/** A class, so the methods live once on the prototype, and the secret in a private field no log reaches. */
class PortOneTokenProvider implements PortOneProvider {
  readonly provider = portOneProviderName;
  readonly mode: PortOneMode = 'token';
  readonly #apiSecret: string;

  constructor(
    readonly baseUrl: string,
    readonly cacheKey: string,
    apiSecret: string,
  ) {
    this.#apiSecret = apiSecret;
  }

  async requestToken(context: TokenRequestContext): Promise<ProviderToken> {
    const { state } = context;
    let refusedStatus: number | undefined;
    if (state !== undefined) {
      try {
        return await this.#exchange(context, 'refresh', { refreshToken: state });
      } catch (error) {
        // Spent by another login or refresh, or a day old: no reason to fail while the secret still logs in.
        if (!isTokenRequestError(error) || error.reason !== 'rejected') throw error;
        refusedStatus = error.status;
      }
    }
    const token = await this.#exchange(context, 'login', { apiSecret: this.#apiSecret });
    return refusedStatus === undefined ? token : { ...token, diagnostics: { ...token.diagnostics, refreshRefusedStatus: refusedStatus } };
  }

  async #exchange(context: TokenRequestContext, endpoint: PortOneTokenEndpoint, body: object): Promise<ProviderToken> {
    const tokenUrl = `${this.baseUrl}${portOneTokenPaths[endpoint]}`;
    // The refresh token we hold is a secret too, whichever request a server might echo it in.
    const secrets = context.state === undefined ? [this.#apiSecret] : [this.#apiSecret, context.state];
    const init: RequestInit = {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
      // Following a redirect would resend the secret (307/308) or take another origin's answer for a token (301–303).
      redirect: 'manual',
    };
    const http = await sendTokenRequest(portOneProviderName, context, tokenUrl, init, { secrets });
    const failure = createPortOneRequestError(http, { tokenUrl, secrets });
    if (failure !== undefined) throw failure;
    const { accessToken, refreshToken } = parseTokenBody(portOneProviderName, portOneTokenResponseSchema, http);
    const { expiresAt, diagnostics } = expiryOf(accessToken, http);
    return { accessToken, expiresAt, state: refreshToken, diagnostics: { endpoint, ...diagnostics } };
  }

  toJSON(): { provider: 'portone'; mode: PortOneMode; baseUrl: string; cacheKey: string } {
    return { provider: this.provider, mode: this.mode, baseUrl: this.baseUrl, cacheKey: this.cacheKey };
  }

  /** Node's `util.inspect` hook, by its registered symbol: importing `node:util` would tie the package to Node. */
  [inspectSymbol](_depth: number, options: object, inspect: (value: unknown, options: object) => string): string {
    return `PortOneProvider ${inspect(this.toJSON(), options)}`;
  }
}

/** `mode: 'static'`: the secret is the credential; there is no token, no expiry and no cache work per call. */
class PortOneStaticProvider extends PortOneTokenProvider {
  override readonly mode: PortOneMode = 'static';
  readonly #authorization: string;

  constructor(baseUrl: string, cacheKey: string, apiSecret: string) {
    super(baseUrl, cacheKey, apiSecret);
    this.#authorization = `${portOneAuthorizationScheme} ${apiSecret}`;
  }

  /** The whole `Authorization` value: a method, so it never shows in `util.inspect` or JSON of the provider. */
  staticAuthorization(): string {
    return this.#authorization;
  }

  override async requestToken(): Promise<ProviderToken> {
    throw new ConfigurationError({
      provider: portOneProviderName,
      issues: [{ path: 'mode', message: "is 'static': API calls carry the API secret, there is no token to request" }],
    });
  }
}

/**
 * The token's expiry from its JWT claims, decoded but not verified (PortOne's key is not ours to hold). With `iat`, only
 * `exp - iat` is trusted, counted from the answer's arrival, so a gateway clock hours off changes nothing; `exp` alone
 * is taken on our clock. A token with no `exp` gets the documented 30 minutes; one whose claims are malformed is refused.
 */
function expiryOf(accessToken: string, http: TokenHttpResponse): Pick<ProviderToken, 'expiresAt' | 'diagnostics'> {
  const { receivedAt } = http;
  const claims = claimsOf(accessToken);
  const parsed = claims === undefined ? undefined : v.safeParse(portOneTokenClaimsSchema, claims);
  const refuse = (problem: string): TokenResponseError =>
    new TokenResponseError(`Token response field "accessToken" is invalid: ${problem}`, {
      provider: portOneProviderName,
      field: 'accessToken',
      status: http.status,
      response: http.response,
    });
  if (parsed !== undefined && !parsed.success)
    throw refuse(`its JWT claim "${v.getDotPath(parsed.issues[0]) ?? ''}" is not whole epoch seconds`);
  const { exp, iat } = parsed?.output ?? {};
  if (exp === undefined) return { expiresAt: receivedAt + portOneAccessTokenLifetimeMs, diagnostics: { expiry: 'assumed-30-minutes' } };
  if (iat === undefined) return { expiresAt: exp * 1000, diagnostics: { expiry: 'jwt-exp' } };
  if (exp <= iat) throw refuse('its JWT expires ("exp") no later than it was issued ("iat")');
  const lifetimeSeconds = exp - iat;
  // Positive when PortOne's clock is ahead of ours, as for the other gateways.
  return {
    expiresAt: receivedAt + lifetimeSeconds * 1000,
    diagnostics: { expiry: 'jwt', lifetimeSeconds, clockSkewMs: iat * 1000 - receivedAt },
  };
}

/** The claims object of a JWT (`header.payload.signature`), or `undefined` when the token is not one. */
function claimsOf(token: string): object | undefined {
  const payload = token.split('.');
  if (payload.length !== 3 || !/^[\w-]+$/.test(payload[1]!)) return undefined;
  try {
    // atob, not Buffer: the main entry imports no Node built-in.
    const binary = atob(payload[1]!.replace(/-/g, '+').replace(/_/g, '/'));
    const claims: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
    return typeof claims === 'object' && claims !== null && !Array.isArray(claims) ? claims : undefined;
  } catch {
    return undefined;
  }
}

/** Lets `createMerchantRegistry` check every merchant's settings at start without creating providers. */
createPortOneProvider.validateSettings = validatePortOneSettings;
