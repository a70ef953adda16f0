/**
 * Vipps MobilePay as the provider conformance suite sees it (`@x/core/testing/conformance`): the emulator, the
 * provider and its settings, both token endpoints, and the cases only Vipps' wire format can make (numbers sent as
 * strings, OAuth and API gateway error bodies, credentials in headers). Used by the canary, fuzz and settings tests;
 * not exported.
 */
import { gzipSync } from 'node:zlib';
import type { RawResponse } from '@x/core/testing';
import type { ProviderConformanceGateway } from '@x/core/testing/conformance';
import type { TokenResponseFuzzCase, TokenResponseFuzzFault, TokenResponseFuzzKit } from '@x/core/testing/fuzz';
import fc from 'fast-check';
import { createVippsEmulator, type VippsFault, type VippsFaultTarget, vippsEmulatorDefaultMerchant } from '../src/testing/index.js';
import { tokenResponseOf } from '../src/testing/vipps-emulator.js';
import { type VippsTokenEndpoint, vippsBaseUrls } from '../src/vipps-api-types.js';
import { type VippsProviderSettings, validateVippsSettings } from '../src/vipps-settings.js';
import { createVippsProvider } from '../src/vipps-token-provider.js';

const { clientId, clientSecret, subscriptionKey } = vippsEmulatorDefaultMerchant;
const secrets = [clientSecret, subscriptionKey];
/** The partner endpoint's Basic credential: base64 of `client_id:client_secret`, the secret without its marker. */
const basicCredential = Buffer.from(`${clientId}:${clientSecret}`, 'utf8').toString('base64');

/** A case's variant is the token endpoint it answers. */
type FuzzCase = TokenResponseFuzzCase<VippsTokenEndpoint>;

/** The body the emulator sends, as a record a case may change. */
export function vippsTokenBody(
  tokenEndpoint: VippsTokenEndpoint,
  accessToken: string,
  now: number,
  lifetimeSeconds: number,
): Record<string, unknown> {
  return { ...tokenResponseOf(tokenEndpoint, accessToken, now, lifetimeSeconds) };
}

/** Answers in Vipps' own shapes: OAuth, API gateway and problem bodies echoing the credentials, and odd tokens. */
const tokenFaults: Array<[string, VippsFault]> = [
  ['an error echoing the secret', { kind: 'body', status: 401, body: { error: 'invalid_client', error_description: clientSecret } }],
  [
    'an APIM error echoing the key',
    { kind: 'body', status: 401, body: { statusCode: 401, message: `Access denied for key ${subscriptionKey}` } },
  ],
  [
    'a problem echoing both',
    { kind: 'body', status: 400, body: { title: clientSecret, detail: `${subscriptionKey} and ${clientSecret}` } },
  ],
  [
    'an identity platform error echoing the Basic credential',
    { kind: 'body', status: 401, body: { error: 'invalid_client', error_description: `AADSTS7000215: bad Basic ${basicCredential}` } },
  ],
  [
    'an error echoing the secret form-encoded',
    {
      kind: 'body',
      status: 400,
      body: { error: 'invalid_request', error_description: `client_secret=${encodeURIComponent(clientSecret)}` },
    },
  ],
  ['a token with a line break', { kind: 'body', body: { token_type: 'Bearer', expires_in: '3600', access_token: 'xcanary\r\nX-Evil: 1' } }],
  ['a token with a space', { kind: 'body', body: { token_type: 'Bearer', expires_in: '3600', access_token: 'xcanary ab' } }],
  ['a token of another type', { kind: 'body', body: { token_type: 'MAC', expires_in: '3600', access_token: 'xcanary-mac' } }],
  ['a token with a negative lifetime', { kind: 'body', body: { token_type: 'Bearer', expires_in: '-1', access_token: 'xcanary-old' } }],
  ['a token without a lifetime', { kind: 'body', body: { token_type: 'Bearer', access_token: 'xcanary-forever' } }],
];

/** A proxy that answers with the credential headers it was sent, on either endpoint. */
const headerEcho: [string, VippsFault] = [
  'a JSON echo of the headers',
  {
    kind: 'raw',
    status: 500,
    body: JSON.stringify({
      headers: { client_secret: clientSecret, 'Ocp-Apim-Subscription-Key': subscriptionKey, authorization: `Basic ${basicCredential}` },
    }),
  },
];

