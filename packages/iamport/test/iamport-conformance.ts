/**
 * i'mport as the provider conformance suite sees it (`@x/core/testing/conformance`): the emulator, the provider and
 * its settings, and the cases only i'mport's envelope (`{"code","message","response"}`) can make. Used by the canary,
 * fuzz and settings tests; not exported.
 */
import { gzipSync } from 'node:zlib';
import { createCanary, type RawResponse } from '@x/core/testing';
import type { ProviderConformanceGateway } from '@x/core/testing/conformance';
import type { TokenResponseFuzzCase, TokenResponseFuzzFault, TokenResponseFuzzKit } from '@x/core/testing/fuzz';
import fc from 'fast-check';
import { type IamportProviderSettings, iamportDefaultBaseUrl, validateIamportSettings } from '../src/iamport-settings.js';
import { createIamportProvider } from '../src/iamport-token-provider.js';
import { createIamportEmulator, type IamportFault, type IamportFaultTarget, iamportEmulatorDefaultMerchant } from '../src/testing/index.js';

const { impSecret } = iamportEmulatorDefaultMerchant;

/** i'mport has one token request, so a case's variant is always `undefined`. */
type FuzzCase = TokenResponseFuzzCase<undefined>;

/** A successful token envelope as i'mport sends it. */
export function iamportTokenBody(accessToken: string, lifetimeSeconds = 1800, now = 1_700_000_000): string {
  return JSON.stringify({ code: 0, message: null, response: { access_token: accessToken, now, expired_at: now + lifetimeSeconds } });
}

/** Envelopes the token endpoint and the API may both answer with. */
const envelopeFaults: Array<[string, IamportFault]> = [
  [
    'a 503 envelope naming imp_secret',
    { kind: 'body', status: 503, body: { code: -1, message: 'temporarily down for imp_secret', response: null } },
  ],
  ['an envelope refusing the credentials', { kind: 'body', body: { code: -1, message: '인증에 실패했습니다.', response: null } }],
  [
    'a canary token with its times as strings',
    {
      kind: 'body',
      body: { code: 0, message: null, response: { access_token: createCanary('', 33), now: '1700000000', expired_at: '1700001800' } },
    },
  ],
  [
    'an envelope without a token',
    { kind: 'body', body: { code: 0, message: null, response: { now: 1_700_000_000, expired_at: 1_700_001_800 } } },
  ],
];

/** Answers only the token endpoint gives: the secret echoed in envelopes, tokens no bearer header may carry. */
const tokenFaults: Array<[string, IamportFault]> = [
  ...envelopeFaults,
  [
    'a 401 echoing imp_secret in the response',
    { kind: 'raw', status: 401, body: JSON.stringify({ code: -1, message: 'echo', response: { imp_secret: impSecret } }) },
  ],
  [
    'a 401 quoting the secret in its message',
    { kind: 'raw', status: 401, body: JSON.stringify({ code: -1, message: `imp_secret ${impSecret} is not registered`, response: null }) },
  ],
  [
    'a 200 with code 1 quoting the secret',
    { kind: 'raw', status: 200, body: JSON.stringify({ code: 1, message: `${impSecret}: 인증에 실패했습니다.`, response: null }) },
  ],
  [
    'a token with a line break',
    {
      kind: 'raw',
      status: 200,
      body: '{"code":0,"message":null,"response":{"access_token":"xcanary\\r\\nX-Evil: 1","now":1,"expired_at":99}}',
    },
  ],
  [
    'a token with a space',
    { kind: 'raw', status: 200, body: '{"code":0,"message":null,"response":{"access_token":"xcanary ab","now":1,"expired_at":99}}' },
  ],
  [
    'a token that expired before it was issued',
    { kind: 'raw', status: 200, body: '{"code":0,"message":null,"response":{"access_token":"xcanary-ok","now":99,"expired_at":1}}' },
  ],
];

const token = fc.stringMatching(/^[0-9a-f]{40}$/);
const serverSeconds = fc.integer({ min: 1_600_000_000, max: 2_000_000_000 });
/** A value of the wrong kind for any field, including numbers JSON can carry but a clock cannot use. */
const oddValue = fc.oneof(
  fc.jsonValue(),
  fc.constantFrom(-1, 0, 1.5, 1e300, -1e300, 1e306, Number.MAX_VALUE, Number.MAX_SAFE_INTEGER + 2, '1800', '', ' ', null, [], {}, true),
);
const fieldPaths = ['code', 'message', 'response', 'response.access_token', 'response.now', 'response.expired_at'] as const;

function raw(label: string, response: RawResponse, rest: Partial<FuzzCase> = {}): FuzzCase {
  return { label, variant: undefined, fault: { kind: 'raw', ...response }, outcome: 'any', ...rest };
}

