/**
 * A local OAuth 2.0 authorization server for the client credentials grant, in two flavours: a generic RFC 6749 server
 * (either client authentication method, scope checks, RFC 6750 challenges on its API) and PayPal (its token path,
 * answer, refusal and `paypal-debug-id` header). Built on the `@x/core/testing` emulator kit: faults, counters,
 * secret rotation, a settable clock. For tests and examples; the README's fidelity table says what each behaviour
 * rests on.
 */
import { randomBytes } from 'node:crypto';
import {
  createCanary,
  createEmulatorKit,
  type Emulator,
  type EmulatorAnswer,
  type EmulatorFault,
  type EmulatorOptions,
  type EmulatorRequest,
  type EmulatorRoute,
} from '@x/core/testing';
import { type OAuth2ErrorCode, paypalDebugIdHeader, paypalTokenPath } from '../oauth2-api-types.js';

/** Which server the emulator plays: a generic RFC 6749 one, or PayPal. */
export type OAuth2EmulatorFlavor = 'rfc6749' | 'paypal';

/** The client authentication methods a server may accept (RFC 6749 §2.3.1). */
export type OAuth2EmulatorAuthMethod = 'client_secret_basic' | 'client_secret_post';

/** One client the emulator accepts. */
export interface OAuth2EmulatorMerchant {
  /** The `client_id`; also the client's id in `countersFor`. */
  clientId: string;
  /** The `client_secret`, compared as the server decodes it (`basicEncoding`). */
  clientSecret: string;
  /** The scopes the client may ask for; a request without `scope` is granted them all. @default [] (any scope is `invalid_scope`) */
  scopes?: readonly string[] | undefined;
}

/**
 * Credentials shaped like PayPal's (base64url, 80 characters), the secret and every token issued holding the canary
 * marker `xcanary`; PayPal-style scopes. The only client unless `merchants` is given.
 */
export const oauth2EmulatorDefaultMerchant: Readonly<Required<OAuth2EmulatorMerchant>> = Object.freeze({
  clientId: 'AYSq3RDGsmBLJE-otTkBtM-jBRd1TCQwFf9RGfwddNXWz0uFU9ztymylOhRS',
  clientSecret: 'xcanary-EGnHDxD_qRPdaLdZz8iCr8N7_MzF-YHPTkjs6NKYQvQSBngp4PTTVWkPZRbL',
  scopes: Object.freeze(['https://uri.paypal.com/services/payments/payment', 'https://uri.paypal.com/services/invoicing', 'openid']),
});

/** Which endpoint a fault applies to: the token endpoint, or any other path (the API). */
export type OAuth2FaultTarget = 'token' | 'api';

/** A fault of the token endpoint or the API: the kit's vocabulary. */
export type OAuth2Fault = EmulatorFault<OAuth2FaultTarget>;

/** Options of {@link createOAuth2Emulator}. */
export interface OAuth2EmulatorOptions extends EmulatorOptions<OAuth2FaultTarget> {
  /** The server to play. @default 'rfc6749' */
  flavor?: OAuth2EmulatorFlavor | undefined;
  /** The clients accepted. @default [oauth2EmulatorDefaultMerchant] */
  merchants?: readonly OAuth2EmulatorMerchant[] | undefined;
  /** The token endpoint's path. @default '/oauth2/token' ('/v1/oauth2/token' for PayPal) */
  tokenPath?: string | undefined;
  /** Lifetime of the tokens issued, whole seconds on the wire. @default 3_600_000 (32_400_000, PayPal's 9 hours) */
  tokenLifetimeMs?: number | undefined;
  /** How `expires_in` is sent: a JSON number, a string of digits, or not at all (RFC 6749 makes it optional). @default 'number' */
  expiresIn?: 'number' | 'string' | 'omitted' | undefined;
  /** The authentication methods accepted. @default both (['client_secret_basic'] for PayPal) */
  authMethods?: readonly OAuth2EmulatorAuthMethod[] | undefined;
  /**
   * How a Basic credential is read: each part form-decoded after the split, as RFC 6749 §2.3.1 says, or as it is, as
   * PayPal and Vipps MobilePay document. @default 'form-encoded' ('as-is' for PayPal)
   */
  basicEncoding?: 'form-encoded' | 'as-is' | undefined;
}

