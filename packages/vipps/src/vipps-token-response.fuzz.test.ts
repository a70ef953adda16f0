/**
 * Property-based fuzzing of what both token endpoints answer, by the provider conformance suite with Vipps' own
 * bodies (`vipps-conformance.ts`), and the regressions only Vipps' number fields can make.
 * `FC_NUM_RUNS` overrides the number of cases (500) and `FC_SEED` the seed, which is fixed so a failure replays.
 */
import { isTokenResponseError } from '@x/core';
import { describeTokenResponseConformance } from '@x/core/testing/conformance';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vippsConformance, vippsTokenBody } from '../test/vipps-conformance.js';
import { createVippsEmulator, type VippsEmulator, vippsEmulatorDefaultMerchant } from './testing/index.js';
import { createVippsProvider } from './vipps-token-provider.js';

describeTokenResponseConformance(vippsConformance);

describe('Vipps token responses, regressions found by fuzzing', () => {
  let emulator: VippsEmulator;

  beforeAll(async () => {
    emulator = await createVippsEmulator();
  });

  afterAll(async () => {
    await emulator.close();
  });

  it('should refuse a numeric expiry too large to count in milliseconds', async () => {
    // The i'mport fuzzer's counterexample (`1e+306` seconds) applies here too: `expires_in` and `expires_on` may be
    // JSON numbers, and `expires_in: 1e306` made the provider return `expiresAt: Infinity`.
    for (const field of ['expires_in', 'expires_on'] as const) {
      emulator.clearFaults();
      const body = JSON.stringify(vippsTokenBody('accesstoken', 'eyJ0eXAi.eyJpc3Mi.c2lnbmF0dXJl', 1_700_000_000, 3600)).replace(
        new RegExp(`"${field}":"[0-9]+"`),
        `"${field}":1e306`,
      );
      emulator.fault({ kind: 'raw', body, count: 1 });
      const provider = createVippsProvider({ ...vippsEmulatorDefaultMerchant, baseUrl: emulator.url });
      const error = await provider.requestToken({ signal: AbortSignal.timeout(5_000), fetch: globalThis.fetch, now: Date.now }).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(isTokenResponseError(error), field).toBe(true);
      expect(error).toMatchObject({ provider: 'vipps', field });
    }
  });
});
