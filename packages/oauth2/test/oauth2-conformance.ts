/**
 * `@x/oauth2` as the provider conformance suite sees it (`@x/core/testing/conformance`), twice: PayPal (the preset
 * against the PayPal-flavoured emulator) and a generic RFC 6749 server (a token URL and an API origin of one's own,
 * each client authentication method a variant). Used by the canary, fuzz and settings tests; not exported.
 */
import { gzipSync } from 'node:zlib';
import type { RawResponse } from '@x/core/testing';
import type { ProviderConformanceGateway } from '@x/core/testing/conformance';
import type { TokenResponseFuzzCase, TokenResponseFuzzFault, TokenResponseFuzzKit } from '@x/core/testing/fuzz';
import fc from 'fast-check';
import { type ClientAuthMethod, clientAuthMethods, paypalBaseUrls } from '../src/oauth2-api-types.js';
import { type ClientCredentialsProviderSettings, validateClientCredentialsSettings } from '../src/oauth2-settings.js';
import { createClientCredentialsProvider } from '../src/oauth2-token-provider.js';
import {
  createOAuth2Emulator,
  type OAuth2EmulatorFlavor,
  type OAuth2Fault,
  type OAuth2FaultTarget,
  oauth2EmulatorDefaultMerchant,
} from '../src/testing/index.js';
import { tokenBodyOf } from '../src/testing/oauth2-emulator.js';

const { clientId, clientSecret } = oauth2EmulatorDefaultMerchant;
/** The Basic credential: base64 of `client_id:client_secret` (the same form-encoded: base64url needs no escaping). */
const basicCredential = Buffer.from(`${clientId}:${clientSecret}`, 'utf8').toString('base64');
const paypalScope = oauth2EmulatorDefaultMerchant.scopes.join(' ');

/** A token body as the flavour's server sends it, as a record a case may change. */
export function oauth2TokenBody(flavor: OAuth2EmulatorFlavor, accessToken: string, lifetimeSeconds = 3600): Record<string, unknown> {
  return tokenBodyOf(flavor, accessToken, paypalScope, lifetimeSeconds, 'number', 1_700_000_000_000);
}

/** Answers in OAuth 2.0's shapes that echo the credentials, and tokens no client may take. */
const tokenFaults: Array<[string, OAuth2Fault]> = [
  ['an error echoing the secret', { kind: 'body', status: 401, body: { error: 'invalid_client', error_description: clientSecret } }],
  ['an error code that is the secret', { kind: 'body', status: 400, body: { error: clientSecret, error_uri: clientSecret } }],
  [
    'an error echoing the Basic credential',
    { kind: 'body', status: 401, body: { error: 'invalid_client', error_description: basicCredential } },
  ],
  [
    'an error echoing the secret form-encoded',
    {
      kind: 'body',
      status: 400,
      body: { error: 'invalid_request', error_description: `client_secret=${encodeURIComponent(clientSecret)}` },
    },
  ],
  [
    'a debug id header echoing the secret',
    { kind: 'raw', status: 401, headers: { 'paypal-debug-id': clientSecret }, body: '{"error":"invalid_client"}' },
  ],
  ['a token with a line break', { kind: 'body', body: { token_type: 'Bearer', expires_in: 3600, access_token: 'xcanary\r\nX-Evil: 1' } }],
  ['a token of another type', { kind: 'body', body: { token_type: 'MAC', expires_in: 3600, access_token: 'xcanary-mac' } }],
  ['a token that lives 0 seconds', { kind: 'body', body: { token_type: 'Bearer', expires_in: 0, access_token: 'xcanary-old' } }],
  ['a token without a lifetime', { kind: 'body', body: { token_type: 'bearer', access_token: 'xcanary-forever' } }],
];

const apiFaults: Array<[string, OAuth2Fault]> = [
  [
    'an RFC 6750 refusal echoing the secret',
    { kind: 'body', status: 401, body: { error: 'invalid_token', error_description: clientSecret } },
  ],
];

