import { sha256Hex } from './sha256.js';

/** A short, non-reversible identity of a secret or token (8 hex digits of its SHA-256), safe to log. */
export function fingerprint(secret: string): string {
  return sha256Hex(secret).slice(0, 8);
}

/**
 * A stable, non-secret cache key from a provider name and the parts that identify a credential and endpoint.
 * The parts are hashed together, so the key reveals none of them.
 *
 * @example
 * cacheKeyOf('iamport', [baseUrl, impKey, impSecret]) // 'iamport:4f1c…'
 */
export function cacheKeyOf(provider: string, parts: readonly string[]): string {
  // Each part behind its length, so that ['ab', 'c'] and ['a', 'bc'] differ.
  const framed = parts.map((part) => `${part.length}:${part}`).join('');
  return `${provider}:${sha256Hex(framed).slice(0, 32)}`;
}
