import type { ApiResendMessage } from './diagnostics.js';
import { ConfigurationError, ForeignOriginError } from './errors.js';
import { createTokenCache, isTokenCache, nameMerchantsOf, type TokenCache, type TokenCacheOptions } from './token-cache.js';
import type { TokenProvider } from './token-provider.js';

/** What the bearer fetch and the undici interceptor share: the cache, the one origin tokens may go to, the headers. */
export interface AuthTarget {
  readonly cache: TokenCache;
  readonly baseUrl: URL;
  readonly origin: string;
  /** The provider's `apiHeaders` (the `provider` option's, when given), names in lower case. */
  readonly apiHeaders: ReadonlyArray<readonly [string, string]>;
  /** Names the cache's merchants (a registry's cache has them) on the errors of the fetch's own. */
  readonly annotate: (error: unknown) => unknown;
  /** The fixed `Authorization` value of a provider that needs no token ({@link TokenProvider.staticAuthorization}). */
  readonly staticAuthorization: (() => string) | undefined;
}

/** The cache's options and the provider whose API headers go on the calls. */
export interface AuthTargetOptions extends TokenCacheOptions {
  /** A provider for the cache's credentials whose `apiHeaders` replace the cache's provider's. */
  provider?: TokenProvider | undefined;
}

/**
 * Uses the given cache, or creates one for the given provider with `options`. Tokens go only to the cache's
 * provider's origin; the API headers are `options.provider`'s when given (a merchant sharing the cache's credentials).
 */
export function createAuthTarget(providerOrCache: TokenProvider | TokenCache, options: AuthTargetOptions = {}): AuthTarget {
  const cache = isTokenCache(providerOrCache) ? providerOrCache : createTokenCache(providerOrCache, options);
  const { provider } = cache;
  let baseUrl: URL;
  try {
    baseUrl = new URL(provider.baseUrl);
  } catch (error) {
    throw new ConfigurationError({
      provider: provider.provider,
      issues: [{ path: 'baseUrl', message: 'must be an absolute URL' }],
      cause: error,
    });
  }
  // Any other scheme has the opaque origin "null", which every other such URL shares: no boundary for a token.
  if (baseUrl.protocol !== 'https:' && baseUrl.protocol !== 'http:') {
    throw new ConfigurationError({ provider: provider.provider, issues: [{ path: 'baseUrl', message: 'must be an http: or https: URL' }] });
  }
  const own = options.provider ?? provider;
  if (own.cacheKey !== provider.cacheKey) {
    // A provider for other credentials would pair one merchant's token with another's subscription key.
    throw new ConfigurationError({
      provider: provider.provider,
      issues: [{ path: 'provider', message: "must have the cache's cacheKey (a provider for the same credentials)" }],
    });
  }
  const apiHeaders = Object.entries(own.apiHeaders ?? {}).map(([name, value]) => [name.toLowerCase(), value] as const);
  const staticAuthorization = typeof provider.staticAuthorization === 'function' ? () => provider.staticAuthorization!() : undefined;
  return { cache, baseUrl, origin: baseUrl.origin, apiHeaders, annotate: (error) => nameMerchantsOf(cache, error), staticAuthorization };
}

/** What the resend channel carries for a call to `target` sent again. */
export function resendMessageOf(target: AuthTarget, resendCount: number, reason: ApiResendMessage['reason']): ApiResendMessage {
  const { provider, cacheKey } = target.cache.provider;
  return { provider, cacheKey, resendCount, reason };
}

/**
 * The error for a request (or a redirect, whose hop is described by `cause`) to `origin`, when it is not the
 * target's, annotated as the cache's own errors are. Nothing has been sent to `origin`.
 */
export function foreignOriginError(target: AuthTarget, origin: string, cause?: unknown): unknown {
  const { provider } = target.cache.provider;
  return target.annotate(new ForeignOriginError({ provider, origin, expectedOrigin: target.origin, cause }));
}

/** Throws {@link foreignOriginError} unless `url` is on the target's origin. Nothing has been sent yet. */
export function assertSameOrigin(target: AuthTarget, url: URL): void {
  if (url.origin !== target.origin) throw foreignOriginError(target, url.origin);
}

/** Status codes a client follows by the `Location` header (300 has no single location and is handed back). */
export function isRedirectStatus(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

/**
 * Whether a redirect with `status` turns a request with `method` into a `GET` without a body: a 303 unless it was a
 * `GET` or `HEAD`, and a 301 or 302 of a `POST` (what fetch and undici's redirect handler both do).
 */
export function redirectDropsBody(status: number, method: string): boolean {
  const upper = method.toUpperCase();
  return (status === 303 && upper !== 'GET' && upper !== 'HEAD') || ((status === 301 || status === 302) && upper === 'POST');
}

/** The `cause` of a {@link ForeignOriginError} for a redirect: which hop led where. Origins only, never paths. */
export function redirectCause(from: URL, status: number, to: URL): Error {
  return new Error(`${from.origin} answered ${status} with a Location on ${to.origin}; the redirect was not followed`);
}