const endpoint = fc.constantFrom<VippsTokenEndpoint>('accesstoken', 'partner');
const jwt = fc.stringMatching(/^[A-Za-z0-9_-]{16,40}\.[A-Za-z0-9_-]{16,60}\.[A-Za-z0-9_-]{16,43}$/);
const gatewaySeconds = fc.integer({ min: 1_600_000_000, max: 2_000_000_000 });
/** Number strings a careless parser (`Number`, `parseInt`) would accept or misread. */
const oddNumberString = fc.oneof(
  fc.constantFrom('-1', '0', '00', '1', '1e3', ' 60', '60 ', '+60', '0x10', '0b11', '3600.5', '3600.', '.5', '', ' ', '١٢٠', '3600\n'),
  fc.constantFrom('99999999999999999999', '999999999999999', '9007199254740993', 'Infinity', 'NaN', '-0', '1_000'),
  fc.string({ maxLength: 12 }),
  fc.integer().map(String),
);
/** A value of the wrong kind for any field, including numbers JSON can carry but a clock cannot use. */
const oddValue = fc.oneof(
  fc.jsonValue(),
  oddNumberString,
  fc.constantFrom(-1, 0, 1.5, 1e300, -1e300, 1e306, Number.MAX_VALUE, Number.MAX_SAFE_INTEGER + 2, null, [], {}, true),
);
const fieldNames = ['access_token', 'token_type', 'expires_in', 'expires_on', 'not_before', 'ext_expires_in', 'resource'] as const;

function raw(label: string, tokenEndpoint: VippsTokenEndpoint, response: RawResponse, rest: Partial<FuzzCase> = {}): FuzzCase {
  return { label, variant: tokenEndpoint, fault: { kind: 'raw', ...response }, outcome: 'any', ...rest };
}

/** Vipps' own fuzz cases, for both token endpoints: odd number strings get most attention. */
function vippsFuzzGateway(fuzz: TokenResponseFuzzKit) {
  const valid = fc
    .record({ endpoint, token: jwt, now: gatewaySeconds, lifetime: fc.integer({ min: 60, max: 86_400 }), numbers: fc.boolean() })
    .map(({ endpoint, token, now, lifetime, numbers }) => {
      const body = vippsTokenBody(endpoint, token, now, lifetime);
      // The partner endpoint's `expires_in` is documented as a string but accepted as a number too.
      if (numbers) body.expires_in = lifetime;
      return raw('valid', endpoint, { body: JSON.stringify(body) }, { sentToken: token, outcome: 'token' });
    });

  /** A valid body with one thing wrong: a field removed, of the wrong kind, an odd number string, an odd token. */
  const mutated = fc
    .record({
      endpoint,
      token: jwt,
      now: gatewaySeconds,
      mutation: fc.oneof(
        fc.record({ remove: fc.constantFrom(...fieldNames) }),
        fc.record({ set: fc.constantFrom(...fieldNames), value: oddValue }),
        fc.record({ expiry: fc.constantFrom('expires_in', 'expires_on', 'not_before'), value: oddNumberString }),
        fc.record({ tokenType: fc.oneof(fc.constantFrom('bearer', 'BEARER', 'Bearer ', 'MAC', 'Basic', ''), fc.string({ maxLength: 8 })) }),
        fc.record({ accessToken: fc.oneof(fc.constant(''), fc.string({ unit: 'binary', maxLength: 20 })) }),
        fc.record({
          numberText: fc.constantFrom('1e400', '1e306', '1.7976931348623157e308', '-0', '1E3', '00', '.5', '0x10', 'NaN', '-1', '3600.5'),
        }),
      ),
      status: fc.oneof(fc.constant(200), fuzz.status),
      contentType: fuzz.contentType,
      delivery: fuzz.delivery,
    })
    .map(({ endpoint, token, now, mutation, status, contentType, delivery }) => {
      const body = vippsTokenBody(endpoint, token, now, 3600);
      let text: string | undefined;
      let label: string;
      if ('remove' in mutation) {
        label = 'field removed';
        delete body[mutation.remove];
      } else if ('set' in mutation) {
        label = 'field of the wrong kind';
        body[mutation.set] = mutation.value;
      } else if ('expiry' in mutation) {
        label = 'odd number string';
        body[mutation.expiry] = mutation.value;
      } else if ('tokenType' in mutation) {
        label = 'odd token type';
        body.token_type = mutation.tokenType;
      } else if ('accessToken' in mutation) {
        label = 'odd token';
        body.access_token = mutation.accessToken;
      } else {
        label = 'odd number text';
        text = JSON.stringify({ ...body, expires_in: 0 }).replace('"expires_in":0', `"expires_in":${mutation.numberText}`);
      }
      const sentToken = typeof body.access_token === 'string' ? body.access_token : token;
      return raw(label, endpoint, { status, contentType, body: text ?? JSON.stringify(body), ...delivery }, { sentToken });
    });

  /** A secret echoed in an error body of either of the gateway's shapes, the status text, or a content type. */
  const secretEchoed = fc
    .record({
      endpoint,
      status: fc.constantFrom(200, 400, 401, 403, 429, 500, 503),
      shape: fc.constantFrom('oauth', 'apim', 'problem', 'status text', 'content type'),
      secret: fc.constantFrom(...secrets),
      before: fc.string({ maxLength: 20 }),
      after: fc.string({ maxLength: 20 }),
    })
    .map(({ endpoint, status, shape, secret, before, after }) => {
      const said = `${before}${secret}${after}`;
      if (shape === 'status text') return raw('secret echoed', endpoint, { status, statusText: said, body: '{}' });
      if (shape === 'content type') return raw('secret echoed', endpoint, { status, contentType: `text/plain; echo=${said}`, body: 'no' });
      const body =
        shape === 'oauth'
          ? { error: said, error_description: said }
          : shape === 'apim'
            ? { statusCode: status, message: said }
            : { type: 'about:blank', title: said, status, detail: said };
      return raw('secret echoed', endpoint, { status, body: JSON.stringify(body) });
    });

  const transport = fc
    .record({
      endpoint,
      fault: fc.oneof(
        fc.constantFrom<TokenResponseFuzzFault>({ kind: 'drop' }, { kind: 'reset' }, { kind: 'truncated' }, { kind: 'malformed' }),
        fc.record({ kind: fc.constantFrom('status', 'html'), status: fuzz.errorStatus }),
        fc.record({ kind: fc.constant('body'), body: fc.jsonValue(), status: fc.oneof(fc.constant(200), fuzz.status) }),
        fuzz.cutShort.map((response) => ({ kind: 'raw' as const, ...response })),
      ),
    })
    .map(({ endpoint, fault }): FuzzCase => ({ label: `fault ${fault.kind}`, variant: endpoint, fault, outcome: 'any' }));

  const gzipped = fc
    .record({ endpoint, token: jwt, now: gatewaySeconds })
    .map(({ endpoint, token, now }) =>
      raw(
        'gzip',
        endpoint,
        { headers: { 'content-encoding': 'gzip' }, body: gzipSync(JSON.stringify(vippsTokenBody(endpoint, token, now, 3600))) },
        { sentToken: token, outcome: 'token' },
      ),
    );

  return {
    variant: endpoint,
    stalledBodyStart: '{"token_type":',
    hugeBody: (padding: string) => `{"token_type":"Bearer","expires_in":"3600","padding":"${padding}"}`,
    hugeErrorStatus: 502,
    redirectPaths: ['/accesstoken/get', '/steal'],
    valid,
    mutated,
    secretEchoed,
    transport,
    gzipped,
  };
}

