import { describe, expect, it } from 'vitest';
import { defaultCachePolicy, durationProblem, maxDurationMs, resolveCachePolicy } from './cache-policy.js';
import { ConfigurationError, isConfigurationError } from './errors.js';

describe('defaultCachePolicy', () => {
  it('should hold the documented defaults and be frozen', () => {
    expect(defaultCachePolicy).toEqual({
      refreshAheadMs: 300_000,
      refreshAheadJitter: 0.2,
      minValidityMs: 10_000,
      requestTimeoutMs: 10_000,
      retryBaseDelayMs: 1_000,
      retryMaxDelayMs: 60_000,
      failureCooldownMs: 10_000,
      lockWaitMs: 5_000,
      storeTimeoutMs: 1_000,
      maxRefreshAheadMs: maxDurationMs,
    });
    expect(Object.isFrozen(defaultCachePolicy)).toBe(true);
  });
});

describe('durationProblem', () => {
  it('should accept 0 to 2^31-1 ms and name what is wrong with anything else', () => {
    expect(durationProblem(0)).toBeUndefined();
    expect(durationProblem(maxDurationMs)).toBeUndefined();
    expect(durationProblem(2 ** 31)).toMatch(/^must be at most 2147483647 /);
    expect(durationProblem(Number.POSITIVE_INFINITY)).toBe('must be a finite number of at least 0');
    expect(durationProblem(-1)).toBe('must be a finite number of at least 0');
    expect(durationProblem('10')).toBe('must be a finite number of at least 0');
    expect(durationProblem(0, { positive: true })).toBe('must be a finite number greater than 0');
    expect(durationProblem(0.5, { positive: true })).toBeUndefined();
  });
});

describe('resolveCachePolicy', () => {
  it('should start from the defaults', () => {
    const policy = resolveCachePolicy('test');
    expect(policy).toEqual(defaultCachePolicy);
    expect(policy).not.toBe(defaultCachePolicy);
    expect(Object.isFrozen(policy)).toBe(true);
  });

  it('should apply layers in order, field by field, skipping undefined values and unknown keys', () => {
    const policy = resolveCachePolicy('iamport', { refreshAheadMs: 60_000, minValidityMs: 5_000 }, undefined, {
      refreshAheadMs: 120_000,
      minValidityMs: undefined,
      unknown: 1,
    } as Record<string, number | undefined>);
    expect(policy).toEqual({ ...defaultCachePolicy, refreshAheadMs: 120_000, minValidityMs: 5_000 });
    expect(policy).not.toHaveProperty('unknown');
  });

  it("should hold refreshAheadMs to the provider's maxRefreshAheadMs whichever layer sets it, unless a layer lifts the bound", () => {
    // i'mport's tuning bounds the window to its last minute; a registry-wide policy meant for Vipps asks for 5 minutes.
    const tuning = { refreshAheadMs: 50_000, maxRefreshAheadMs: 60_000 };
    expect(resolveCachePolicy('iamport', tuning, { refreshAheadMs: 300_000 })).toMatchObject({ refreshAheadMs: 60_000 });
    expect(resolveCachePolicy('iamport', tuning, { refreshAheadMs: 30_000 })).toMatchObject({ refreshAheadMs: 30_000 });
    expect(resolveCachePolicy('iamport', tuning)).toMatchObject({ refreshAheadMs: 50_000, maxRefreshAheadMs: 60_000 });
    // Only on purpose: a layer that sets the bound itself.
    expect(resolveCachePolicy('iamport', tuning, { refreshAheadMs: 300_000, maxRefreshAheadMs: maxDurationMs })).toMatchObject({
      refreshAheadMs: 300_000,
    });
    expect(() => resolveCachePolicy('iamport', { maxRefreshAheadMs: -1 })).toThrow(/policy\.maxRefreshAheadMs: must be a finite number/);
  });

  it('should accept zero, e.g. to disable jitter', () => {
    expect(resolveCachePolicy('test', { refreshAheadJitter: 0, refreshAheadMs: 0 })).toMatchObject({
      refreshAheadJitter: 0,
      refreshAheadMs: 0,
    });
  });

  it('should name every bad field at once in a ConfigurationError', () => {
    let caught: unknown;
    try {
      resolveCachePolicy('vipps', {
        refreshAheadMs: -1,
        requestTimeoutMs: Number.NaN,
        lockWaitMs: Number.POSITIVE_INFINITY,
        minValidityMs: '10' as unknown as number,
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigurationError);
    expect(isConfigurationError(caught)).toBe(true);
    const error = caught as ConfigurationError;
    expect(error.provider).toBe('vipps');
    expect(error.issues.map((issue) => issue.path).sort()).toEqual([
      'policy.lockWaitMs',
      'policy.minValidityMs',
      'policy.refreshAheadMs',
      'policy.requestTimeoutMs',
    ]);
    expect(error.message).toContain('policy.refreshAheadMs: must be a finite number of at least 0');
  });

  it('should refuse a duration over 2^31-1 ms, which a timer fires after 1 ms, in every duration field', () => {
    const durations = Object.keys(defaultCachePolicy).filter((key) => key.endsWith('Ms'));
    expect(durations).toHaveLength(9);
    // 2^31 ms as requestTimeoutMs would abort every token request after 1 ms: Node clamps the timer to 1 ms.
    const tooLong = Object.fromEntries(durations.map((key) => [key, 2 ** 31]));
    let caught: unknown;
    try {
      resolveCachePolicy('iamport', tooLong);
    } catch (error) {
      caught = error;
    }
    expect(isConfigurationError(caught)).toBe(true);
    const error = caught as ConfigurationError;
    expect(error.issues.map((issue) => issue.path).sort()).toEqual(durations.map((key) => `policy.${key}`).sort());
    expect(error.message).toContain('policy.requestTimeoutMs: must be at most 2147483647');

    const longest = Object.fromEntries(durations.map((key) => [key, maxDurationMs]));
    expect(resolveCachePolicy('iamport', longest)).toMatchObject(longest);
    expect(maxDurationMs).toBe(2 ** 31 - 1);
  });

  it('should reject a jitter above 1 and a maximum retry delay below the base delay', () => {
    expect(() => resolveCachePolicy('test', { refreshAheadJitter: 1.5 })).toThrow(/policy\.refreshAheadJitter: must be at most 1/);
    expect(() => resolveCachePolicy('test', { refreshAheadJitter: 1 })).not.toThrow();
    expect(() => resolveCachePolicy('test', { retryBaseDelayMs: 5_000, retryMaxDelayMs: 1_000 })).toThrow(
      /policy\.retryMaxDelayMs: must be at least retryBaseDelayMs/,
    );
  });
});
