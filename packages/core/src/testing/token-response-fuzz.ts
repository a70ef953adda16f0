import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { gzipSync } from 'node:zlib';
import type { Arbitrary, default as FastCheckModule } from 'fast-check';
import { isAuthError, isTokenResponseError } from '../errors.js';
import { createTokenCache } from '../token-cache.js';
import { defaultMaxTokenResponseBytes } from '../token-http.js';
import type { ProviderToken, TokenProvider } from '../token-provider.js';
import { maskCanaries } from './canary.js';
import type { EmulatorFault } from './emulator-fault.js';
import type { ForeignOrigin } from './foreign-origin.js';
import type { RawResponse } from './raw-response.js';

/**
 * fast-check as a test imports it (`import fc from 'fast-check'`). The kit is handed it rather than importing it, so
 * `@x/core/testing/fuzz` loads without fast-check installed and every arbitrary comes from the caller's own copy.
 */
export type FastCheck = typeof FastCheckModule;

/** The cache's token request timeout for an answer that stalls on purpose: only the timeout can end it. */
const stallTimeoutMs = 100;
/** The timeout for every other answer: generous, so a loaded machine never turns a good answer into a timeout. */
const requestTimeoutMs = 5_000;
/** Beyond either timeout: reaching it means something hangs. */
const settleBoundMs = 10_000;

/** A fault of the emulator kit's vocabulary for the next token request (no `target`: the token endpoint). */
export type TokenResponseFuzzFault = EmulatorFault<never>;

/** One generated answer of a token endpoint and what must come of it. */
export interface TokenResponseFuzzCase<Variant> {
  /** What kind of answer it is, e.g. `arbitrary bytes`; the tally counts cases by it. */
  label: string;
  /** Which of the gateway's token requests it answers (e.g. one of its token endpoints). */
  variant: Variant;
  /** The emulator fault that serves the answer. */
  fault: TokenResponseFuzzFault;
  /** The access token in the body, if any: a success must return exactly it, an error must never show it. */
  sentToken?: string | undefined;
  /** The answer never completes, so only the cache's timeout ends it; nothing else may end in a timeout. */
  stalls?: boolean | undefined;
  /** `token`: must succeed; `too-large`: must be refused for its size; `any`: a token or an `AuthError`. */
  outcome: 'token' | 'too-large' | 'any';
}

/**
 * What a gateway adds to the gateway-neutral cases: how its emulator serves an answer, and the cases only its wire
 * format can make. Every case is drawn from a weighted mix (in 34): `valid` 3, `mutated` 10, arbitrary bytes 5,
 * arbitrary JSON 5, `secretEchoed` 2, `transport` 4, huge bodies 1, stalls 1, redirects 1, content encodings 2
 * (`gzipped`, a gzip bomb, or an encoding the body does not honour).
 */
export interface TokenResponseFuzzGateway<Variant> {
  /** Drawn first in every case: which token request it answers; `fc.constant(undefined)` for a gateway with one. */
  variant: Arbitrary<Variant>;
  /** The start of a token response, sent before an answer stalls, e.g. `{"code":0,`. */
  stalledBodyStart: string;
  /** A token response carrying `padding`, a string twice the response size limit. */
  hugeBody(padding: string): string;
  /** The status of an error page too large to read (e.g. 500, or 502 from a proxy). */
  hugeErrorStatus: number;
  /** Paths on the other origin that redirects point to, e.g. the gateway's own token path. */
  redirectPaths: readonly string[];
  /** Valid token responses: each must give exactly its token. */
  valid: Arbitrary<TokenResponseFuzzCase<Variant>>;
  /** Valid token responses with one thing wrong: a field removed, of the wrong kind, an odd number or token. */
  mutated: Arbitrary<TokenResponseFuzzCase<Variant>>;
  /** Error responses, in the gateway's shapes, that echo a secret, as a careless gateway or proxy might. */
  secretEchoed: Arbitrary<TokenResponseFuzzCase<Variant>>;
  /** The emulator's own faults: dropped, reset, truncated and malformed answers, error statuses, error codes. */
  transport: Arbitrary<TokenResponseFuzzCase<Variant>>;
  /** Valid token responses sent gzip-compressed: each must still give exactly its token. */
  gzipped: Arbitrary<TokenResponseFuzzCase<Variant>>;
}

/** What a fuzz run saw, counted as it goes, so a failed run still shows how far it got. */
export interface TokenResponseFuzzTally {
  /** Cases checked. */
  cases: number;
  /** Of those, how many asked the provider itself; the rest asked a token cache in front of it. */
  viaProvider: number;
  /** Cases that gave a token. */
  tokens: number;
  /** Cases that ended in an `AuthError`. */
  errors: number;
  /** Stalled cases the provider gave up on when the request's signal aborted. */
  aborts: number;
  /** Cases checked, by {@link TokenResponseFuzzCase.label}. */
  byLabel: Map<string, number>;
}

