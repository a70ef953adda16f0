/**
 * Property-based fuzzing of what the token endpoint answers, by the provider conformance suite with i'mport's own
 * envelopes (`iamport-conformance.ts`), and the regressions only i'mport's envelope can make.
 * `FC_NUM_RUNS` overrides the number of cases (500) and `FC_SEED` the seed, which is fixed so a failure replays.
 */
import { isTokenResponseError } from '@x/core';
import { describeTokenResponseConformance } from '@x/core/testing/conformance';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { iamportConformance } from '../test/iamport-conformance.js';
import { createIamportProvider } from './iamport-token-provider.js';
import { createIamportEmulator, type IamportEmulator } from './testing/index.js';

describeTokenResponseConformance(iamportConformance);

describe("i'mport token responses, regressions found by fuzzing", () => {
  let emulator: IamportEmulator;

  beforeAll(async () => {
    emulator = await createIamportEmulator({ tokenFormat: 'canary' });
  });

  afterAll(async () => {
    await emulator.close();
  });

  it('should refuse an expiry too large to count in milliseconds', async () => {
    // Shrunk counterexample: `"expired_at":1e+306` is a whole number, and the provider returned `expiresAt: Infinity`.
    for (const expiredAt of ['1e+306', '9007199254740993']) {
      emulator.clearFaults();
      const body = `{"code":0,"message":null,"response":{"access_token":"${'a'.repeat(40)}","now":1600000000,"expired_at":${expiredAt}}}`;
      emulator.fault({ kind: 'raw', body });
      const provider = createIamportProvider({ ...emulator.defaultMerchant, baseUrl: emulator.url });
      const error = await provider.requestToken({ signal: AbortSignal.timeout(5_000), fetch: globalThis.fetch, now: Date.now }).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(isTokenResponseError(error), expiredAt).toBe(true);
      expect(error).toMatchObject({ provider: 'iamport', field: 'response.expired_at' });
    }
  });
});
