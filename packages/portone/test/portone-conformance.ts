/**
 * PortOne V2 as the provider conformance suite sees it (`@x/core/testing/conformance`): the emulator, the provider in
 * `token` mode and its settings, and the cases only PortOne's bodies (`{"accessToken","refreshToken"}`, errors
 * `{"type","message"}`, JWT claims) can make. Used by the canary, fuzz and settings tests; not exported.
 */
import { gzipSync } from 'node:zlib';
import { createCanary, type RawResponse } from '@x/core/testing';
import type { ProviderConformanceGateway } from '@x/core/testing/conformance';
import type { TokenResponseFuzzCase, TokenResponseFuzzFault, TokenResponseFuzzKit } from '@x/core/testing/fuzz';
import fc from 'fast-check';
import { portOneDefaultBaseUrl } from '../src/portone-api-types.js';
import { type PortOneProviderSettings, validatePortOneSettings } from '../src/portone-settings.js';
import { createPortOneProvider } from '../src/portone-token-provider.js';
import { createPortOneEmulator, type PortOneFault, type PortOneFaultTarget, portOneEmulatorDefaultMerchant } from '../src/testing/index.js';

const { apiSecret } = portOneEmulatorDefaultMerchant;
type FuzzCase = TokenResponseFuzzCase<undefined>;

const encode = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** A JWT with these claims (or this payload text). Its signature is made up: the provider decodes, never verifies. */
export function portOneJwt(claims: unknown): string {
  return `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode(claims)}.${encode('not-a-signature')}`;
}

/** A token answer as PortOne sends it. */
export function portOneTokenBody(accessToken: string, refreshToken: string = createCanary('', 48)): string {
  return JSON.stringify({ accessToken, refreshToken });
}

/** Error bodies the token endpoints and the API may both answer with. */
const errorFaults: Array<[string, PortOneFault]> = [
  ['a 503 naming apiSecret', { kind: 'body', status: 503, body: { type: 'INTERNAL_SERVER_ERROR', message: 'down for apiSecret' } }],
  ['a 401 UNAUTHORIZED without a message', { kind: 'body', status: 401, body: { type: 'UNAUTHORIZED' } }],
  ['a 400 INVALID_REQUEST', { kind: 'body', status: 400, body: { type: 'INVALID_REQUEST', message: 'apiSecret is required' } }],
  ['a 200 without a refresh token', { kind: 'body', body: { accessToken: createCanary() } }],
];

/** Answers only the token endpoints give: the secret echoed, tokens and claims no cache may take. */
const tokenFaults: Array<[string, PortOneFault]> = [
  ...errorFaults,
  ['a 401 quoting the secret', { kind: 'raw', status: 401, body: JSON.stringify({ type: 'UNAUTHORIZED', message: `bad ${apiSecret}` }) }],
  ['a 400 echoing the body', { kind: 'raw', status: 400, body: JSON.stringify({ type: 'INVALID_REQUEST', apiSecret }) }],
  ['a 200 with an error type quoting the secret', { kind: 'raw', status: 200, body: JSON.stringify({ type: apiSecret }) }],
  ['a token with a line break', { kind: 'raw', body: '{"accessToken":"xcanary\\r\\nX-Evil: 1","refreshToken":"xcanary-r"}' }],
  ['a refresh token with a line break', { kind: 'raw', body: '{"accessToken":"xcanary-a","refreshToken":"xcanary\\r\\nX: 1"}' }],
  ['a JWT that expired before it was issued', { kind: 'raw', body: portOneTokenBody(portOneJwt({ iat: 99, exp: 1, jti: 'xcanary' })) }],
  ['a JWT whose exp is a string', { kind: 'raw', body: portOneTokenBody(portOneJwt({ exp: '1700001800', jti: 'xcanary' })) }],
];

const serverSeconds = fc.integer({ min: 1_600_000_000, max: 2_000_000_000 });
const lifetime = fc.integer({ min: 60, max: 86_400 });
const opaque = fc.stringMatching(/^[A-Za-z0-9_-]{16,64}$/);
const oddValue = fc.oneof(
  fc.jsonValue(),
  fc.constantFrom(-1, 0, 1.5, 1e300, 1e15, Number.MAX_SAFE_INTEGER, '1800', '', ' ', null, [], {}, true),
);

