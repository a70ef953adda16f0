import { createTokenCache, type TokenCache, type TokenCacheOptions } from '../token-cache.js';
import type { TokenProvider } from '../token-provider.js';
import type { CanaryScanner } from './canary.js';

/**
 * A token cache for `provider` whose every event goes through `scanner`, as do the cache and the provider
 * themselves, all under `label`.
 *
 * @example
 * const cache = createScannedTokenCache(scanner, 'stall', provider, { policy: { requestTimeoutMs: 300 } });
 * await scanner.scanSettled('stall: getToken', cache.getToken(), { isToken: true });
 */
export function createScannedTokenCache(
  scanner: CanaryScanner,
  label: string,
  provider: TokenProvider,
  options: TokenCacheOptions = {},
): TokenCache {
  const cache = createTokenCache(provider, { ...options, onEvent: (event) => scanner.scan(`${label}: event ${event.type}`, event) });
  scanner.scan(`${label}: cache`, cache);
  scanner.scan(`${label}: provider`, cache.provider);
  return cache;
}