const accessToken = fc.stringMatching(/^[A-Za-z0-9_-]{20,90}$/);
const lifetime = fc.integer({ min: 60, max: 86_400 });
/** A value of the wrong kind for any field, including numbers JSON can carry but a clock cannot use. */
const oddValue = fc.oneof(
  fc.jsonValue(),
  fc.constantFrom('-1', '0', '1e3', ' 60', '+60', '0x10', '3600.5', '', '9007199254740993', 'NaN'),
  fc.constantFrom(-1, 0, 1.5, 1e300, 1e306, Number.MAX_VALUE, Number.MAX_SAFE_INTEGER + 2, null, [], {}, true),
);
const fieldNames = ['access_token', 'token_type', 'expires_in', 'scope', 'app_id', 'nonce'] as const;

/** The fuzz cases of one flavour; every variant (authentication method) of the generic one draws them alike. */
function fuzzGatewayOf(flavor: OAuth2EmulatorFlavor, variants: readonly (ClientAuthMethod | undefined)[]) {
  const variant = fc.constantFrom(...variants);
  type FuzzCase = TokenResponseFuzzCase<ClientAuthMethod | undefined>;
  const raw = (label: string, method: ClientAuthMethod | undefined, response: RawResponse, rest: Partial<FuzzCase> = {}): FuzzCase => ({
    label,
    variant: method,
    fault: { kind: 'raw', ...response },
    outcome: 'any',
    ...rest,
  });

  return (fuzz: TokenResponseFuzzKit) => {
    const valid = fc
      .record({
        method: variant,
        token: accessToken,
        lifetime,
        text: fc.boolean(),
        tokenType: fc.constantFrom('Bearer', 'bearer', 'BEARER'),
      })
      .map(({ method, token, lifetime, text, tokenType }) => {
        const body: Record<string, unknown> = { ...oauth2TokenBody(flavor, token, lifetime), token_type: tokenType };
        if (text) body.expires_in = String(lifetime);
        return raw('valid', method, { body: JSON.stringify(body) }, { sentToken: token, outcome: 'token' });
      });

    const mutated = fc
      .record({
        method: variant,
        token: accessToken,
        mutation: fc.oneof(
          fc.record({ remove: fc.constantFrom(...fieldNames) }),
          fc.record({ set: fc.constantFrom(...fieldNames), value: oddValue }),
          fc.record({ tokenType: fc.oneof(fc.constantFrom('Bearer ', 'MAC', 'Basic', 'DPoP', 'N_A', ''), fc.string({ maxLength: 8 })) }),
          fc.record({ accessToken: fc.oneof(fc.constant(''), fc.string({ unit: 'binary', maxLength: 20 })) }),
          fc.record({ numberText: fc.constantFrom('1e400', '1e306', '-0', '1E3', '00', '.5', 'NaN', '-1', '3600.5') }),
        ),
        status: fc.oneof(fc.constant(200), fuzz.status),
        contentType: fuzz.contentType,
        delivery: fuzz.delivery,
      })
      .map(({ method, token, mutation, status, contentType, delivery }) => {
        const body = oauth2TokenBody(flavor, token);
        let text: string | undefined;
        let label: string;
        if ('remove' in mutation) {
          label = 'field removed';
          delete body[mutation.remove];
        } else if ('set' in mutation) {
          label = 'field of the wrong kind';
          body[mutation.set] = mutation.value;
        } else if ('tokenType' in mutation) {
          label = 'odd token type';
          body.token_type = mutation.tokenType;
        } else if ('accessToken' in mutation) {
          label = 'odd token';
          body.access_token = mutation.accessToken;
        } else {
          label = 'odd number text';
          text = JSON.stringify(body).replace('"expires_in":3600', `"expires_in":${mutation.numberText}`);
        }
        const sentToken = typeof body.access_token === 'string' ? body.access_token : token;
        return raw(label, method, { status, contentType, body: text ?? JSON.stringify(body), ...delivery }, { sentToken });
      });

    /** The secret (or the Basic credential) echoed in an RFC 6749 error body, a debug id, the status text or a content type. */
    const secretEchoed = fc
      .record({
        method: variant,
        status: fc.constantFrom(200, 400, 401, 403, 429, 500, 503),
        where: fc.constantFrom('error', 'description', 'debug id', 'status text', 'content type'),
        secret: fc.constantFrom(clientSecret, basicCredential, encodeURIComponent(clientSecret)),
        before: fc.string({ maxLength: 20 }),
        after: fc.string({ maxLength: 20 }),
      })
      .map(({ method, status, where, secret, before, after }) => {
        const said = `${before}${secret}${after}`;
        if (where === 'status text') return raw('secret echoed', method, { status, statusText: said, body: '{}' });
        if (where === 'content type') return raw('secret echoed', method, { status, contentType: `text/plain; echo=${said}`, body: 'no' });
        if (where === 'debug id')
          return raw('secret echoed', method, { status, headers: { 'paypal-debug-id': said }, body: '{"error":"x"}' });
        const body = where === 'error' ? { error: said } : { error: 'invalid_client', error_description: said };
        return raw('secret echoed', method, { status, body: JSON.stringify(body) });
      });

    const errorCode = fc.constantFrom(
      'invalid_request',
      'invalid_client',
      'invalid_grant',
      'unauthorized_client',
      'unsupported_grant_type',
      'invalid_scope',
      'server_error',
      'temporarily_unavailable',
    );
    const transport = fc
      .record({
        method: variant,
        fault: fc.oneof(
          fc.constantFrom<TokenResponseFuzzFault>({ kind: 'drop' }, { kind: 'reset' }, { kind: 'truncated' }, { kind: 'malformed' }),
          fc.record({ kind: fc.constantFrom('status', 'html'), status: fuzz.errorStatus }),
          fc.record({ kind: fc.constant('body'), status: fuzz.status, body: fc.record({ error: errorCode }) }),
          fc.record({ kind: fc.constant('body'), body: fc.jsonValue(), status: fc.oneof(fc.constant(200), fuzz.status) }),
          fuzz.cutShort.map((response) => ({ kind: 'raw' as const, ...response })),
        ),
      })
      .map(({ method, fault }): FuzzCase => ({ label: `fault ${fault.kind}`, variant: method, fault, outcome: 'any' }));

    const gzipped = fc
      .record({ method: variant, token: accessToken })
      .map(({ method, token }) =>
        raw(
          'gzip',
          method,
          { headers: { 'content-encoding': 'gzip' }, body: gzipSync(JSON.stringify(oauth2TokenBody(flavor, token))) },
          { sentToken: token, outcome: 'token' },
        ),
      );

    return {
      variant,
      stalledBodyStart: '{"access_token":',
      hugeBody: (padding: string) => `{"token_type":"Bearer","expires_in":3600,"scope":"${padding}"}`,
      hugeErrorStatus: 502,
      redirectPaths: ['/v1/oauth2/token', '/oauth2/token', '/steal'],
      valid,
      mutated,
      secretEchoed,
      transport,
      gzipped,
    };
  };
}

