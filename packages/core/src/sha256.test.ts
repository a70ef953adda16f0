import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cacheKeyOf, fingerprint } from './fingerprint.js';
import { sha256Hex } from './sha256.js';

const seed = Number(process.env.FC_SEED ?? 20_261_122);

function nodeSha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

describe('sha256Hex', () => {
  it('should give the FIPS 180-4 test vectors', () => {
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
  });

  it('should agree with node:crypto at every length around the block and padding boundaries', () => {
    for (let length = 0; length <= 200; length += 1) {
      const text = 'x'.repeat(length);
      expect(sha256Hex(text), `length ${length}`).toBe(nodeSha256(text));
    }
  });

  it('should agree with node:crypto on any string, astral and lone surrogates included', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (text) => sha256Hex(text) === nodeSha256(text)),
      { seed, numRuns: 2_000 },
    );
    // 2,000 hashes in plain JavaScript: well under a second alone, but a 2-core machine running the whole suite (and
    // more) once took over 5 s, Vitest's default.
  }, 60_000);

  it('should agree with node:crypto on a message of several blocks', () => {
    const text = 'ü€𝄞'.repeat(10_000);
    expect(sha256Hex(text)).toBe(nodeSha256(text));
  });
});

describe('cacheKeyOf and fingerprint', () => {
  it('should keep the keys and fingerprints that node:crypto gave, so stored tokens stay shared', () => {
    const parts = ['https://api.iamport.kr', 'imp_key', 'imp_secret'];
    const hash = createHash('sha256');
    for (const part of parts) hash.update(`${part.length}:${part}`);
    expect(cacheKeyOf('iamport', parts)).toBe(`iamport:${hash.digest('hex').slice(0, 32)}`);
    expect(fingerprint('token')).toBe(nodeSha256('token').slice(0, 8));
  });
});
