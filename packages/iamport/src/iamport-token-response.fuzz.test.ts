/**
 * Property-based fuzzing of what the token endpoint answers: arbitrary bytes, arbitrary JSON, mutated token
 * envelopes, random statuses and content types, truncated, reset, stalled and huge bodies, all served by the real
 * emulator over 127.0.0.1. Whatever comes back, the token cache settles in bounded time with a usable token or an
 * error of the `AuthError` hierarchy that shows neither the secret nor the token the server sent.
 * `FC_NUM_RUNS` overrides the number of cases and `FC_SEED` the seed, which is fixed so a failure replays.
 */
import { createServer } from 'node:http';
import { inspect } from 'node:util';
import { gzipSync } from 'node:zlib';
import { createTokenCache, isAuthError, isTokenRequestError, isTokenResponseError } from '@x/core';
import { listenOnLoopback, type RawResponse } from '@x/core/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIamportProvider } from './iamport-token-provider.js';
import { createIamportEmulator, type IamportEmulator, type IamportFault, iamportEmulatorDefaultMerchant } from './testing/index.js';

const seed = Number(process.env.FC_SEED ?? 20_261_122);
const numRuns = Number(process.env.FC_NUM_RUNS ?? 500);
/** The cache's token request timeout for an answer that stalls on purpose: only the timeout can end it. */
const stallTimeoutMs = 100;
/** The timeout for every other answer: generous, so a loaded machine never turns a good answer into a timeout. */
const requestTimeoutMs = 5_000;
/** Beyond either timeout: reaching it means something hangs. */
const settleBoundMs = 10_000;
const mebibyte = 1_048_576;

/** One generated answer of the token endpoint and what must come of it. */
interface FuzzCase {
  label: string;
  fault: IamportFault;
  /** The access token in the body, if any: a success must return exactly it, an error must never show it. */
  sentToken?: string | undefined;
  /** The answer never completes, so only the cache's timeout ends it; nothing else may end in a timeout. */
  stalls?: boolean | undefined;
  /** `token`: must succeed; `too-large`: must be refused for its size; `any`: a token or an AuthError. */
  outcome: 'token' | 'too-large' | 'any';
}

let emulator: IamportEmulator;
let foreign: ForeignOrigin;
const foreignToken = `foreign${'f'.repeat(33)}`;
const ran = { cases: 0, tokens: 0, errors: 0, aborts: 0, viaProvider: 0, byLabel: new Map<string, number>() };
/** Process warnings (e.g. `TimeoutOverflowWarning`) are bugs too: each says something was done wrong. */
const warnings: Error[] = [];
const onWarning = (warning: Error): void => {
  warnings.push(warning);
};

beforeAll(async () => {
  emulator = await createIamportEmulator();
  foreign = await startForeignOrigin(
    JSON.stringify({ code: 0, message: null, response: { access_token: foreignToken, now: 1_700_000_000, expired_at: 1_700_001_800 } }),
  );
  process.on('warning', onWarning);
});

afterAll(async () => {
  process.off('warning', onWarning);
  await emulator.close();
  await foreign.close();
  console.info(
    `iamport token response fuzz: ${ran.cases} cases, ${ran.viaProvider} asked of the provider and the rest of the cache (${ran.tokens} tokens, ${ran.errors} typed errors, ${ran.aborts} stalls aborted); ${[...ran.byLabel].map(([label, count]) => `${label} ${count}`).join(', ')}`,
  );
});

const token = fc.stringMatching(/^[0-9a-f]{40}$/);
const serverSeconds = fc.integer({ min: 1_600_000_000, max: 2_000_000_000 });
// Not 421 Misdirected Request: fetch resends that request on a new connection, which the emulator answers normally.
const status = fc.integer({ min: 200, max: 599 }).filter((code) => code !== 421);
const errorStatus = fc.integer({ min: 400, max: 599 }).filter((code) => code !== 421);
const contentType = fc.oneof(
  fc.constantFrom(null, 'application/json', 'application/json; charset=utf-8', 'text/html', 'text/plain', 'application/octet-stream', ''),
  fc.stringMatching(/^[\x20-\x7e]{0,60}$/),
);
/** A value of the wrong kind for any field, including numbers JSON can carry but a clock cannot use. */
const oddValue = fc.oneof(
  fc.jsonValue(),
  fc.constantFrom(-1, 0, 1.5, 1e300, -1e300, 1e306, Number.MAX_VALUE, Number.MAX_SAFE_INTEGER + 2, '1800', '', ' ', null, [], {}, true),
);
/** How the bytes travel: whole, chunked, or cut off by a close or a reset. */
const delivery = fc.constantFrom<Pick<RawResponse, 'chunkSize' | 'ending'>>(
  {},
  { chunkSize: 3 },
  { chunkSize: 3, ending: 'close' },
  { chunkSize: 5, ending: 'reset' },
);

