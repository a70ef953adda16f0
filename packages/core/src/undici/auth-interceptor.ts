import type { Dispatcher } from 'undici';
import type { TokenCache, TokenCacheOptions } from '../token-cache.js';
import type { TokenProvider } from '../token-provider.js';
import { authDispatch, createAuthDispatchSettings } from './auth-dispatch.js';

/** Options of {@link createAuthInterceptor}: the cache's options (used when given a provider), the origin and redirect rules. */
export interface AuthInterceptorOptions extends TokenCacheOptions {
  /**
   * What to do with a request to an origin other than the provider's `baseUrl`: refuse it with a
   * `ForeignOriginError` (nothing is sent), or pass it through untouched, without a token (for an agent shared with
   * other hosts). A redirect to another origin is refused, or followed without the token or any API header, the same
   * way.
   * @default 'refuse'
   */
  foreignOrigins?: 'refuse' | 'pass-through' | undefined;
  /**
   * Redirects followed for a request whose dispatch options have no `maxRedirections` of their own (undici's redirect
   * interceptor reads it there too). A hop on the provider's origin carries the token and API headers; a hop to
   * another origin follows `foreignOrigins`. Whatever this says, no dispatcher below is let follow a redirect that
   * carries our headers.
   * @default 0 (a redirect is handed back, as undici does)
   */
  maxRedirections?: number | undefined;
  /**
   * The provider whose `apiHeaders` go on every call when `providerOrCache` is a cache shared by merchants with the
   * same credentials but API headers of their own (Vipps' `Vipps-System-*`): `registry.provider(id)` with
   * `registry.tokens(id)`. Only the token is shared. Must have the cache's `cacheKey`; tokens still go only to the
   * cache's provider's origin.
   * @default the provider of `providerOrCache`
   */
  provider?: TokenProvider | undefined;
}

/**
 * An undici 7 interceptor doing what `createAuthFetch` does: `Authorization: Bearer <token>` and the provider's API
 * headers on every request (callers' own headers win, except `Authorization`), no token to another origin, and one
 * retry with a fresh token after a 401 when the body can be sent again (none, a string or bytes; undici's `fetch`
 * dispatches every body as a stream, so pass `fetch` to `createAuthFetch` instead when such calls must be retried).
 * The 401's body is aborted, not waited for.
 *
 * Redirects: compose it before undici's redirect interceptor (`agent.compose(createAuthInterceptor(provider),
 * interceptors.redirect({ maxRedirections: 3 }))`), so every hop passes through it again: a hop on the provider's
 * origin carries the token and API headers, a hop to another origin follows `foreignOrigins`. A redirect interceptor
 * composed after it is never let follow a request that carries our headers (they go down with
 * `maxRedirections: 0`); set `maxRedirections` here, or per request, and this interceptor follows them itself.
 *
 * @example
 * import { Agent, request } from 'undici';
 * const dispatcher = new Agent().compose(createAuthInterceptor(provider));
 * await request(new URL('/payments/imp_1', provider.baseUrl), { dispatcher });
 *
 * @throws {@link "@x/core".ConfigurationError | ConfigurationError} when the provider's `baseUrl` is not an absolute
 * http: or https: URL, `options.policy` has a bad field, `options.maxRedirections` is not a non-negative integer, or
 * `options.provider` is for other credentials. Requests fail with a
 * {@link "@x/core".ForeignOriginError | ForeignOriginError} for another origin, a redirect to one, or dispatch
 * options without an origin (unless `foreignOrigins` is `'pass-through'`), and with the cache's
 * {@link "@x/core".TokenRequestError | TokenRequestError} or {@link "@x/core".TokenResponseError | TokenResponseError}
 * when no token can be had.
 */
export function createAuthInterceptor(
  providerOrCache: TokenProvider | TokenCache,
  options: AuthInterceptorOptions = {},
): Dispatcher.DispatcherComposeInterceptor {
  const settings = createAuthDispatchSettings(providerOrCache, options);
  return (dispatch) =>
    function authInterceptor(dispatchOptions: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
      return authDispatch(settings, dispatch, dispatchOptions, handler);
    };
}