/** What the emulator received and answered. */
export interface OAuth2EmulatorCounters extends Record<string, number> {
  /** Token requests received, faulted or not. */
  tokenRequests: number;
  /** Tokens issued. */
  tokensIssued: number;
  /** Token requests refused with an RFC 6749 §5.2 error. */
  rejectedTokenRequests: number;
  /** API requests received; per client, only those with its valid token. */
  apiCalls: number;
  /** API requests answered 401. */
  unauthorizedApiCalls: number;
  /** Requests answered with a fault. */
  faults: number;
}

/**
 * A running emulator. A client may hold several secrets at once (`addSecret(clientId, secret)`); a revoked one gets
 * the `invalid_client` a wrong one gets, and tokens already issued stay valid.
 */
export interface OAuth2Emulator extends Emulator<OAuth2FaultTarget, OAuth2EmulatorCounters, OAuth2EmulatorMerchant> {
  /** The flavour it plays. */
  readonly flavor: OAuth2EmulatorFlavor;
  /** `url` plus the token path: the provider's `tokenUrl`. */
  readonly tokenUrl: string;
  /** Lifetime of the tokens issued from now on. */
  tokenLifetimeMs: number;
  /** Makes the API refuse `accessToken`, or every token issued so far. Returns how many were revoked. */
  revoke(accessToken?: string): number;
}

interface IssuedToken {
  clientId: string;
  scope: string;
  /** Gateway-clock epoch milliseconds. */
  expiresAt: number;
  revoked: boolean;
}

/** What a token request presented to authenticate the client. */
interface PresentedClient {
  methods: OAuth2EmulatorAuthMethod[];
  clientId: string | undefined;
  clientSecret: string | undefined;
}

const paypalAppId = 'APP-80W284485P519543T';
const realm = 'Basic realm="oauth2-emulator"';

/**
 * Starts an OAuth 2.0 emulator on 127.0.0.1 (a free port).
 *
 * Token endpoint: `POST {tokenPath}` with a form body, `grant_type=client_credentials` and an optional `scope`; the
 * client authenticated by `Authorization: Basic` or `client_id`/`client_secret` in the body, never both. Refusals
 * are RFC 6749 §5.2 bodies: `invalid_request` (not a form, a repeated parameter, two methods, no `grant_type`),
 * `invalid_client` (401, with a `WWW-Authenticate` challenge, when Basic was tried; 400 for the body),
 * `unsupported_grant_type` and `invalid_scope`. PayPal refuses every client with `401 {"error":"invalid_client",
 * "error_description":"Client Authentication failed"}`, answers a missing grant with `"Grant Type is NULL"` and puts
 * `paypal-debug-id` on every answer.
 *
 * API: any other path needs `Authorization: Bearer` with a live, unrevoked token, answering `{ path, clientId, scope }`;
 * otherwise 401 `invalid_token`, with RFC 6750's `WWW-Authenticate: Bearer` challenge (generic flavour).
 *
 * @example
 * const emulator = await createOAuth2Emulator({ flavor: 'paypal' });
 * const provider = createClientCredentialsProvider({ ...oauth2EmulatorDefaultMerchant, preset: 'paypal', baseUrl: emulator.url });
 */
