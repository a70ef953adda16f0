/**
 * Property-based fuzzing of what the token endpoint answers: arbitrary bytes, arbitrary JSON, mutated token
 * envelopes, random statuses and content types, truncated, reset, stalled and huge bodies, all served by the real
 * emulator over 127.0.0.1. Whatever comes back, the token cache settles in bounded time with a usable token or an
 * error of the `AuthError` hierarchy that shows neither the secret nor the token the server sent.
 * `FC_NUM_RUNS` overrides the number of cases and `FC_SEED` the seed, which is fixed so a failure replays.
 */
import { gzipSync } from 'node:zlib';
import { createTokenCache, isTokenRequestError, isTokenResponseError } from '@x/core';
import { createCanary, type ForeignOrigin, type RawResponse, startForeignOrigin } from '@x/core/testing';
import {
  createTokenResponseFuzzKit,
  createTokenResponseFuzzTally,
  describeTokenResponseFuzzTally,
  type TokenResponseFuzzCase,
  type TokenResponseFuzzFault,
  type TokenResponseFuzzGateway,
} from '@x/core/testing/fuzz';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIamportProvider } from './iamport-token-provider.js';
import { createIamportEmulator, type IamportEmulator, iamportEmulatorDefaultMerchant } from './testing/index.js';

const seed = Number(process.env.FC_SEED ?? 20_261_122);
const numRuns = Number(process.env.FC_NUM_RUNS ?? 500);
const fuzz = createTokenResponseFuzzKit(fc);

/** i'mport has one token request, so a case's variant is always `undefined`. */
type FuzzCase = TokenResponseFuzzCase<undefined>;

let emulator: IamportEmulator;
let foreign: ForeignOrigin;
const foreignToken = `foreign${'f'.repeat(33)}`;
const tally = createTokenResponseFuzzTally();

/** A successful token envelope as i'mport sends it. */
function tokenBody(accessToken: string, lifetimeSeconds = 1800, now = 1_700_000_000): string {
  return JSON.stringify({ code: 0, message: null, response: { access_token: accessToken, now, expired_at: now + lifetimeSeconds } });
}

beforeAll(async () => {
  emulator = await createIamportEmulator();
  foreign = await startForeignOrigin(tokenBody(foreignToken));
});

afterAll(async () => {
  await emulator.close();
  await foreign.close();
  console.info(`iamport token response fuzz: ${describeTokenResponseFuzzTally(tally)}`);
});

const token = fc.stringMatching(/^[0-9a-f]{40}$/);
const serverSeconds = fc.integer({ min: 1_600_000_000, max: 2_000_000_000 });
/** A value of the wrong kind for any field, including numbers JSON can carry but a clock cannot use. */
const oddValue = fc.oneof(
  fc.jsonValue(),
  fc.constantFrom(-1, 0, 1.5, 1e300, -1e300, 1e306, Number.MAX_VALUE, Number.MAX_SAFE_INTEGER + 2, '1800', '', ' ', null, [], {}, true),
);

function raw(label: string, response: RawResponse, rest: Partial<FuzzCase> = {}): FuzzCase {
  return { label, variant: undefined, fault: { kind: 'raw', ...response }, outcome: 'any', ...rest };
}

const validCase = fc.record({ token, now: serverSeconds, lifetime: fc.integer({ min: 60, max: 86_400 }) }).map(({ token, now, lifetime }) =>
  raw(
    'valid',
    { body: tokenBody(token, lifetime, now) },
    {
      sentToken: token,
      outcome: 'token',
    },
  ),
);

const fieldPaths = ['code', 'message', 'response', 'response.access_token', 'response.now', 'response.expired_at'] as const;

