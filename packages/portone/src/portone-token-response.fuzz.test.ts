/**
 * Property-based fuzzing of what the login endpoint answers, by the provider conformance suite with PortOne's own
 * bodies (`portone-conformance.ts`), and of what the refresh endpoint answers, which only PortOne has: whatever it
 * says, the provider returns a token or a typed error, logs in once exactly when the refresh was refused, and never
 * shows the refresh token it presented.
 * `FC_NUM_RUNS` overrides the number of cases (500) and `FC_SEED` the seed, which is fixed so a failure replays.
 */
import { inspect } from 'node:util';
import { isAuthError, type TokenRequestContext } from '@x/core';
import { describeTokenResponseConformance } from '@x/core/testing/conformance';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { portOneConformance, portOneJwt, portOneTokenBody } from '../test/portone-conformance.js';
import { createPortOneProvider } from './portone-token-provider.js';
import { createPortOneEmulator, type PortOneEmulator, type PortOneFault } from './testing/index.js';

describeTokenResponseConformance(portOneConformance);

/** Where an answer quotes the refresh token it was sent. */
const echo = '{{refreshToken}}';

describe('PortOne refresh answers, fuzzed', () => {
  let emulator: PortOneEmulator;

  beforeAll(async () => {
    emulator = await createPortOneEmulator();
  });

  afterAll(async () => {
    await emulator.close();
  });

  const context = (state?: string): TokenRequestContext => ({
    signal: AbortSignal.timeout(5_000),
    fetch: globalThis.fetch,
    now: Date.now,
    state,
  });
  const body = fc.oneof(
    fc.constant(portOneTokenBody(portOneJwt({ iat: 1_700_000_000, exp: 1_700_001_800 }))),
    fc
      .record({ type: fc.constantFrom('INVALID_REQUEST', 'UNAUTHORIZED', 'FORBIDDEN', 'X'), message: fc.string() })
      .map((error) => JSON.stringify(error)),
    fc.constantFrom(
      JSON.stringify({ type: 'UNAUTHORIZED', message: `spent: ${echo}` }),
      `<html>${echo}</html>`,
      JSON.stringify({ refreshToken: echo }),
    ),
    fc.jsonValue().map((value) => JSON.stringify(value) ?? 'null'),
  );
  const answer = fc.oneof(
    fc.record({
      status: fc.oneof(
        fc.constant(200),
        fc.integer({ min: 400, max: 599 }).filter((status) => status !== 421),
      ),
      body,
    }),
    fc.constantFrom({ status: 0, body: 'drop' }, { status: 0, body: 'reset' }),
  );

  it('should end in a token or a typed error, logging in once exactly when the refresh was refused', async () => {
    const provider = createPortOneProvider({ apiSecret: emulator.defaultMerchant.apiSecret, baseUrl: emulator.url });
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(answer, async ({ status, body }) => {
        emulator.clearFaults();
        const { state = '' } = await provider.requestToken(context());
        emulator.resetCounters();
        const fault: PortOneFault =
          status === 0 ? { kind: body as 'drop' | 'reset' } : { kind: 'raw', status, body: body.split(echo).join(state) };
        emulator.fault({ ...fault, target: 'refresh' });
        const outcome = await provider.requestToken(context(state)).then(
          (token) => ({ token }),
          (error: unknown) => ({ error }),
        );
        const wasRefused = status === 400 || status === 401 || status === 403;
        if (wasRefused) refused += 1;
        expect(emulator.counters).toMatchObject({ refreshRequests: 1, loginRequests: wasRefused ? 1 : 0 });
        if ('error' in outcome) {
          expect(isAuthError(outcome.error), inspect(outcome.error)).toBe(true);
          for (const text of [
            String(outcome.error),
            inspect(outcome.error, { depth: 10, showHidden: true }),
            JSON.stringify(outcome.error),
          ]) {
            expect(text).not.toContain(state);
            expect(text).not.toContain(emulator.defaultMerchant.apiSecret);
          }
        }
      }),
      { seed: Number(process.env.FC_SEED ?? 20_261_130), numRuns: Math.ceil(Number(process.env.FC_NUM_RUNS ?? 500) / 2) },
    );
    expect(refused).toBeGreaterThan(0);
  }, 120_000);
});
