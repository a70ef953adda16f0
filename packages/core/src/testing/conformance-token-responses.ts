import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTokenRequestError, isTokenResponseError } from '../errors.js';
import { createTokenCache } from '../token-cache.js';
import { type ForeignOrigin, startForeignOrigin } from './foreign-origin.js';
import { type ConformanceEmulator, conformanceSecrets, type ProviderConformanceGateway } from './provider-conformance.js';
import { createTokenResponseFuzzKit, createTokenResponseFuzzTally, describeTokenResponseFuzzTally } from './token-response-fuzz.js';

/** The fuzz's fixed seed: a failure replays. `FC_SEED` overrides it. */
const defaultSeed = 20_261_122;
/** Cases per gateway. `FC_NUM_RUNS` overrides it (`pnpm fuzz:responses` runs 5,000). */
const defaultNumRuns = 500;

/** Access tokens no `Authorization` header can carry, each found by fuzzing. */
const unusableTokens = ['\u0000', 'abc def', 'eyJ0 eXAi', 'tökén', 'line\nbreak', ''];

/**
 * The token-response fuzz: arbitrary bytes, arbitrary JSON, the gateway's mutated token responses, random statuses and
 * content types, truncated, reset, stalled, huge and compressed bodies, redirects, all served by the gateway's emulator
 * over 127.0.0.1. Whatever comes back, the token cache settles in bounded time with a usable token or an error of the
 * `AuthError` hierarchy that shows neither a secret nor the token the server sent. Then the regressions fuzzing found,
 * for every variant. Prints its tally; `FC_NUM_RUNS` overrides the number of cases (500) and `FC_SEED` the seed.
 *
 * @example
 * describeTokenResponseConformance(iamportConformance);
 */
export function describeTokenResponseConformance<Settings extends object, Target extends string, Variant>(
  gateway: ProviderConformanceGateway<Settings, Target, Variant>,
): void {
  const seed = Number(process.env.FC_SEED ?? defaultSeed);
  const numRuns = Number(process.env.FC_NUM_RUNS ?? defaultNumRuns);
  const fuzz = createTokenResponseFuzzKit(gateway.fc);
  const fuzzGateway = gateway.tokenResponses.fuzzGateway(fuzz);
  const variants = gateway.variants ?? [undefined as Variant];
  const tally = createTokenResponseFuzzTally();
  let emulator: ConformanceEmulator<Target>;
  let foreign: ForeignOrigin;

  const providerFor = (variant: Variant) => gateway.createProvider(gateway.settingsFor(emulator.url, variant));
  const label = (variant: Variant, value: unknown): string =>
    variant === undefined ? JSON.stringify(value) : `${String(variant)} ${JSON.stringify(value)}`;
  const failureOf = (promise: Promise<unknown>): Promise<unknown> =>
    promise.then(
      () => undefined,
      (caught: unknown) => caught,
    );

  describe(`${gateway.displayName} token responses`, () => {
    beforeAll(async () => {
      emulator = await gateway.createEmulator();
      foreign = await startForeignOrigin(gateway.tokenResponses.foreignTokenBody);
    });

    afterAll(async () => {
      await emulator.close();
      await foreign.close();
      console.info(`${gateway.provider} token response fuzz: ${describeTokenResponseFuzzTally(tally)}`);
    });

    describe('fuzzed', () => {
      it(
        'should end every answer in a valid token or a typed error, in bounded time, without leaking',
        async () => {
          await fuzz.run({
            gateway: fuzzGateway,
            serve: (fuzzCase) => {
              emulator.clearFaults();
              emulator.fault(fuzzCase.fault);
            },
            provider: (fuzzCase) => providerFor(fuzzCase.variant),
            secrets: conformanceSecrets(gateway),
            foreign,
            seed,
            numRuns,
            tally,
          });
          expect(tally.cases).toBeGreaterThanOrEqual(numRuns);
        },
        Math.max(120_000, numRuns * 100),
      );
    });

    describe('regressions found by fuzzing', () => {
      it('should refuse an access token that cannot go into an Authorization header, from every variant', async () => {
        // Shrunk counterexample: `"access_token":"\u0000"` was handed out, and the first API call threw a TypeError.
        for (const variant of variants) {
          for (const accessToken of unusableTokens) {
            emulator.clearFaults();
            emulator.fault({ kind: 'raw', body: gateway.tokenResponses.tokenBody(variant, accessToken, 3600) });
            const cache = createTokenCache(providerFor(variant), { policy: { requestTimeoutMs: 5_000 } });
            const error = await failureOf(cache.getToken());
            expect(isTokenResponseError(error), label(variant, accessToken)).toBe(true);
            expect(error).toMatchObject({ provider: gateway.provider, field: gateway.tokenResponses.accessTokenField });
          }
        }
      });

      it('should not follow a redirect, neither resending a secret nor taking the other origin’s token', async () => {
        // Shrunk counterexample: a 301 to another origin gave that origin's token; a 307 or 308 re-sends the secret.
        const [path = '/'] = fuzzGateway.redirectPaths;
        for (const variant of variants) {
          for (const status of [301, 302, 303, 307, 308]) {
            emulator.clearFaults();
            emulator.fault({ kind: 'raw', status, headers: { location: `${foreign.url}${path}` }, body: '' });
            foreign.received.length = 0;
            const error = await failureOf(createTokenCache(providerFor(variant)).getToken());
            expect(isTokenRequestError(error), label(variant, status)).toBe(true);
            expect(error).toMatchObject({ provider: gateway.provider, status });
            expect(foreign.received).toEqual([]);
          }
        }
      });

      it('should hand out a token that lives for decades without a TimeoutOverflowWarning', async () => {
        // Shrunk counterexample: an expiry 10^15 s ahead made the cache arm a timer Node cannot wait that long for.
        const seen: Error[] = [];
        const listener = (warning: Error): void => {
          seen.push(warning);
        };
        process.on('warning', listener);
        try {
          for (const variant of variants) {
            emulator.clearFaults();
            emulator.fault({ kind: 'raw', body: gateway.tokenResponses.tokenBody(variant, 'a'.repeat(40), 1_000_000_000) });
            const cache = createTokenCache(providerFor(variant));
            expect((await cache.getToken()).accessToken).toBe('a'.repeat(40));
            expect((await cache.getToken()).accessToken).toBe('a'.repeat(40));
          }
          await new Promise((resolve) => setImmediate(resolve));
          expect(seen.map(String)).toEqual([]);
        } finally {
          process.off('warning', listener);
        }
      });
    });
  });
}