/** A valid envelope with one thing wrong: a field removed, of the wrong kind, an odd expiry, an odd token. */
const mutatedCase = fc
  .record({
    token,
    now: serverSeconds,
    mutation: fc.oneof(
      fc.record({ remove: fc.constantFrom(...fieldPaths) }),
      fc.record({ set: fc.constantFrom(...fieldPaths), value: oddValue }),
      fc.record({
        expiredAtOffset: fc.oneof(fc.integer({ min: -100_000, max: 1 }), fc.constantFrom(1e12, 1e15, 1e20, 1e306, Number.MAX_VALUE, 0.5)),
      }),
      fc.record({ accessToken: fc.oneof(fc.constant(''), fc.string({ unit: 'binary', maxLength: 20 })) }),
      fc.record({ numberText: fc.constantFrom('1e400', '-0', '1E3', '00', '.5', '0x10', 'NaN', 'Infinity') }),
    ),
    status: fc.oneof(fc.constant(200), fuzz.status),
    contentType: fuzz.contentType,
    delivery: fuzz.delivery,
  })
  .map(({ token, now, mutation, status, contentType, delivery }) => {
    const response: Record<string, unknown> = { access_token: token, now, expired_at: now + 1800 };
    const body: Record<string, unknown> = { code: 0, message: null, response };
    let text: string | undefined;
    let label: string;
    if ('remove' in mutation) {
      label = 'field removed';
      const [outer, inner] = mutation.remove.split('.') as [string, string | undefined];
      if (inner === undefined) delete body[outer];
      else delete response[inner];
    } else if ('set' in mutation) {
      label = 'field of the wrong kind';
      const [outer, inner] = mutation.set.split('.') as [string, string | undefined];
      if (inner === undefined) body[outer] = mutation.value;
      else response[inner] = mutation.value;
    } else if ('expiredAtOffset' in mutation) {
      label = 'odd expiry';
      response.expired_at = now + mutation.expiredAtOffset;
    } else if ('accessToken' in mutation) {
      label = 'odd token';
      response.access_token = mutation.accessToken;
    } else {
      label = 'odd number text';
      text = JSON.stringify(body).replace(`"expired_at":${now + 1800}`, `"expired_at":${mutation.numberText}`);
    }
    const sentToken = typeof response.access_token === 'string' ? response.access_token : token;
    return raw(label, { status, contentType, body: text ?? JSON.stringify(body), ...delivery }, { sentToken });
  });

/**
 * An answer that echoes the secret, as a careless gateway or proxy might: in the error envelope's message, in the
 * status text, or in the content type of a body that is not JSON.
 */
const echoCase = fc
  .record({
    status: fc.constantFrom(200, 400, 401, 403, 500, 503),
    code: fc.integer({ min: -10, max: 10 }).filter((code) => code !== 0),
    where: fc.constantFrom('message', 'status text', 'content type'),
    before: fc.string({ maxLength: 20 }),
    after: fc.string({ maxLength: 20 }),
  })
  .map(({ status, code, where, before, after }) => {
    const said = `${before}${iamportEmulatorDefaultMerchant.impSecret}${after}`;
    if (where === 'content type') return raw('secret echoed', { status, contentType: `text/plain; echo=${said}`, body: 'no' });
    const body = JSON.stringify({ code, message: where === 'message' ? said : 'no', response: null });
    return raw('secret echoed', { status, body, ...(where === 'status text' ? { statusText: said } : {}) });
  });

const transportCase = fc
  .oneof(
    fc.constantFrom<TokenResponseFuzzFault>({ kind: 'drop' }, { kind: 'reset' }, { kind: 'truncated' }, { kind: 'malformed' }),
    fc.constantFrom<TokenResponseFuzzFault>(
      {
        kind: 'body',
        body: { code: 0, message: null, response: { access_token: createCanary('', 33), now: '1700000000', expired_at: '1700001800' } },
      },
      { kind: 'body', body: { code: 0, message: null, response: { now: 1_700_000_000, expired_at: 1_700_001_800 } } },
    ),
    fc.record({ kind: fc.constantFrom('status', 'html'), status: fuzz.errorStatus }),
    fc
      .integer({ min: -5, max: 5 })
      .filter((code) => code !== 0)
      .map((code): TokenResponseFuzzFault => ({ kind: 'body', body: { code, message: '요청을 처리할 수 없습니다.', response: null } })),
    fuzz.cutShort.map((raw) => ({ kind: 'raw' as const, ...raw })),
  )
  .map((fault): FuzzCase => ({ label: `fault ${fault.kind}`, variant: undefined, fault, outcome: 'any' }));