const foreignTokenBody = JSON.stringify({ access_token: `foreign${'f'.repeat(33)}`, token_type: 'Bearer', expires_in: 3600 });

/** What both descriptions share. */
const common = {
  provider: 'oauth2',
  fc,
  createProvider: createClientCredentialsProvider,
  validateSettings: validateClientCredentialsSettings,
  credentialSettings: ['clientId', 'clientSecret'],
  secretSettings: ['clientSecret'],
  apiTarget: 'api',
  tokenTarget: 'token',
  settings: {
    controlCharacterMessage: 'must not contain control characters',
    emptyCredentialMessages: { clientId: 'must not be empty', clientSecret: 'must not be empty' },
    hostileCredentials: [],
    settingArbitraries: () => ({
      environment: fc.constantFrom('sandbox', 'live', '__proto__'),
      preset: fc.constantFrom('paypal', 'constructor'),
      authMethod: fc.constantFrom(...clientAuthMethods, 'private_key_jwt'),
      scope: fc.oneof(fc.constantFrom('openid', 'a b', 'a  b', ' a', '"a"'), fc.string({ maxLength: 20 })),
      audience: fc.string({ maxLength: 20 }),
      tokenUrl: fc.oneof(fc.webUrl(), fc.constant('http://127.0.0.1:1/oauth2/token')),
      defaultLifetimeMs: fc.oneof(fc.integer(), fc.double(), fc.constant(2 ** 31)),
      diagnosticHeaders: fc.array(fc.string({ maxLength: 10 }), { maxLength: 12 }),
    }),
  },
} as const;