/** i'mport's own fuzz cases: valid, mutated, echoing and gzipped envelopes, and its error codes. */
function iamportFuzzGateway(fuzz: TokenResponseFuzzKit) {
  const valid = fc
    .record({ token, now: serverSeconds, lifetime: fc.integer({ min: 60, max: 86_400 }) })
    .map(({ token, now, lifetime }) =>
      raw('valid', { body: iamportTokenBody(token, lifetime, now) }, { sentToken: token, outcome: 'token' }),
    );

  /** A valid envelope with one thing wrong: a field removed, of the wrong kind, an odd expiry, an odd token. */
  const mutated = fc
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

  /** The secret echoed in the error envelope's message, in the status text, or in the content type of a non-JSON body. */
  const secretEchoed = fc
    .record({
      status: fc.constantFrom(200, 400, 401, 403, 500, 503),
      code: fc.integer({ min: -10, max: 10 }).filter((code) => code !== 0),
      where: fc.constantFrom('message', 'status text', 'content type'),
      before: fc.string({ maxLength: 20 }),
      after: fc.string({ maxLength: 20 }),
    })
    .map(({ status, code, where, before, after }) => {
      const said = `${before}${impSecret}${after}`;
      if (where === 'content type') return raw('secret echoed', { status, contentType: `text/plain; echo=${said}`, body: 'no' });
      const body = JSON.stringify({ code, message: where === 'message' ? said : 'no', response: null });
      return raw('secret echoed', { status, body, ...(where === 'status text' ? { statusText: said } : {}) });
    });

  const transport = fc
    .oneof(
      fc.constantFrom<TokenResponseFuzzFault>({ kind: 'drop' }, { kind: 'reset' }, { kind: 'truncated' }, { kind: 'malformed' }),
      fc.constantFrom<TokenResponseFuzzFault>(...envelopeFaults.slice(2).map(([, fault]) => fault as TokenResponseFuzzFault)),
      fc.record({ kind: fc.constantFrom('status', 'html'), status: fuzz.errorStatus }),
      fc
        .integer({ min: -5, max: 5 })
        .filter((code) => code !== 0)
        .map((code): TokenResponseFuzzFault => ({ kind: 'body', body: { code, message: '요청을 처리할 수 없습니다.', response: null } })),
      fuzz.cutShort.map((response) => ({ kind: 'raw' as const, ...response })),
    )
    .map((fault): FuzzCase => ({ label: `fault ${fault.kind}`, variant: undefined, fault, outcome: 'any' }));

  const gzipped = fc
    .record({ token, now: serverSeconds })
    .map(({ token, now }) =>
      raw(
        'gzip',
        { headers: { 'content-encoding': 'gzip' }, body: gzipSync(iamportTokenBody(token, 1800, now)) },
        { sentToken: token, outcome: 'token' },
      ),
    );

  return {
    variant: fc.constant(undefined),
    stalledBodyStart: '{"code":0,',
    hugeBody: (padding: string) => `{"code":0,"message":"${padding}","response":null}`,
    hugeErrorStatus: 500,
    redirectPaths: ['/users/getToken', '/steal'],
    valid,
    mutated,
    secretEchoed,
    transport,
    gzipped,
  };
}

/** i'mport, described to the provider conformance suite. */
export const iamportConformance: ProviderConformanceGateway<IamportProviderSettings, IamportFaultTarget> = {
  displayName: "i'mport",
  provider: 'iamport',
  fc,
  // Canary tokens: the canary and fuzz suites find a token in output by its marker.
  createEmulator: () => createIamportEmulator({ tokenFormat: 'canary' }),
  createProvider: createIamportProvider,
  validateSettings: validateIamportSettings,
  validSettings: { impKey: 'imp_apikey', impSecret: 'ekKoeW8RyKuT0zgaZsUtXXTLQ4AhPFW3ZGseDA6bkA5lamv9' },
  defaultBaseUrl: iamportDefaultBaseUrl,
  settingsFor: (baseUrl) => ({ ...iamportEmulatorDefaultMerchant, baseUrl }),
  credentialSettings: ['impKey', 'impSecret'],
  secretSettings: ['impSecret'],
  apiPath: (index) => `/payments/imp_${index}`,
  apiTarget: 'api',
  tokenTarget: 'token',
  canary: {
    tokenFaults,
    apiFaults: envelopeFaults,
    wrongSettings: [],
    badSettings: [],
    minimumScanned: 150,
  },
  tokenResponses: {
    fuzzGateway: iamportFuzzGateway,
    foreignTokenBody: iamportTokenBody(`foreign${'f'.repeat(33)}`),
    tokenBody: (_variant, accessToken, lifetimeSeconds) => iamportTokenBody(accessToken, lifetimeSeconds),
    accessTokenField: 'response.access_token',
  },
  settings: {
    controlCharacterMessage: 'must not contain control characters (line breaks, NUL, …)',
    emptyCredentialMessages: { impKey: 'required', impSecret: 'required' },
    hostileCredentials: [],
    settingArbitraries: () => ({}),
  },
};
