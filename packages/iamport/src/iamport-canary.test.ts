/**
 * Secret canaries: the provider conformance suite's every failure path of the i'mport provider, cache, bearer fetch,
 * undici interceptor and registry, against the emulator, with i'mport's own envelopes among the faults
 * (`iamport-conformance.ts`).
 */
import { createTokenCache } from '@x/core';
import { containsCanary } from '@x/core/testing';
import { describeCanaryConformance } from '@x/core/testing/conformance';
import { describe, expect, it } from 'vitest';
import { iamportConformance } from '../test/iamport-conformance.js';
import { createIamportProvider } from './iamport-token-provider.js';

describeCanaryConformance(iamportConformance);

describe("i'mport canary emulator", () => {
  it('should issue canary-marked tokens, so that a token in any output is found', async () => {
    const emulator = await iamportConformance.createEmulator();
    try {
      const provider = createIamportProvider(iamportConformance.settingsFor(emulator.url));
      const { accessToken } = await createTokenCache(provider).getToken();
      expect(containsCanary(accessToken)).toBe(true);
    } finally {
      await emulator.close();
    }
  });
});
