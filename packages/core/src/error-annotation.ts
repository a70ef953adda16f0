import { createTokenCache, type TokenCache, type TokenCacheOptions } from './token-cache.js';
import type { TokenProvider } from './token-provider.js';

/**
 * Where a cache keeps the `annotateError` it was created with. A `Symbol.for` key, so the copy of this module bundled
 * into `@x/core/undici` finds what the registry's copy stored.
 */
const annotatorKey = Symbol.for('@x/core.annotate-error');

/**
 * Creates a token cache that also keeps its `annotateError` where {@link annotatorOf} finds it, so the bearer fetch
 * and the undici interceptor over that cache annotate their own errors (a refused origin) as the cache annotates its
 * token errors: a registry's cache names its merchants in both. Not in the package API.
 */
export function createAnnotatedTokenCache(provider: TokenProvider, options: TokenCacheOptions): TokenCache {
  const cache = createTokenCache(provider, options);
  if (options.annotateError !== undefined) Object.defineProperty(cache, annotatorKey, { value: options.annotateError });
  return cache;
}

/** The `annotateError` `cache` was created with by {@link createAnnotatedTokenCache}, or the identity. */
export function annotatorOf(cache: TokenCache): (error: unknown) => unknown {
  const annotate = (cache as unknown as Record<symbol, unknown>)[annotatorKey];
  return typeof annotate === 'function' ? (annotate as (error: unknown) => unknown) : (error) => error;
}