/** An empty tally for {@link TokenResponseFuzzKit.run} to count into. */
export function createTokenResponseFuzzTally(): TokenResponseFuzzTally {
  return { cases: 0, tokens: 0, errors: 0, aborts: 0, viaProvider: 0, byLabel: new Map() };
}

/** One line for a test's report, e.g. `500 cases, 257 asked of the provider … ; valid 42, …`. */
export function describeTokenResponseFuzzTally(tally: TokenResponseFuzzTally): string {
  const labels = [...tally.byLabel].map(([label, count]) => `${label} ${count}`).join(', ');
  return `${tally.cases} cases, ${tally.viaProvider} asked of the provider and the rest of the cache (${tally.tokens} tokens, ${tally.errors} typed errors, ${tally.aborts} stalls aborted); ${labels}`;
}

/** What {@link TokenResponseFuzzKit.run} fuzzes, and where it counts. */
export interface TokenResponseFuzzOptions<Variant> {
  /** The gateway's own cases and how its emulator serves an answer. */
  gateway: TokenResponseFuzzGateway<Variant>;
  /** Arms the emulator: the next token request gets `fuzzCase.fault` (and nothing queued before). */
  serve(fuzzCase: TokenResponseFuzzCase<Variant>): void;
  /** A fresh provider pointed at the emulator, for the variant of `fuzzCase`. */
  provider(fuzzCase: TokenResponseFuzzCase<Variant>): TokenProvider;
  /** The credentials the provider sends: no error and no request to the other origin may show one. */
  secrets: readonly string[];
  /** The other origin, for redirects to point to. */
  foreign: ForeignOrigin;
  /** The fast-check seed, fixed so a failure replays. */
  seed: number;
  /** How many cases to check. */
  numRuns: number;
  /** Where to count what was seen. */
  tally: TokenResponseFuzzTally;
}

/** Gateway-neutral fuzzing of a token endpoint's answers, made with the test's own fast-check. */
export interface TokenResponseFuzzKit {
  /** Any status from 200 to 599 but 421 (fetch resends a 421 on a new connection, which the emulator answers). */
  status: Arbitrary<number>;
  /** Any status from 400 to 599 but 421. */
  errorStatus: Arbitrary<number>;
  /** A `content-type`: none (`null`), the usual ones, or any printable text. */
  contentType: Arbitrary<string | null>;
  /** How the bytes travel: whole, chunked, or cut off by a close or a reset. */
  delivery: Arbitrary<Pick<RawResponse, 'chunkSize' | 'ending'>>;
  /** A text body that declares more bytes than it sends, then closes or resets the connection. */
  cutShort: Arbitrary<RawResponse>;
  /**
   * Checks `numRuns` cases, each asked of the provider itself (so a stray `TypeError` cannot hide behind the
   * cache's wrapping) or of a token cache in front of it. Whatever the answer, the request settles in bounded time
   * with exactly the token sent or an `AuthError` (a size error for a huge body) that shows neither a secret nor the
   * token sent; nothing reaches the other origin with a secret; a stalled answer ends only by its timeout; and no
   * process warning (e.g. `TimeoutOverflowWarning`) is emitted. Throws fast-check's report of the first failure.
   * It assumes the provider keeps core's default response size limit.
   */
  run<Variant>(options: TokenResponseFuzzOptions<Variant>): Promise<void>;
}

/**
 * The fuzz kit for a token provider, from the test's fast-check: gateway-neutral arbitraries for the gateway's own
 * cases, and a run that mixes those with arbitrary bytes and JSON, huge and stalled bodies, redirects and content
 * encodings, served by the gateway's emulator over 127.0.0.1.
 *
 * @example
 * const fuzz = createTokenResponseFuzzKit(fc);
 * await fuzz.run({ gateway, serve, provider, secrets, foreign, seed: 1, numRuns: 500, tally });
 */