/** PayPal: the preset, against the PayPal-flavoured emulator. */
export const paypalConformance: ProviderConformanceGateway<
  ClientCredentialsProviderSettings,
  OAuth2FaultTarget,
  ClientAuthMethod | undefined
> = {
  ...common,
  displayName: 'PayPal',
  createEmulator: () => createOAuth2Emulator({ flavor: 'paypal' }),
  validSettings: {
    preset: 'paypal',
    environment: 'sandbox',
    clientId,
    clientSecret: 'EGnHDxD_qRPdaLdZz8iCr8N7_MzF-YHPTkjs6NKYQvQSBngp4PTTVWkPZRbL',
  },
  defaultBaseUrl: paypalBaseUrls.sandbox,
  settingsFor: (baseUrl) => ({ preset: 'paypal', clientId, clientSecret, baseUrl }),
  apiPath: (index) => `/v2/checkout/orders/ORDER-${index}`,
  canary: {
    tokenFaults,
    apiFaults,
    wrongSettings: [
      ['client id', { clientId: 'not-registered' }],
      ['scope', { scope: 'https://uri.paypal.com/services/not-granted' }],
    ],
    badSettings: [{ clientSecret: `${clientSecret}\u0085` }, { scope: `${clientSecret} "` }, { audience: `${clientSecret}\n` }],
    minimumScanned: 300,
    encodedSecrets: [basicCredential],
  },
  tokenResponses: {
    fuzzGateway: fuzzGatewayOf('paypal', [undefined]),
    foreignTokenBody,
    tokenBody: (_variant, token, lifetimeSeconds) => JSON.stringify(oauth2TokenBody('paypal', token, lifetimeSeconds)),
    accessTokenField: 'access_token',
  },
};

/** A generic RFC 6749 server, each client authentication method a variant; tokens without a lifetime live an hour. */
export const rfc6749Conformance: ProviderConformanceGateway<
  ClientCredentialsProviderSettings,
  OAuth2FaultTarget,
  ClientAuthMethod | undefined
> = {
  ...common,
  displayName: 'OAuth 2.0',
  createEmulator: () => createOAuth2Emulator(),
  validSettings: {
    tokenUrl: 'https://auth.example.com/oauth2/token',
    baseUrl: 'https://api.example.com',
    clientId,
    clientSecret: 'secret',
  },
  defaultBaseUrl: 'https://api.example.com',
  settingsFor: (baseUrl, authMethod) => ({
    clientId,
    clientSecret,
    tokenUrl: `${baseUrl}/oauth2/token`,
    baseUrl,
    ...(authMethod === undefined ? {} : { authMethod }),
    defaultLifetimeMs: 3_600_000,
  }),
  variants: clientAuthMethods,
  apiPath: (index) => `/api/resources/${index}`,
  canary: {
    tokenFaults,
    apiFaults,
    wrongSettings: [
      ['client id', { clientId: 'not-registered' }],
      ['client secret in the body', { clientSecret: 'xcanary-wrong-post-secret', authMethod: 'client_secret_post' }],
      ['scope', { scope: 'not-granted' }],
    ],
    badSettings: [
      { tokenUrl: `https://${clientSecret}@auth.example.com/oauth2/token` },
      { tokenUrl: `https://auth.example.com/oauth2/token#${clientSecret}` },
      { audience: clientSecret.repeat(100) },
    ],
    minimumScanned: 300,
    encodedSecrets: [basicCredential],
  },
  tokenResponses: {
    fuzzGateway: fuzzGatewayOf('rfc6749', clientAuthMethods),
    foreignTokenBody,
    tokenBody: (_variant, token, lifetimeSeconds) => JSON.stringify(oauth2TokenBody('rfc6749', token, lifetimeSeconds)),
    accessTokenField: 'access_token',
  },
};
