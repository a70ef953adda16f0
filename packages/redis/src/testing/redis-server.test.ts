import { isConfigurationError } from '@x/core';
import { describe, expect, it } from 'vitest';
import { startRedisServer } from './redis-server.js';

describe('startRedisServer', () => {
  it('should refuse a startTimeoutMs over 2^31-1 ms, which a timer fires after 1 ms, before starting anything', async () => {
    const error = await startRedisServer({ startTimeoutMs: 2 ** 31 }).catch((caught: unknown) => caught);
    expect(isConfigurationError(error)).toBe(true);
    expect(error).toMatchObject({ issues: [{ path: 'startTimeoutMs', message: expect.stringMatching(/^must be at most 2147483647 /) }] });
  });
});
