import { describe, expect, it } from 'vitest';
import { resolveCachePolicy } from './cache-policy.js';
import { TokenRequestError } from './errors.js';
import { minimumRetryDelayMs, retryAfterMs, TokenBackoff } from './token-backoff.js';

const policy = resolveCachePolicy('test', { retryBaseDelayMs: 1_000, retryMaxDelayMs: 8_000 });
const now = Date.UTC(2026, 10, 30);

function refusal(status: number, retryAfter?: string): TokenRequestError {
  const headers = retryAfter === undefined ? undefined : { 'retry-after': retryAfter };
  return new TokenRequestError('refused', {
    provider: 'test',
    reason: 'http',
    retryable: true,
    status,
    response: new Response(null, { status, headers }),
  });
}

describe('TokenBackoff', () => {
  it('should double its ceiling with each failure up to retryMaxDelayMs, and start again after reset', () => {
    const backoff = new TokenBackoff(policy, () => 0.999_999);
    const steps = Array.from({ length: 6 }, () => Math.round(backoff.afterFailure(undefined, now)));
    expect(steps).toEqual([1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
    backoff.reset();
    expect(Math.round(backoff.afterFailure(undefined, now))).toBe(1_000);
  });

  it('should never draw less than the floor, so a draw of 0 cannot let every call start a request', () => {
    const backoff = new TokenBackoff(policy, () => 0);
    expect(backoff.afterFailure(undefined, now)).toBe(minimumRetryDelayMs);
  });

  it("should wait at least a 429's or 503's Retry-After, capped by retryMaxDelayMs", () => {
    expect(new TokenBackoff(policy, () => 0).afterFailure(refusal(429, '5'), now)).toBe(5_000);
    expect(new TokenBackoff(policy, () => 0).afterFailure(refusal(503, '3600'), now)).toBe(8_000);
    expect(new TokenBackoff(policy, () => 0).afterFailure(refusal(500, '5'), now)).toBe(minimumRetryDelayMs);
  });

  it('should grow the step for tokens refused on their first use, and start again after a quiet spell', () => {
    const backoff = new TokenBackoff(policy, () => 0.999_999);
    expect([0, 1, 2].map((second) => Math.round(backoff.afterRefusal(second * 1_000)))).toEqual([1_000, 2_000, 4_000]);
    expect(Math.round(backoff.afterRefusal(2_000 + 2 * 8_000 + 1))).toBe(1_000);
  });
});

describe('retryAfterMs', () => {
  it('should read seconds and HTTP dates, and ignore anything else', () => {
    expect(retryAfterMs(refusal(429, '30'), now)).toBe(30_000);
    expect(retryAfterMs(refusal(503, new Date(now + 45_000).toUTCString()), now)).toBe(45_000);
    expect(retryAfterMs(refusal(503, new Date(now - 45_000).toUTCString()), now)).toBe(0);
    expect(retryAfterMs(refusal(429, 'soon'), now)).toBeUndefined();
    expect(retryAfterMs(refusal(429, '-5'), now)).toBeUndefined();
    expect(retryAfterMs(refusal(429), now)).toBeUndefined();
    expect(retryAfterMs(new Error('not ours'), now)).toBeUndefined();
  });
});
