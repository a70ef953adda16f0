import type { CachePolicy } from './cache-policy.js';

/** What the cache hands a provider when it needs a token. */
export interface TokenRequestContext {
  /** Aborts when the request times out (`requestTimeoutMs`) or the cache is closed. Pass it to `fetch`. */
  signal: AbortSignal;
  /** The fetch to call the token endpoint with (the one given to the cache, or the global fetch). */
  fetch: typeof globalThis.fetch;
  /** The cache's wall clock in epoch milliseconds; use it to compute `expiresAt`, so tests can control time. */
  now: () => number;
  /**
   * The {@link ProviderToken.state} of the newest token the cache knows (its own, or one another process published to
   * the shared store, read while holding the store's lock), or `undefined` before the first token. A secret.
   */
  state?: string | undefined;
}

/** A token as a provider returns it. */
export interface ProviderToken {
  /** The bearer token. Never logged. */
  accessToken: string;
  /** When the token stops working, in epoch milliseconds on the *local* clock (corrected for the gateway's clock). */
  expiresAt: number;
  /**
   * Non-secret figures the cache reports in its events, e.g. `{ clockSkewMs: -32400000 }`. Never a token or secret.
   */
  diagnostics?: Readonly<Record<string, string | number | boolean>>;
  /**
   * What the provider needs back on its next request, e.g. a refresh token that rotates (PortOne V2: every login or
   * refresh spends the previous one). A secret, kept like the token: held by the cache, written to the shared store
   * with it (encrypted where the store encrypts), and handed back as {@link TokenRequestContext.state}. Visible ASCII,
   * at most 8 KiB.
   */
  state?: string | undefined;
}

/**
 * What a gateway package implements: how to get a token for one credential and where it may be used.
 *
 * @example
 * const provider: TokenProvider = {
 *   provider: 'acme',
 *   cacheKey: 'acme:3f2a…',
 *   baseUrl: 'https://api.acme.test',
 *   async requestToken({ signal, fetch, now }) {
 *     const response = await fetch('https://api.acme.test/token', { method: 'POST', signal });
 *     const body = await response.json();
 *     return { accessToken: body.token, expiresAt: now() + body.expires_in * 1000 };
 *   },
 * };
 */
export interface TokenProvider {
  /** Short name of the gateway, e.g. `iamport`. Appears in errors and events. */
  readonly provider: string;
  /**
   * A stable, non-secret identity of credential and endpoint (e.g. a hash). Two providers with the same key share
   * one token; different credentials must never share a key.
   */
  readonly cacheKey: string;
  /** The API origin the tokens are for. Bearer requests to any other origin are refused. */
  readonly baseUrl: string;
  /** Asks the gateway for a token. Throws a `TokenRequestError` or `TokenResponseError` on failure. */
  requestToken(context: TokenRequestContext): Promise<ProviderToken>;
  /**
   * For a gateway that takes a fixed credential on every call instead of a token (PortOne V2's
   * `Authorization: PortOne <apiSecret>`): the whole `Authorization` value. The bearer fetch, the interceptor and the
   * dispatcher then send it to `baseUrl`'s origin only, never ask the cache for a token (no request, no expiry, no work
   * per call), and hand a 401 back as it is. A method, so the secret never shows in `util.inspect` or JSON of the
   * provider. Such a provider's `requestToken` should throw a `ConfigurationError`: nothing of ours calls it.
   */
  staticAuthorization?(): string;
  /** Headers every API call needs besides `Authorization` (e.g. a subscription key). Callers' own headers win. */
  readonly apiHeaders?: Readonly<Record<string, string>>;
  /** Cache policy tuned to this gateway's token rules; the user's policy options override it field by field. */
  readonly cachePolicy?: Partial<CachePolicy>;
  /**
   * The precision of the gateway's expiry times (whole seconds for most). Two answers with the same token whose
   * expiries differ by less than this, plus the requests' own durations, state the same expiry; a larger difference is
   * an extension, however short.
   * @default 1_000
   */
  readonly expiryResolutionMs?: number;
}