/** A valid envelope, gzip-compressed: it must still give its token. */
const gzipCase = fc.record({ token, now: serverSeconds }).map(({ token, now }) =>
  raw(
    'gzip',
    {
      headers: { 'content-encoding': 'gzip' },
      body: gzipSync(tokenBody(token, 1800, now)),
    },
    { sentToken: token, outcome: 'token' },
  ),
);

const iamportGateway: TokenResponseFuzzGateway<undefined> = {
  variant: fc.constant(undefined),
  stalledBodyStart: '{"code":0,',
  hugeBody: (padding) => `{"code":0,"message":"${padding}","response":null}`,
  hugeErrorStatus: 500,
  redirectPaths: ['/users/getToken', '/steal'],
  valid: validCase,
  mutated: mutatedCase,
  secretEchoed: echoCase,
  transport: transportCase,
  gzipped: gzipCase,
};

describe("i'mport token responses, fuzzed", () => {
  it(
    'should end every answer in a valid token or a typed error, in bounded time, without leaking',
    async () => {
      await fuzz.run({
        gateway: iamportGateway,
        serve: (fuzzCase) => {
          emulator.clearFaults();
          emulator.fault(fuzzCase.fault);
        },
        provider: () => createIamportProvider({ ...emulator.defaultMerchant, baseUrl: emulator.url }),
        secrets: [emulator.defaultMerchant.impSecret],
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

describe("i'mport token responses, regressions found by fuzzing", () => {
  it('should refuse an access token that cannot go into an Authorization header', async () => {
    // Shrunk counterexample: `"access_token":"\u0000"` was handed out, and the first API call threw a TypeError.
    for (const accessToken of ['\u0000', 'abc def', 'tökén', 'line\nbreak', '']) {
      emulator.clearFaults();
      emulator.fault({ kind: 'raw', body: tokenBody(accessToken) });
      const cache = createTokenCache(createIamportProvider({ ...emulator.defaultMerchant, baseUrl: emulator.url }));
      const error = await cache.getToken().then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(isTokenResponseError(error), JSON.stringify(accessToken)).toBe(true);
      expect(error).toMatchObject({ provider: 'iamport', field: 'response.access_token' });
    }
  });

  it('should not follow a redirect, neither resending the secret nor taking the other origin’s token', async () => {
    // Shrunk counterexample: a 301 to another origin gave that origin's token; a 307 or 308 re-POSTs imp_secret there.
    for (const status of [301, 302, 303, 307, 308]) {
      emulator.clearFaults();
      emulator.fault({ kind: 'raw', status, headers: { location: `${foreign.url}/users/getToken` }, body: '' });
      foreign.received.length = 0;
      const cache = createTokenCache(createIamportProvider({ ...emulator.defaultMerchant, baseUrl: emulator.url }));
      const error = await cache.getToken().then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(isTokenRequestError(error), String(status)).toBe(true);
      expect(error).toMatchObject({ provider: 'iamport', status });
      expect(foreign.received).toEqual([]);
    }
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

  it('should hand out a token that lives for decades without a TimeoutOverflowWarning', async () => {
    // Shrunk counterexample: `expired_at` 10^15 s after `now` made the cache arm a timer Node cannot wait that long for.
    const seen: Error[] = [];
    const listener = (warning: Error): void => {
      seen.push(warning);
    };
    process.on('warning', listener);
    try {
      emulator.clearFaults();
      emulator.fault({ kind: 'raw', body: tokenBody('a'.repeat(40), 1_000_000_000) });
      const cache = createTokenCache(createIamportProvider({ ...emulator.defaultMerchant, baseUrl: emulator.url }));
      expect((await cache.getToken()).accessToken).toBe('a'.repeat(40));
      expect((await cache.getToken()).accessToken).toBe('a'.repeat(40));
      await new Promise((resolve) => setImmediate(resolve));
      expect(seen.map(String)).toEqual([]);
    } finally {
      process.off('warning', listener);
    }
  });
});