function raw(label: string, response: RawResponse, rest: Partial<FuzzCase> = {}): FuzzCase {
  return { label, variant: undefined, fault: { kind: 'raw', ...response }, outcome: 'any', ...rest };
}

/** PortOne's own fuzz cases: valid, mutated, echoing and gzipped answers, and its error bodies. */
function portOneFuzzGateway(fuzz: TokenResponseFuzzKit) {
  /** A JWT with `iat` and `exp`, one with `exp` only (ahead of our clock), or an opaque token (30 minutes assumed). */
  const token = fc.oneof(
    fc
      .record({ iat: serverSeconds, lifetime, jti: opaque })
      .map(({ iat, lifetime, jti }) => portOneJwt({ sub: 'store', iat, exp: iat + lifetime, jti })),
    fc.record({ lifetime, jti: opaque }).map(({ lifetime, jti }) => portOneJwt({ exp: Math.floor(Date.now() / 1000) + lifetime, jti })),
    opaque,
  );
  const valid = fc
    .record({ token, refreshToken: fc.oneof(opaque, token) })
    .map(({ token, refreshToken }) =>
      raw('valid', { body: portOneTokenBody(token, refreshToken) }, { sentToken: token, outcome: 'token' }),
    );

  const claims = fc.oneof(
    fc.record({ exp: oddValue }),
    fc.record({ iat: serverSeconds, exp: oddValue }),
    fc.record({ iat: oddValue, exp: serverSeconds }),
    fc.record({ iat: serverSeconds, back: fc.integer({ min: 0, max: 100_000 }) }).map(({ iat, back }) => ({ iat, exp: iat - back })),
    fc.constantFrom<unknown>('not json', '[1,2]', 'null', '{"exp":1e400}', '{"exp":-0}'),
  );
  /** A valid answer with one thing wrong: a field removed or of the wrong kind, odd claims, an odd token. */
  const mutated = fc
    .record({
      base: opaque,
      mutation: fc.oneof(
        fc.record({ remove: fc.constantFrom('accessToken', 'refreshToken') }),
        fc.record({ set: fc.constantFrom('accessToken', 'refreshToken'), value: oddValue }),
        fc.record({ claims }),
        fc.record({
          field: fc.constantFrom('accessToken', 'refreshToken'),
          token: fc.oneof(fc.constant(''), fc.string({ unit: 'binary', maxLength: 20 }), fc.constant('x'.repeat(9000))),
        }),
      ),
      status: fc.oneof(fc.constant(200), fuzz.status),
      contentType: fuzz.contentType,
      delivery: fuzz.delivery,
    })
    .map(({ base, mutation, status, contentType, delivery }) => {
      const body: Record<string, unknown> = { accessToken: base, refreshToken: `r${base}` };
      let label = 'odd token';
      if ('remove' in mutation) {
        label = 'field removed';
        delete body[mutation.remove];
      } else if ('set' in mutation) {
        label = 'field of the wrong kind';
        body[mutation.set] = mutation.value;
      } else if ('claims' in mutation) {
        label = 'odd claims';
        body.accessToken = portOneJwt(mutation.claims);
      } else {
        body[mutation.field] = mutation.token;
      }
      const sentToken = typeof body.accessToken === 'string' ? body.accessToken : base;
      return raw(label, { status, contentType, body: JSON.stringify(body), ...delivery }, { sentToken });
    });

  /** The secret echoed in the error's message or type, in the status text, or in the content type of a non-JSON body. */
  const secretEchoed = fc
    .record({
      status: fc.constantFrom(200, 400, 401, 403, 500, 503),
      where: fc.constantFrom('message', 'type', 'status text', 'content type'),
      before: fc.string({ maxLength: 20 }),
      after: fc.string({ maxLength: 20 }),
    })
    .map(({ status, where, before, after }) => {
      const said = `${before}${apiSecret}${after}`;
      if (where === 'content type') return raw('secret echoed', { status, contentType: `text/plain; echo=${said}`, body: 'no' });
      const body = JSON.stringify({ type: where === 'type' ? said : 'UNAUTHORIZED', message: where === 'message' ? said : 'no' });
      return raw('secret echoed', { status, body, ...(where === 'status text' ? { statusText: said } : {}) });
    });

  const transport = fc
    .oneof(
      fc.constantFrom<TokenResponseFuzzFault>({ kind: 'drop' }, { kind: 'reset' }, { kind: 'truncated' }, { kind: 'malformed' }),
      fc.constantFrom<TokenResponseFuzzFault>(...errorFaults.map(([, fault]) => fault as TokenResponseFuzzFault)),
      fc.record({ kind: fc.constantFrom('status', 'html'), status: fuzz.errorStatus }),
      fc
        .record({ status: fuzz.errorStatus, type: fc.constantFrom('INVALID_REQUEST', 'UNAUTHORIZED', 'FORBIDDEN', 'X') })
        .map(({ status, type }): TokenResponseFuzzFault => ({ kind: 'body', status, body: { type } })),
      fuzz.cutShort.map((response) => ({ kind: 'raw' as const, ...response })),
    )
    .map((fault): FuzzCase => ({ label: `fault ${fault.kind}`, variant: undefined, fault, outcome: 'any' }));

  const gzipped = token.map((accessToken) =>
    raw(
      'gzip',
      { headers: { 'content-encoding': 'gzip' }, body: gzipSync(portOneTokenBody(accessToken)) },
      { sentToken: accessToken, outcome: 'token' },
    ),
  );

  return {
    variant: fc.constant(undefined),
    stalledBodyStart: '{"accessToken":',
    hugeBody: (padding: string) => `{"accessToken":"a","refreshToken":"r","padding":"${padding}"}`,
    hugeErrorStatus: 500,
    redirectPaths: ['/login/api-secret', '/steal'],
    valid,
    mutated,
    secretEchoed,
    transport,
    gzipped,
  };
}

