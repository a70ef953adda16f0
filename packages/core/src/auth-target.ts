import { ConfigurationError, ForeignOriginError } from './errors.js';
import { createTokenCache, isTokenCache, type TokenCache, type TokenCacheOptions } from './token-cache.js';
import type { TokenProvider } from './token-provider.js';

/** What the bearer fetch and the undici interceptor share: the cache, the one origin tokens may go to, the headers. */
export interface AuthTarget {
  readonly cache: TokenCache;
  readonly baseUrl: URL;
  readonly origin: string;
  /** The provider's `apiHeaders`, names in lower case. */
  readonly apiHeaders: ReadonlyArray<readonly [string, string]>;
}

/** Uses the given cache, or creates one for the given provider with `options`. */
export function createAuthTarget(providerOrCache: TokenProvider | TokenCache, options: TokenCacheOptions = {}): AuthTarget {
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
  const apiHeaders = Object.entries(provider.apiHeaders ?? {}).map(([name, value]) => [name.toLowerCase(), value] as const);
  return { cache, baseUrl, origin: baseUrl.origin, apiHeaders };
}

/** Throws a `ForeignOriginError` unless `url` is on the target's origin. Nothing has been sent yet. */
export function assertSameOrigin(target: AuthTarget, url: URL): void {
  if (url.origin !== target.origin) {
    throw new ForeignOriginError({ provider: target.cache.provider.provider, origin: url.origin, expectedOrigin: target.origin });
  }
}