/** Vipps MobilePay, described to the provider conformance suite. */
export const vippsConformance: ProviderConformanceGateway<VippsProviderSettings, VippsFaultTarget, VippsTokenEndpoint> = {
  displayName: 'Vipps',
  provider: 'vipps',
  fc,
  createEmulator: createVippsEmulator,
  createProvider: createVippsProvider,
  validateSettings: validateVippsSettings,
  validSettings: {
    clientId: 'fb492b5e-7907-4d83-ba20-c7fb60ca35de',
    clientSecret: 'secret-Y8Kteew6GE2ZmeycEt6egg==',
    subscriptionKey: 'key-0f14ebcab0ec4b29ae0cb90d91b4a84a',
    environment: 'test',
  },
  defaultBaseUrl: vippsBaseUrls.test,
  settingsFor: (baseUrl, tokenEndpoint) => ({ ...vippsEmulatorDefaultMerchant, baseUrl, ...(tokenEndpoint ? { tokenEndpoint } : {}) }),
  credentialSettings: ['clientId', 'clientSecret', 'subscriptionKey'],
  secretSettings: ['clientSecret', 'subscriptionKey'],
  variants: ['accesstoken', 'partner'],
  apiPath: (index) => `/epayment/v1/payments/order-${index}`,
  apiTarget: 'payments',
  tokenTarget: 'accesstoken',
  canary: {
    tokenFaults: [...tokenFaults, headerEcho],
    apiFaults: [headerEcho],
    wrongSettings: [
      ['client id', { clientId: 'not-registered' }],
      ['client secret on the partner endpoint', { clientSecret: 'xcanary-wrong-partner-secret', tokenEndpoint: 'partner' }],
    ],
    badSettings: [{ clientSecret: `${clientSecret}€` }, { merchantSerialNumber: clientSecret, systemName: subscriptionKey }],
    minimumScanned: 300,
    encodedSecrets: [basicCredential],
  },
  tokenResponses: {
    fuzzGateway: vippsFuzzGateway,
    foreignTokenBody: JSON.stringify({
      access_token: `foreign.${'f'.repeat(20)}.${'f'.repeat(20)}`,
      token_type: 'Bearer',
      expires_in: '900',
    }),
    tokenBody: (tokenEndpoint, accessToken, lifetimeSeconds) =>
      JSON.stringify(vippsTokenBody(tokenEndpoint, accessToken, 1_700_000_000, lifetimeSeconds)),
    accessTokenField: 'access_token',
  },
  settings: {
    controlCharacterMessage: 'must only hold printable Latin-1 characters (no line breaks)',
    emptyCredentialMessages: {
      clientId: 'must not be empty',
      clientSecret: 'must not be empty',
      subscriptionKey: 'must not be empty (leave the setting out instead)',
    },
    hostileCredentials: [
      ['a character fetch cannot send in a header', 'xcanary\u20ac', 'must only hold printable Latin-1 characters (no line breaks)'],
    ],
    settingArbitraries: () => ({
      merchantSerialNumber: fc.stringMatching(/^\d{4,6}$/),
      environment: fc.constantFrom('test', 'production', '__proto__', 'constructor'),
      tokenEndpoint: fc.constantFrom('accesstoken', 'partner', 'constructor'),
    }),
  },
};