export function createTokenResponseFuzzKit(fc: FastCheck): TokenResponseFuzzKit {
  const status = fc.integer({ min: 200, max: 599 }).filter((code) => code !== 421);
  const contentType = fc.oneof(
    fc.constantFrom(null, 'application/json', 'application/json; charset=utf-8', 'text/html', 'text/plain', 'application/octet-stream', ''),
    fc.stringMatching(/^[\x20-\x7e]{0,60}$/),
  );
  const delivery = fc.constantFrom<Pick<RawResponse, 'chunkSize' | 'ending'>>(
    {},
    { chunkSize: 3 },
    { chunkSize: 3, ending: 'close' },
    { chunkSize: 5, ending: 'reset' },
  );

  /** The gateway's mix with the gateway-neutral cases, in the weights {@link TokenResponseFuzzGateway} lists. */
  function cases<Variant>(gateway: TokenResponseFuzzGateway<Variant>, foreign: ForeignOrigin) {
    type Case = TokenResponseFuzzCase<Variant>;
    const { variant } = gateway;
    const raw = (label: string, chosen: Variant, response: RawResponse, rest: Partial<Case> = {}): Case => ({
      label,
      variant: chosen,
      fault: { kind: 'raw', ...response },
      outcome: 'any',
      ...rest,
    });

    const bytes = fc
      .record({ variant, body: fc.uint8Array({ maxLength: 2_048 }), status, contentType, delivery })
      .map(({ variant, body, status, contentType, delivery }) =>
        raw('arbitrary bytes', variant, { status, contentType, body, ...delivery }),
      );

    const json = fc
      .record({ variant, value: fc.jsonValue(), status: fc.oneof(fc.constant(200), status), contentType, delivery })
      .map(({ variant, value, status, contentType, delivery }) =>
        raw('arbitrary JSON', variant, { status, contentType, body: JSON.stringify(value) ?? 'null', ...delivery }),
      );

    const hugeBody = gateway.hugeBody('x'.repeat(2 * defaultMaxTokenResponseBytes));
    const huge = fc
      .tuple(
        variant,
        fc.constantFrom<RawResponse>(
          { body: hugeBody },
          { body: hugeBody, chunkSize: 65_536 },
          { status: gateway.hugeErrorStatus, contentType: 'text/html', body: hugeBody, chunkSize: 65_536 },
          { body: '{', declaredLength: 100 * defaultMaxTokenResponseBytes, ending: 'stall' },
        ),
      )
      .map(([variant, response]) => raw('huge', variant, response, { outcome: 'too-large' }));

    // Rare, as each costs `stallTimeoutMs`.
    const stalled = fc
      .tuple(
        variant,
        fc.constantFrom<TokenResponseFuzzFault>(
          { kind: 'stall' },
          { kind: 'raw', body: gateway.stalledBodyStart, declaredLength: 500, ending: 'stall' },
          { kind: 'raw', body: gateway.stalledBodyStart, chunkSize: 2, ending: 'stall' },
        ),
      )
      .map(([variant, fault]): Case => ({ label: 'stalled', variant, fault, outcome: 'any', stalls: true }));

    // Following a redirect would send the secrets to the other origin, or take that origin's token.
    const redirect = fc
      .record({ variant, status: fc.constantFrom(301, 302, 303, 307, 308), path: fc.constantFrom(...gateway.redirectPaths) })
      .map(({ variant, status, path }) => raw('redirect', variant, { status, headers: { location: `${foreign.url}${path}` }, body: '' }));

    // A good compressed body must still give its token, a bomb must be refused, a lie must be an error.
    const gzipBomb = gzipSync(Buffer.alloc(4 * defaultMaxTokenResponseBytes, 0x20));
    const encoded = fc.oneof(
      gateway.gzipped,
      variant.map((variant) =>
        raw('gzip bomb', variant, { headers: { 'content-encoding': 'gzip' }, body: gzipBomb }, { outcome: 'too-large' }),
      ),
      fc
        .record({
          variant,
          encoding: fc.constantFrom('gzip', 'deflate', 'br', 'x-unknown', 'gzip, br', 'identity'),
          body: fc.oneof(
            fc.uint8Array({ maxLength: 512 }),
            fc.jsonValue().map((value) => JSON.stringify(value) ?? 'null'),
          ),
          status: fc.oneof(fc.constant(200), status),
        })
        .map(({ variant, encoding, body, status }) =>
          raw('wrong encoding', variant, { status, headers: { 'content-encoding': encoding }, body }),
        ),
    );

    return fc.oneof(
      { weight: 3, arbitrary: gateway.valid },
      { weight: 10, arbitrary: gateway.mutated },
      { weight: 5, arbitrary: bytes },
      { weight: 5, arbitrary: json },
      { weight: 2, arbitrary: gateway.secretEchoed },
      { weight: 4, arbitrary: gateway.transport },
      { weight: 1, arbitrary: huge },
      { weight: 1, arbitrary: stalled },
      { weight: 1, arbitrary: redirect },
      { weight: 2, arbitrary: encoded },
    );
  }

  return {
    status,
    errorStatus: fc.integer({ min: 400, max: 599 }).filter((code) => code !== 421),
    contentType,
    delivery,
    cutShort: fc
      .record({
        body: fc.string({ maxLength: 200 }),
        extra: fc.integer({ min: 1, max: 10_000 }),
        ending: fc.constantFrom('close' as const, 'reset' as const),
      })
      .map(({ body, extra, ending }) => ({ body, declaredLength: Buffer.byteLength(body) + extra, ending })),

    async run(options) {
      const warnings: Error[] = [];
      const onWarning = (warning: Error): void => {
        warnings.push(warning);
      };
      process.on('warning', onWarning);
      try {
        await fc.assert(
          fc.asyncProperty(cases(options.gateway, options.foreign), fc.constantFrom<Asker>('provider', 'cache'), (fuzzCase, via) =>
            check(options, fuzzCase, via),
          ),
          { seed: options.seed, numRuns: options.numRuns },
        );
        // A warning is emitted on the next turn of the event loop.
        await new Promise((resolve) => setImmediate(resolve));
      } finally {
        process.off('warning', onWarning);
      }
      assert.deepEqual(warnings.map(String), [], 'process warnings during the run');
    },
  };
}

