import { isRedisServerAvailable, redisInstallHint } from '@x/redis/testing';
import { describe, expect, it } from 'vitest';
import { runFleet } from './fleet.js';

const runnable = isRedisServerAvailable() || process.env.X_REQUIRE_REDIS === '1';
if (!runnable) console.warn(`Skipping the fleet example: redis-server is not on PATH; ${redisInstallHint}.`);

describe.skipIf(!runnable)('fleet example', () => {
  it('should make one token request per merchant for the whole fleet', { timeout: 60_000 }, async () => {
    const lines: string[] = [];
    const result = await runFleet({ workers: 3, callsPerMerchant: 2, log: (line) => lines.push(line) });

    expect(result.tokenRequestsByMerchant).toEqual({ imp_shop_seoul: 1, imp_shop_busan: 1, imp_shop_jeju: 1 });
    expect(result.apiCalls).toBe(3 * 3 * 2);
    expect(result.workers.map((worker) => worker.failures)).toEqual([0, 0, 0]);
    expect(result.workers.reduce((sum, worker) => sum + worker.tokensFromStore, 0)).toBe(6);
    expect(result.sampleStoredValue).toMatch(/^xenc1\./);
    // The secrets and tokens hold the canary mark: none may reach the output or the result.
    expect(lines.length).toBeGreaterThan(0);
    expect(`${lines.join('\n')}${JSON.stringify(result)}`).not.toContain('xcanary');
  });
});
