import { createHash } from 'node:crypto';

/** A short, non-reversible identity of a secret or token (8 hex digits of its SHA-256), safe to log. */
export function fingerprint(secret: string): string {
  return createHash('sha256').update(secret).digest('hex').slice(0, 8);
}

/**
 * A stable, non-secret cache key from a provider name and the parts that identify a credential and endpoint.
 * The parts are hashed together, so the key reveals none of them.
 *
 * @example
 * cacheKeyOf('iamport', [baseUrl, impKey, impSecret]) // 'iamport:4f1c…'
 */
export function cacheKeyOf(provider: string, parts: readonly string[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(`${part.length}:${part}`);
  return `${provider}:${hash.digest('hex').slice(0, 32)}`;
}