/** PortOne V2 in `token` mode, described to the provider conformance suite. */
export const portOneConformance: ProviderConformanceGateway<PortOneProviderSettings, PortOneFaultTarget> = {
  displayName: 'PortOne',
  provider: 'portone',
  fc,
  createEmulator: createPortOneEmulator,
  createProvider: createPortOneProvider,
  validateSettings: validatePortOneSettings,
  validSettings: { apiSecret: 'Kp3vN8qR2sT6wY9zB4cF7hJ1mL5nQ0xW3eR6tY9uI2oP5aS8dF1gH4jK7lZ0xC3v' },
  defaultBaseUrl: portOneDefaultBaseUrl,
  settingsFor: (baseUrl) => ({ apiSecret, baseUrl }),
  credentialSettings: ['apiSecret'],
  secretSettings: ['apiSecret'],
  apiPath: (index) => `/payments/payment-${index}`,
  apiTarget: 'api',
  tokenTarget: 'login',
  canary: {
    tokenFaults,
    apiFaults: errorFaults,
    wrongSettings: [],
    badSettings: [{ mode: `static ${apiSecret}` }, { mode: 'static', apiSecret: `${apiSecret} ${apiSecret}` }],
    minimumScanned: 150,
  },
  tokenResponses: {
    fuzzGateway: portOneFuzzGateway,
    foreignTokenBody: portOneTokenBody(`foreign${'f'.repeat(33)}`, 'foreign-refresh'),
    tokenBody: (_variant, accessToken) => portOneTokenBody(accessToken),
    accessTokenField: 'accessToken',
  },
  settings: {
    controlCharacterMessage: 'must not contain control characters (line breaks, NUL, …)',
    emptyCredentialMessages: { apiSecret: 'required' },
    hostileCredentials: [
      ['holding a space', 'xcanary secret', 'must be visible ASCII, without spaces'],
      ['not ASCII', 'xcanary-비밀', 'must be visible ASCII, without spaces'],
    ],
    settingArbitraries: (check) => ({ mode: check.constantFrom('token', 'static') }),
  },
};
