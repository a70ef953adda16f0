import type { TokenProvider } from '@x/core';

/** The token every bench provider hands out: the API server only checks that a bearer token is there. */
export const benchToken = 'bench-token-0123456789abcdef';

/**
 * A provider that answers from memory, for the figures that measure what happens once a token is cached (hot path,
 * request overhead): its cost is paid once, before measuring.
 */
export function createBenchProvider(baseUrl: string, cacheKey = 'bench:memory'): TokenProvider {
  return {
    provider: 'bench',
    cacheKey,
    baseUrl,
    async requestToken({ now }) {
      return { accessToken: benchToken, expiresAt: now() + 3_600_000 };
    },
  };
}
