import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { ConfigurationError } from '@x/core';

/** Marks a value this package encrypted; the number is the format version. */
const formatVersion = 'xenc1';
const ivBytes = 12;
const tagBytes = 16;

/** Why a stored value could not be decrypted. */
export type RedisDecryptFailure =
  /** The value was encrypted with this key but altered since (or for another cache key): GCM authentication failed. */
  | 'authentication-failed'
  /** The value was encrypted with another key (its key id differs), e.g. during a key rotation. */
  | 'unknown-key'
  /** The value carries the encryption marker but not in a shape this version writes. */
  | 'malformed'
  /** Encryption is on, but the value is plaintext (written by a `plaintext: true` store). */
  | 'not-encrypted'
  /** Encryption is off (`plaintext: true`), but the value is encrypted (written by a store with `encryptionKey`). */
  | 'no-key';

/** Encrypts and decrypts stored values with one AES-256-GCM key. */
export interface RedisValueCipher {
  /** Short hash of the key, written in front of every value so readers can tell keys apart. */
  readonly keyId: string;
  encrypt(value: string, cacheKey: string): string;
  decrypt(stored: string, cacheKey: string): { ok: true; value: string } | { ok: false; reason: RedisDecryptFailure };
}

/** True when `stored` carries this package's encryption marker. */
export function isEncryptedValue(stored: string): boolean {
  return stored.startsWith(`${formatVersion}.`);
}

/**
 * Reads a 32-byte key from a Buffer, 64 hex digits or base64; throws a `ConfigurationError` (which never contains the
 * key) otherwise.
 */
export function parseEncryptionKey(input: unknown, path = 'encryptionKey'): Buffer {
  const fail = (message: string): never => {
    throw new ConfigurationError({ provider: 'redis', issues: [{ path, message }] });
  };
  if (Buffer.isBuffer(input) || input instanceof Uint8Array) {
    if (input.byteLength !== 32) fail(`must be 32 bytes, got ${input.byteLength}`);
    return Buffer.from(input);
  }
  if (typeof input !== 'string') return fail('must be a Buffer or a string (64 hex digits or base64 of 32 bytes)');
  const text = input.trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(text)) {
    const key = Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64');
    if (key.byteLength === 32) return key;
  }
  return fail('must be 32 bytes: 64 hex digits or base64 of 32 bytes (e.g. `openssl rand -base64 32`)');
}

/** A cipher for `key` (32 bytes). The cache key is bound as associated data: a value moved to another key fails. */
export function createValueCipher(key: Buffer): RedisValueCipher {
  const keyId = createHash('sha256').update('@x/redis key id\0').update(key).digest('hex').slice(0, 8);
  const associatedData = (cacheKey: string): Buffer => Buffer.from(`${formatVersion}.${keyId}.${cacheKey}`, 'utf8');

  return {
    keyId,
    encrypt(value, cacheKey) {
      const iv = randomBytes(ivBytes);
      const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: tagBytes });
      cipher.setAAD(associatedData(cacheKey));
      const sealed = Buffer.concat([cipher.update(value, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return `${formatVersion}.${keyId}.${iv.toString('base64url')}.${sealed.toString('base64url')}`;
    },
    decrypt(stored, cacheKey) {
      if (!isEncryptedValue(stored)) return { ok: false, reason: 'not-encrypted' };
      const parts = stored.split('.');
      if (parts.length !== 4) return { ok: false, reason: 'malformed' };
      const [, storedKeyId, ivText, sealedText] = parts as [string, string, string, string];
      if (storedKeyId !== keyId) return { ok: false, reason: 'unknown-key' };
      const iv = Buffer.from(ivText, 'base64url');
      const sealed = Buffer.from(sealedText, 'base64url');
      if (iv.byteLength !== ivBytes || sealed.byteLength < tagBytes) return { ok: false, reason: 'malformed' };
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: tagBytes });
        decipher.setAAD(associatedData(cacheKey));
        decipher.setAuthTag(sealed.subarray(sealed.byteLength - tagBytes));
        const plain = Buffer.concat([decipher.update(sealed.subarray(0, sealed.byteLength - tagBytes)), decipher.final()]);
        return { ok: true, value: plain.toString('utf8') };
      } catch {
        return { ok: false, reason: 'authentication-failed' };
      }
    },
  };
}

/**
 * A cipher over a key ring: values are written under `ciphers[0]` (the current key) and read under whichever key
 * their key id names, so values written before a rotation stay readable until they expire.
 */
export function createKeyRingCipher(ciphers: readonly [RedisValueCipher, ...RedisValueCipher[]]): RedisValueCipher {
  const [current] = ciphers;
  if (ciphers.length === 1) return current;
  const byKeyId = new Map(ciphers.map((cipher) => [cipher.keyId, cipher] as const));
  return {
    keyId: current.keyId,
    encrypt: (value, cacheKey) => current.encrypt(value, cacheKey),
    decrypt(stored, cacheKey) {
      const cipher = isEncryptedValue(stored) ? byKeyId.get(stored.split('.', 3)[1] ?? '') : undefined;
      return (cipher ?? current).decrypt(stored, cacheKey);
    },
  };
}