function raw(label: string, response: RawResponse, rest: Partial<FuzzCase> = {}): FuzzCase {
  return { label, fault: { kind: 'raw', raw: response }, outcome: 'any', ...rest };
}

const validCase = fc.record({ token, now: serverSeconds, lifetime: fc.integer({ min: 60, max: 86_400 }) }).map(({ token, now, lifetime }) =>
  raw(
    'valid',
    { body: JSON.stringify({ code: 0, message: null, response: { access_token: token, now, expired_at: now + lifetime } }) },
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
    status: fc.oneof(fc.constant(200), status),
    contentType,
    delivery,
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

const bytesCase = fc
  .record({ body: fc.uint8Array({ maxLength: 2_048 }), status, contentType, delivery })
  .map(({ body, status, contentType, delivery }) => raw('arbitrary bytes', { status, contentType, body, ...delivery }));

const jsonCase = fc
  .record({ value: fc.jsonValue(), status: fc.oneof(fc.constant(200), status), contentType, delivery })
  .map(({ value, status, contentType, delivery }) =>
    raw('arbitrary JSON', { status, contentType, body: JSON.stringify(value) ?? 'null', ...delivery }),
  );

/** An error envelope whose message echoes the secret, as a careless gateway or proxy might. */
const echoCase = fc
  .record({
    status: fc.constantFrom(200, 400, 401, 403, 500, 503),
    code: fc.integer({ min: -10, max: 10 }).filter((code) => code !== 0),
    before: fc.string({ maxLength: 20 }),
    after: fc.string({ maxLength: 20 }),
  })
  .map(({ status, code, before, after }) =>
    raw('secret echoed', {
      status,
      body: JSON.stringify({ code, message: `${before}${iamportEmulatorDefaultMerchant.impSecret}${after}`, response: null }),
    }),
  );

const transportCase = fc
  .oneof(
    fc.constantFrom<IamportFault>({ kind: 'drop' }, { kind: 'reset' }, { kind: 'truncated' }, { kind: 'malformed-json' }),
    fc.constantFrom<IamportFault>({ kind: 'wrong-types' }, { kind: 'missing-field' }),
    fc.record({ kind: fc.constantFrom('server-error', 'html'), status: errorStatus }),
    fc.record({ kind: fc.constant('error-code'), code: fc.integer({ min: -5, max: 5 }).filter((code) => code !== 0) }),
    fc
      .record({
        body: fc.string({ maxLength: 200 }),
        extra: fc.integer({ min: 1, max: 10_000 }),
        ending: fc.constantFrom('close', 'reset'),
      })
      .map(({ body, extra, ending }) => ({
        kind: 'raw' as const,
        raw: { body, declaredLength: Buffer.byteLength(body) + extra, ending },
      })),
  )
  .map((fault): FuzzCase => ({ label: `fault ${fault.kind}`, fault, outcome: 'any' }));

/** Answers that never complete: only the cache's timeout ends them. Rare, as each costs `stallTimeoutMs`. */
const stalledCase = fc.constantFrom<FuzzCase>(
  { label: 'stalled', fault: { kind: 'stall' }, outcome: 'any', stalls: true },
  raw('stalled', { body: '{"code":0,', declaredLength: 500, ending: 'stall' }, { stalls: true }),
  raw('stalled', { body: '{"code":0,', chunkSize: 2, ending: 'stall' }, { stalls: true }),
);

const hugeBody = `{"code":0,"message":"${'x'.repeat(2 * mebibyte)}","response":null}`;
const hugeCase = fc.constantFrom<FuzzCase>(
  raw('huge', { body: hugeBody }, { outcome: 'too-large' }),
  raw('huge', { body: hugeBody, chunkSize: 65_536 }, { outcome: 'too-large' }),
  raw('huge', { status: 500, contentType: 'text/html', body: hugeBody, chunkSize: 65_536 }, { outcome: 'too-large' }),
  raw('huge', { body: '{', declaredLength: 100 * mebibyte, ending: 'stall' }, { outcome: 'too-large' }),
);

/** A redirect to another origin: following it would send the secret there, or take that origin's token. */
const redirectCase = fc
  .record({ status: fc.constantFrom(301, 302, 303, 307, 308), path: fc.constantFrom('/users/getToken', '/steal') })
  .map(({ status, path }) => raw('redirect', { status, headers: { location: `${foreign.url}${path}` }, body: '' }));

const gzipBomb = gzipSync(Buffer.alloc(4 * mebibyte, 0x20));
/** Compressed bodies: a good one must still give its token, a bomb must be refused, a lie must be an error. */
const encodedCase = fc.oneof(
  fc.record({ token, now: serverSeconds }).map(({ token, now }) =>
    raw(
      'gzip',
      {
        headers: { 'content-encoding': 'gzip' },
        body: gzipSync(JSON.stringify({ code: 0, message: null, response: { access_token: token, now, expired_at: now + 1800 } })),
      },
      { sentToken: token, outcome: 'token' },
    ),
  ),
  fc.constant(raw('gzip bomb', { headers: { 'content-encoding': 'gzip' }, body: gzipBomb }, { outcome: 'too-large' })),
  fc
    .record({
      encoding: fc.constantFrom('gzip', 'deflate', 'br', 'x-unknown', 'gzip, br', 'identity'),
      body: fc.oneof(
        fc.uint8Array({ maxLength: 512 }),
        fc.jsonValue().map((value) => JSON.stringify(value) ?? 'null'),
      ),
      status: fc.oneof(fc.constant(200), status),
    })
    .map(({ encoding, body, status }) => raw('wrong encoding', { status, headers: { 'content-encoding': encoding }, body })),
);

const fuzzCase: fc.Arbitrary<FuzzCase> = fc.oneof(
  { weight: 3, arbitrary: validCase },
  { weight: 10, arbitrary: mutatedCase },
  { weight: 5, arbitrary: bytesCase },
  { weight: 5, arbitrary: jsonCase },
  { weight: 2, arbitrary: echoCase },
  { weight: 4, arbitrary: transportCase },
  { weight: 1, arbitrary: hugeCase },
  { weight: 1, arbitrary: stalledCase },
  { weight: 1, arbitrary: redirectCase },
  { weight: 2, arbitrary: encodedCase },
);

/** Another origin that redirects point to: whatever reaches it has left the gateway, so no secret may. */
interface ForeignOrigin {
  url: string;
  /** Every request it received: method, path, headers and body. */
  received: string[];
  close(): Promise<void>;
}

/** Starts the other origin; it answers every request with `body`, a token a provider must not take for its own. */
async function startForeignOrigin(body: string): Promise<ForeignOrigin> {
  const received: string[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push(`${request.method} ${request.url} ${JSON.stringify(request.headers)} ${Buffer.concat(chunks).toString('utf8')}`);
      response.writeHead(200, { 'content-type': 'application/json' }).end(body);
    });
  });
  const loopback = await listenOnLoopback(server);
  return { url: loopback.url, received, close: () => loopback.close() };
}

