import { type CachePolicy, TokenResponseError } from '@x/core';
import {
  cacheKeyOf,
  type ProviderToken,
  parseTokenBody,
  sendTokenRequest,
  type TokenProvider,
  type TokenRequestContext,
} from '@x/core/provider';
import { iamportTokenPath, iamportTokenResponseSchema } from './iamport-api-types.js';
import { createIamportRequestError } from './iamport-error.js';
import { type IamportProviderSettings, resolveIamportSettings, validateIamportSettings } from './iamport-settings.js';

const inspectSymbol = Symbol.for('nodejs.util.inspect.custom');

/** The provider name in errors, events and cache keys. */
export const iamportProviderName = 'iamport';

/** A {@link TokenProvider} for one i'mport merchant (one `imp_key`/`imp_secret` pair). */
export interface IamportProvider extends TokenProvider {
  readonly provider: 'iamport';
  readonly cachePolicy: Readonly<Partial<CachePolicy>>;
}

/**
 * The cache policy tuned to i'mport's reuse rule. Asking for a token before its last minute returns the same token
 * with the same expiry, so refreshing earlier is wasted; asking within the last minute extends the same token by
 * 5 minutes. The refresh window therefore opens 40–50 s before expiry (inside the last minute, with a margin for
 * latency and whole-second timestamps), and failed refreshes are retried quickly enough to fit several attempts in
 * it before the token stops being handed out (`minValidityMs`, 10 s). A `refreshAheadMs` of your own is held to the
 * last minute (`maxRefreshAheadMs`): a registry-wide 5 minutes meant for Vipps would otherwise poll i'mport for the
 * same token for four minutes of every token's life.
 */
export const iamportCachePolicy: Readonly<Partial<CachePolicy>> = Object.freeze({
  refreshAheadMs: 50_000,
  refreshAheadJitter: 0.2,
  retryMaxDelayMs: 15_000,
  // i'mport's extension window: a request before it only gets the same token with the same expiry back.
  maxRefreshAheadMs: 60_000,
});

/**
 * Creates the token provider for one i'mport merchant. Settings are checked at once: a missing or malformed
 * setting throws a `ConfigurationError` naming it (`impSecret: required`). The secret is kept in a private field,
 * never in a property, so neither `JSON.stringify` nor `util.inspect` of the provider can show it.
 *
 * @example
 * const iamport = createAuthFetch(createIamportProvider({ impKey, impSecret }));
 * const response = await iamport('/payments/imp_448280090638');
 *
 * @throws {@link @x/core!"@x/core".ConfigurationError | ConfigurationError} naming every bad setting, never its value.
 * Its `requestToken` throws a {@link @x/core!"@x/core".TokenRequestError | TokenRequestError} (not retryable when
 * i'mport rejects the credentials) or a {@link @x/core!"@x/core".TokenResponseError | TokenResponseError}.
 */
export function createIamportProvider(settings: IamportProviderSettings): IamportProvider {
  const { impKey, impSecret, baseUrl } = resolveIamportSettings(settings);
  return Object.freeze(new IamportTokenProvider(baseUrl, impKey, impSecret));
}

/** A class, so the methods live once on the prototype: a registry may hold thousands of providers. */
class IamportTokenProvider implements IamportProvider {
  readonly provider = iamportProviderName;
  readonly cacheKey: string;
  readonly baseUrl: string;
  readonly #impKey: string;
  readonly #impSecret: string;

  constructor(baseUrl: string, impKey: string, impSecret: string) {
    this.baseUrl = baseUrl;
    this.cacheKey = cacheKeyOf(iamportProviderName, [baseUrl, impKey, impSecret]);
    this.#impKey = impKey;
    this.#impSecret = impSecret;
  }

  get cachePolicy(): Readonly<Partial<CachePolicy>> {
    return iamportCachePolicy;
  }

  async requestToken(context: TokenRequestContext): Promise<ProviderToken> {
    const tokenUrl = `${this.baseUrl}${iamportTokenPath}`;
    const secrets = [this.#impSecret];
    const http = await sendTokenRequest(
      iamportProviderName,
      context,
      tokenUrl,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ imp_key: this.#impKey, imp_secret: this.#impSecret }),
        // Following a redirect would resend imp_secret (307/308) or take another origin's answer for a token (301–303).
        redirect: 'manual',
      },
      { secrets },
    );
    const failure = createIamportRequestError(http, { tokenUrl, secrets });
    if (failure !== undefined) throw failure;
    const { response } = parseTokenBody(iamportProviderName, iamportTokenResponseSchema, http);
    if (response.expired_at <= response.now) {
      throw new TokenResponseError('Token response field "response.expired_at" is invalid: expected a time after "response.now"', {
        provider: iamportProviderName,
        field: 'response.expired_at',
        status: http.status,
        response: http.response,
      });
    }
    // `now` and `expired_at` are on i'mport's clock, which may be minutes or hours away from ours. Only their
    // difference is trusted, counted from the moment the answer arrived. No time zone is involved: both are UNIX
    // seconds, whatever the documentation's "(KST)" suggests.
    const lifetimeMs = (response.expired_at - response.now) * 1000;
    return {
      accessToken: response.access_token,
      expiresAt: http.receivedAt + lifetimeMs,
      diagnostics: {
        clockSkewMs: Math.round(response.now * 1000 - http.receivedAt),
        serverNow: response.now,
        serverExpiredAt: response.expired_at,
      },
    };
  }

  toJSON(): { provider: 'iamport'; baseUrl: string; cacheKey: string } {
    return { provider: this.provider, baseUrl: this.baseUrl, cacheKey: this.cacheKey };
  }

  /** Node's `util.inspect` hook, by its registered symbol: importing `node:util` would tie the package to Node. */
  [inspectSymbol](_depth: number, options: object, inspect: (value: unknown, options: object) => string): string {
    return `IamportProvider ${inspect(this.toJSON(), options)}`;
  }
}

/** Lets `createMerchantRegistry` check every merchant's settings at start without creating providers. */
createIamportProvider.validateSettings = validateIamportSettings;