/**
 * Who asks: the provider itself, whose errors reach the property unwrapped (the cache would turn a stray `TypeError`
 * into a `TokenRequestError`), or the token cache in front of it, which adds its own checks of the token.
 */
type Asker = 'provider' | 'cache';

async function check<Variant>(options: TokenResponseFuzzOptions<Variant>, fuzz: TokenResponseFuzzCase<Variant>, via: Asker): Promise<void> {
  const { secrets, foreign, tally } = options;
  options.serve(fuzz);
  foreign.received.length = 0;
  const timeoutMs = fuzz.stalls === true ? stallTimeoutMs : requestTimeoutMs;
  const provider = options.provider(fuzz);
  const signal = AbortSignal.timeout(timeoutMs);
  const result = await settle<ProviderToken>(
    via === 'provider'
      ? provider.requestToken({ signal, fetch: globalThis.fetch, now: Date.now })
      : createTokenCache(provider, { policy: { requestTimeoutMs: timeoutMs } }).getToken(),
  );
  tally.cases += 1;
  if (via === 'provider') tally.viaProvider += 1;
  for (const request of foreign.received) {
    for (const secret of secrets)
      assert.ok(!request.includes(secret), `a secret reached the other origin: ${maskCanaries(request, secrets)}`);
  }
  tally.byLabel.set(fuzz.label, (tally.byLabel.get(fuzz.label) ?? 0) + 1);
  if ('value' in result) {
    tally.tokens += 1;
    assert.notEqual(fuzz.outcome, 'too-large', `${fuzz.label}: a token from a body over the size limit`);
    // A token can only come from a body that carried one, and it is exactly what was sent.
    assert.equal(result.value.accessToken, fuzz.sentToken);
    assert.ok(Number.isFinite(result.value.expiresAt), `expiresAt ${result.value.expiresAt}`);
    assert.doesNotThrow(() => new Headers({ authorization: `Bearer ${result.value.accessToken}` }));
    return;
  }
  const { error } = result;
  assert.notEqual(fuzz.outcome, 'token', `${fuzz.label}: ${String(error)}`);
  // The provider passes the abort on as is, for the cache to report; the cache reports it as a `timeout`.
  const timedOut = via === 'provider' ? error === signal.reason : (error as { reason?: unknown }).reason === 'timeout';
  if (fuzz.stalls !== true) assert.equal(timedOut, false, String(error));
  if (timedOut && via === 'provider') tally.aborts += 1;
  else assert.ok(isAuthError(error), `not an AuthError: ${inspect(error)}`);
  if (isAuthError(error)) tally.errors += 1;
  if (fuzz.outcome === 'too-large') {
    assert.ok(isTokenResponseError(error), String(error));
    assert.ok(String(error).includes(`larger than the limit of ${defaultMaxTokenResponseBytes} bytes`), String(error));
  }
  const shown = [
    String(error),
    (error as Error).message,
    inspect(error, { depth: 10 }),
    inspect(error, { depth: 10, showHidden: true }),
    JSON.stringify(error),
  ];
  for (const text of shown) {
    for (const secret of secrets) assert.ok(!text.includes(secret), `a secret in the error: ${maskCanaries(text, secrets)}`);
    // A token of a few characters could turn up in any text by chance: only real-looking ones are looked for.
    if (fuzz.sentToken !== undefined && fuzz.sentToken.length >= 8) {
      assert.ok(!text.includes(fuzz.sentToken), `the token sent, in the error: ${text.split(fuzz.sentToken).join('[token]')}`);
    }
  }
}

/** Settles `promise` or fails the case: a hang is a bug, however it happens. */
async function settle<T>(promise: Promise<T>): Promise<{ value: T } | { error: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  // Resolves to `undefined`, which no settled outcome is: a hang is told apart without reading an error message.
  const bound = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), settleBoundMs);
  });
  try {
    const outcome = await Promise.race([
      promise.then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
      bound,
    ]);
    if (outcome === undefined) throw new Error(`did not settle within ${settleBoundMs} ms`);
    return outcome;
  } finally {
    clearTimeout(timer);
  }
}