export async function createOAuth2Emulator(options: OAuth2EmulatorOptions = {}): Promise<OAuth2Emulator> {
  const flavor = options.flavor ?? 'rfc6749';
  const paypal = flavor === 'paypal';
  const tokenPath = options.tokenPath ?? (paypal ? paypalTokenPath : '/oauth2/token');
  const authMethods = options.authMethods ?? (paypal ? ['client_secret_basic'] : ['client_secret_basic', 'client_secret_post']);
  const formEncoded = (options.basicEncoding ?? (paypal ? 'as-is' : 'form-encoded')) === 'form-encoded';
  const tokens = new Map<string, IssuedToken>();
  let lifetimeMs = options.tokenLifetimeMs ?? (paypal ? 32_400_000 : 3_600_000);

  /** An answer in the flavour's manner: PayPal's carries a fresh debug id. */
  const reply = (status: number, body: unknown, headers: Record<string, string> = {}): EmulatorAnswer => ({
    status,
    body,
    headers: paypal ? { ...headers, [paypalDebugIdHeader]: debugId() } : headers,
  });
  const refuse = (status: number, error: OAuth2ErrorCode, description: string, headers?: Record<string, string>): EmulatorAnswer => {
    kit.count('rejectedTokenRequests');
    return reply(status, { error, error_description: description }, headers);
  };

  const kit = createEmulatorKit<OAuth2FaultTarget, OAuth2EmulatorCounters, OAuth2EmulatorMerchant>(
    {
      name: 'OAuth2Emulator',
      provider: 'oauth2',
      defaultTarget: 'token',
      counterNames: ['tokenRequests', 'tokensIssued', 'rejectedTokenRequests', 'apiCalls', 'unauthorizedApiCalls'],
      merchants: options.merchants ?? [oauth2EmulatorDefaultMerchant],
      merchantId: (merchant) => merchant.clientId,
      secretFields: ['clientSecret'],
      faultBodies: {
        error: (status) => ({
          error:
            status === 401
              ? 'invalid_client'
              : status >= 500
                ? 'server_error'
                : status === 400
                  ? 'invalid_request'
                  : 'temporarily_unavailable',
          error_description: paypal && status === 401 ? 'Client Authentication failed' : `The emulator answers ${status}.`,
        }),
        errorHeaders: () => (paypal ? { [paypalDebugIdHeader]: debugId() } : undefined),
        sample: JSON.stringify(tokenBodyOf(flavor, 'A21AAsample', 'openid', 32_400, 'number', 1_700_000_000_000)),
      },
      route,
    },
    options,
  );

  function route(request: EmulatorRequest): EmulatorRoute<OAuth2FaultTarget> {
    if (request.path === tokenPath) {
      const presented = presentedClient(request, formEncoded);
      const accepted = kit.presentSecret(presented.clientId, 'clientSecret', presented.clientSecret) === 'accepted';
      const merchantId = accepted ? presented.clientId : undefined;
      kit.count('tokenRequests', merchantId);
      return { targets: ['token'], merchantId, answer: () => answerToken(request, presented) };
    }
    kit.count('apiCalls');
    const accessToken = /^Bearer (\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
    kit.presentToken(accessToken);
    return { targets: ['api'], answer: () => answerApi(request.path, accessToken) };
  }

  function answerToken(request: EmulatorRequest, presented: PresentedClient): EmulatorAnswer {
    if (request.method !== 'POST') return refuse(405, 'invalid_request', 'The token endpoint takes POST only.');
    if (!isForm(request)) return refuse(400, 'invalid_request', 'The body must be application/x-www-form-urlencoded.');
    const form = new URLSearchParams(request.body.toString('utf8'));
    if (new Set(form.keys()).size !== [...form.keys()].length) return refuse(400, 'invalid_request', 'A parameter is repeated.');
    const [method, ...others] = presented.methods;
    if (others.length > 0) return refuse(400, 'invalid_request', 'The client used more than one authentication method.');
    const { clientId, clientSecret } = presented;
    const merchant = clientId === undefined ? undefined : kit.merchant(clientId);
    if (
      method === undefined ||
      !authMethods.includes(method) ||
      merchant === undefined ||
      kit.secretStatus(clientId, 'clientSecret', clientSecret) !== 'accepted'
    ) {
      if (paypal) return refuse(401, 'invalid_client', 'Client Authentication failed');
      // RFC 6749 §5.2: a client that tried Basic gets a 401 and a challenge.
      if (method === 'client_secret_post') return refuse(400, 'invalid_client', 'Client authentication failed.');
      return refuse(401, 'invalid_client', 'Client authentication failed.', { 'www-authenticate': realm });
    }
    const grantType = form.get('grant_type');
    if (grantType === null && paypal) return refuse(400, 'unsupported_grant_type', 'Grant Type is NULL');
    if (grantType === null) return refuse(400, 'invalid_request', 'The grant_type parameter is missing.');
    if (grantType !== 'client_credentials') return refuse(400, 'unsupported_grant_type', 'Only client_credentials is supported.');
    const allowed = merchant.scopes ?? [];
    const asked = form.get('scope')?.split(' ');
    if (asked?.some((scope) => !allowed.includes(scope))) {
      return refuse(400, 'invalid_scope', 'The requested scope is invalid, unknown, or exceeds what the client may ask for.');
    }
    const scope = (asked ?? allowed).join(' ');
    const lifetimeSeconds = Math.floor(lifetimeMs / 1000);
    const accessToken = paypal ? `A21AA${createCanary('', 64)}` : createCanary('', 40);
    const expiresAt = kit.now() + lifetimeSeconds * 1000;
    tokens.set(accessToken, { clientId: merchant.clientId, scope, expiresAt, revoked: false });
    kit.handOutToken(accessToken, merchant.clientId, { clientSecret }, expiresAt);
    kit.count('tokensIssued', merchant.clientId);
    return reply(200, tokenBodyOf(flavor, accessToken, scope, lifetimeSeconds, options.expiresIn ?? 'number', kit.now()));
  }

  function answerApi(path: string, accessToken: string | undefined): EmulatorAnswer {
    const token = accessToken === undefined ? undefined : tokens.get(accessToken);
    if (token === undefined || token.revoked || kit.now() >= token.expiresAt) {
      kit.count('unauthorizedApiCalls');
      const description = paypal ? 'Access Token not found in cache' : 'The access token is unknown, expired or revoked.';
      // RFC 6750 §3.1: a request without a token gets the challenge without an error code.
      const challenge = `Bearer realm="oauth2-emulator"${accessToken === undefined ? '' : ', error="invalid_token"'}`;
      return reply(401, { error: 'invalid_token', error_description: description }, paypal ? {} : { 'www-authenticate': challenge });
    }
    kit.count('apiCalls', token.clientId, { total: false });
    return reply(200, { path, clientId: token.clientId, scope: token.scope });
  }

  const started: OAuth2Emulator = await kit.start<Pick<OAuth2Emulator, 'flavor' | 'tokenUrl' | 'tokenLifetimeMs' | 'revoke'>>({
    flavor,
    get tokenUrl(): string {
      return started.url + tokenPath;
    },
    get tokenLifetimeMs() {
      return lifetimeMs;
    },
    set tokenLifetimeMs(milliseconds) {
      lifetimeMs = milliseconds;
    },
    revoke(accessToken?: string): number {
      let revoked = 0;
      for (const [token, issued] of tokens) {
        if (!issued.revoked && (accessToken === undefined || token === accessToken)) {
          issued.revoked = true;
          revoked += 1;
        }
      }
      return revoked;
    },
  });
  return started;
}

/**
 * A token answer as the flavour sends it: RFC 6749 §5.1's fields, or PayPal's (`scope` first, `app_id`, `nonce`).
 * Exported from this file (not from `@x/oauth2/testing`) for the fuzz test, which varies the same body.
 */
export function tokenBodyOf(
  flavor: OAuth2EmulatorFlavor,
  accessToken: string,
  scope: string,
  lifetimeSeconds: number,
  expiresIn: 'number' | 'string' | 'omitted',
  now: number,
): Record<string, unknown> {
  const lifetime = expiresIn === 'omitted' ? {} : { expires_in: expiresIn === 'string' ? String(lifetimeSeconds) : lifetimeSeconds };
  if (flavor === 'rfc6749') return { access_token: accessToken, token_type: 'Bearer', ...lifetime, ...(scope === '' ? {} : { scope }) };
  // PayPal's nonce: the issue time to the second, then 43 base64url characters.
  const nonce = new Date(now).toISOString().replace(/\.\d+Z$/, 'Z') + randomBytes(32).toString('base64url');
  return { scope, access_token: accessToken, token_type: 'Bearer', app_id: paypalAppId, ...lifetime, nonce };
}

/** The client authentication a request presented: a Basic credential, the body's, both or neither. */
function presentedClient(request: EmulatorRequest, formEncoded: boolean): PresentedClient {
  const presented: PresentedClient = { methods: [], clientId: undefined, clientSecret: undefined };
  const basic = /^basic\s+(\S*)\s*$/i.exec(request.headers.authorization ?? '')?.[1];
  if (basic !== undefined) {
    const decoded = Buffer.from(basic, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const [id, secret] = colon === -1 ? [decoded, undefined] : [decoded.slice(0, colon), decoded.slice(colon + 1)];
    const read = (part: string | undefined) => (part === undefined || !formEncoded ? part : new URLSearchParams(`a=${part}`).get('a')!);
    presented.methods.push('client_secret_basic');
    presented.clientId = read(id);
    presented.clientSecret = read(secret);
  }
  const form = isForm(request) ? new URLSearchParams(request.body.toString('utf8')) : undefined;
  if (form?.has('client_secret') === true) {
    presented.methods.push('client_secret_post');
    presented.clientId = form.get('client_id') ?? undefined;
    presented.clientSecret = form.get('client_secret') ?? undefined;
  }
  return presented;
}

function isForm(request: EmulatorRequest): boolean {
  return /^application\/x-www-form-urlencoded\s*(;|$)/i.test(request.headers['content-type'] ?? '');
}

/** PayPal's debug ids are 13 or so lowercase hex digits. */
function debugId(): string {
  return randomBytes(7).toString('hex').slice(0, 13);
}