/** Settles `promise` or fails the case: a hang is a bug, however it happens. */
async function settle<T>(promise: Promise<T>): Promise<{ value: T } | { error: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not settle within ${settleBoundMs} ms`)), settleBoundMs);
  });
  try {
    return await Promise.race([promise.then((value) => ({ value })), bound]);
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('did not settle')) throw error;
    return { error };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Who asks: the provider itself, whose errors reach the property unwrapped (the cache would turn a stray `TypeError`
 * into a `TokenRequestError`), or the token cache in front of it, which adds its own checks of the token.
 */
type Asker = 'provider' | 'cache';

async function check(fuzz: FuzzCase, via: Asker): Promise<void> {
  emulator.clearFaults();
  emulator.fault(fuzz.fault);
  foreign.received.length = 0;
  const timeoutMs = fuzz.stalls === true ? stallTimeoutMs : requestTimeoutMs;
  const provider = createIamportProvider({ ...emulator.defaultMerchant, baseUrl: emulator.url });
  const signal = AbortSignal.timeout(timeoutMs);
  const result = await settle<{ accessToken: string; expiresAt: number }>(
    via === 'provider'
      ? provider.requestToken({ signal, fetch: globalThis.fetch, now: Date.now })
      : createTokenCache(provider, { policy: { requestTimeoutMs: timeoutMs } }).getToken(),
  );
  ran.cases += 1;
  if (via === 'provider') ran.viaProvider += 1;
  for (const request of foreign.received) expect(request).not.toContain(emulator.defaultMerchant.impSecret);
  ran.byLabel.set(fuzz.label, (ran.byLabel.get(fuzz.label) ?? 0) + 1);
  if ('value' in result) {
    ran.tokens += 1;
    expect(fuzz.outcome).not.toBe('too-large');
    // A token can only come from a body that carried one, and it is exactly what was sent.
    expect(result.value.accessToken).toBe(fuzz.sentToken);
    expect(Number.isFinite(result.value.expiresAt)).toBe(true);
    expect(() => new Headers({ authorization: `Bearer ${result.value.accessToken}` })).not.toThrow();
    return;
  }
  const { error } = result;
  expect(fuzz.outcome, `${fuzz.label}: ${String(error)}`).not.toBe('token');
  // The provider passes the abort on as is, for the cache to report; the cache reports it as a `timeout`.
  const timedOut = via === 'provider' ? error === signal.reason : (error as { reason?: unknown }).reason === 'timeout';
  if (fuzz.stalls !== true) expect(timedOut, String(error)).toBe(false);
  if (timedOut && via === 'provider') ran.aborts += 1;
  else expect(isAuthError(error), `not an AuthError: ${inspect(error)}`).toBe(true);
  if (isAuthError(error)) ran.errors += 1;
  if (fuzz.outcome === 'too-large') {
    expect(isTokenResponseError(error), String(error)).toBe(true);
    expect(String(error)).toContain(`larger than the limit of ${mebibyte} bytes`);
  }
  const shown = [
    String(error),
    (error as Error).message,
    inspect(error, { depth: 10 }),
    inspect(error, { depth: 10, showHidden: true }),
    JSON.stringify(error),
  ];
  for (const text of shown) {
    expect(text).not.toContain(emulator.defaultMerchant.impSecret);
    // A token of a few characters could turn up in any text by chance: only real-looking ones are looked for.
    if (fuzz.sentToken !== undefined && fuzz.sentToken.length >= 8) expect(text).not.toContain(fuzz.sentToken);
  }
}

describe("i'mport token responses, fuzzed", () => {
  it(
    'should end every answer in a valid token or a typed error, in bounded time, without leaking',
    async () => {
      await fc.assert(
        fc.asyncProperty(fuzzCase, fc.constantFrom<Asker>('provider', 'cache'), (fuzz, via) => check(fuzz, via)),
        { seed, numRuns },
      );
      expect(ran.cases).toBeGreaterThanOrEqual(numRuns);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.map(String)).toEqual([]);
    },
    Math.max(120_000, numRuns * 100),
  );
});

describe("i'mport token responses, regressions found by fuzzing", () => {
  const tokenBody = (accessToken: string, lifetimeSeconds = 1800): string =>
    JSON.stringify({
      code: 0,
      message: null,
      response: { access_token: accessToken, now: 1_700_000_000, expired_at: 1_700_000_000 + lifetimeSeconds },
    });

  it('should refuse an access token that cannot go into an Authorization header', async () => {
    // Shrunk counterexample: `"access_token":"\u0000"` was handed out, and the first API call threw a TypeError.
    for (const accessToken of ['\u0000', 'abc def', 'tökén', 'line\nbreak', '']) {
      emulator.clearFaults();
      emulator.fault({ kind: 'raw', raw: { body: tokenBody(accessToken) } });
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
      emulator.fault({ kind: 'raw', raw: { status, headers: { location: `${foreign.url}/users/getToken` }, body: '' } });
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
      emulator.fault({ kind: 'raw', raw: { body } });
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
      emulator.fault({ kind: 'raw', raw: { body: tokenBody('a'.repeat(40), 1_000_000_000) } });
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
