/**
 * A local Vipps MobilePay: both token endpoints and the ePayment flow, with the documented header rules, string-typed
 * numbers, and the `@x/core/testing` emulator kit's faults. For tests and examples; never a stand-in for the real
 * gateway's business logic.
 */
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
import {
  merchantSerialNumberPattern,
  type VippsAccessTokenResponse,
  VippsHeader,
  type VippsPartnerTokenResponse,
  type VippsTokenEndpoint,
  type VippsTokenErrorResponse,
  vippsSystemHeaderMaxLength,
  vippsTokenPaths,
} from '../vipps-api-types.js';
import {
  createVippsEpayment,
  isVippsEpaymentPath,
  type VippsPaymentState,
  type VippsUnknownPaymentReferences,
  type VippsUserAction,
  type VippsUserActionOptions,
} from './vipps-epayment.js';

/** One set of credentials the emulator accepts. */
export interface VippsEmulatorMerchant {
  /** The `client_id` header the token endpoints accept; also the merchant's id in the emulator's `countersFor`. */
  clientId: string;
  /** The `client_secret` header the token endpoints accept. */
  clientSecret: string;
  /** Required on `/accesstoken/get` and on API calls made with its tokens; unused by the partner endpoint. */
  subscriptionKey?: string | undefined;
  /** Reported back by the payment endpoint when a call carries no `Merchant-Serial-Number`. */
  merchantSerialNumber?: string | undefined;
}

/**
 * The sample credentials of the Vipps MobilePay guide, the secrets prefixed with the canary marker `xcanary` (as
 * are the tokens the emulator issues), so a test that finds them in output found a leak. The emulator's only
 * merchant unless `merchants` is given.
 */
export const vippsEmulatorDefaultMerchant: Readonly<Required<VippsEmulatorMerchant>> = Object.freeze({
  clientId: 'fb492b5e-7907-4d83-ba20-c7fb60ca35de',
  clientSecret: 'xcanary-Y8Kteew6GE2ZmeycEt6egg==',
  subscriptionKey: 'xcanary0f14ebcab0ec4b29ae0cb90d91b4a84a',
  merchantSerialNumber: '123456',
});

/** Which endpoint a fault applies to: one token endpoint, both (`token`), or the payment API (`payments`). */
export type VippsFaultTarget = VippsTokenEndpoint | 'token' | 'payments';

/** A fault of the token endpoints or the payment API: the kit's vocabulary, aimed at Vipps MobilePay's endpoints. */
export type VippsFault = EmulatorFault<VippsFaultTarget>;

/** Options of {@link createVippsEmulator}. Every lifetime defaults to Vipps MobilePay's test environment. */
export interface VippsEmulatorOptions extends EmulatorOptions<VippsFaultTarget> {
  /** Credentials accepted by both token endpoints. @default [vippsEmulatorDefaultMerchant] */
  merchants?: readonly VippsEmulatorMerchant[] | undefined;
  /** Lifetime of `/accesstoken/get` tokens, whole seconds on the wire (3_600_000 is the test environment, 86_400_000 production). @default 3_600_000 */
  tokenLifetimeMs?: number | undefined;
  /** Lifetime of `/miami/v1/token` tokens, whole seconds on the wire. @default 900_000 */
  partnerTokenLifetimeMs?: number | undefined;
  /**
   * What the ePayment API makes of a reference no create call made: `'authorized'` answers as a 10 NOK payment the
   * user already approved (any reference is a ready API call), `'not-found'` with `404 Reference not found`, as the
   * gateway does. @default 'authorized'
   */
  unknownPaymentReferences?: VippsUnknownPaymentReferences | undefined;
}

/** What the emulator received and answered. */
export interface VippsEmulatorCounters extends Record<string, number> {
  /** `/accesstoken/get` requests received, faulted or not. */
  tokenRequests: number;
  /** `/miami/v1/token` requests received, faulted or not. */
  partnerTokenRequests: number;
  /** Tokens issued by either endpoint. */
  tokensIssued: number;
  /** Token requests refused (400 or 401). */
  rejectedTokenRequests: number;
  /** Payment API requests received; per merchant, only those with its valid token. */
  apiCalls: number;
  /** Payment API requests answered 401. */
  unauthorizedApiCalls: number;
  /** Requests answered with an injected fault. */
  faults: number;
}

/**
 * A running emulator, on the `@x/core/testing` emulator kit. A merchant may hold several client secrets
 * (`addSecret(clientId, secret)`) and subscription keys (`addSecret(clientId, key, 'subscriptionKey')`) at once; a
 * revoked secret gets the `invalid_client` a wrong one gets, a revoked key the API gateway's 401, on token requests
 * and API calls alike. Tokens already issued stay valid.
 */
export interface VippsEmulator extends Emulator<VippsFaultTarget, VippsEmulatorCounters, VippsEmulatorMerchant> {
  /** Lifetime of `/accesstoken/get` tokens issued from now on. */
  tokenLifetimeMs: number;
  /** Lifetime of `/miami/v1/token` tokens issued from now on. */
  partnerTokenLifetimeMs: number;
  /** Makes the API refuse `accessToken`, or every token issued so far. Returns how many were revoked. */
  revoke(accessToken?: string): number;
  /**
   * Does what the user does in the app with a created payment that awaits them: `approve` authorizes its whole amount,
   * `abort` and `expire` end it. Returns its new state. Throws a `ConfigurationError` if no created payment has this
   * reference, or it no longer awaits the user.
   */
  actAsUser(reference: string, action: VippsUserAction, options?: VippsUserActionOptions): VippsPaymentState;
}

interface IssuedToken {
  merchant: VippsEmulatorMerchant;
  endpoint: VippsTokenEndpoint;
  /** Gateway-clock epoch milliseconds. */
  expiresAt: number;
  revoked: boolean;
}

const problemType = 'application/problem+json; charset=utf-8';
const counterNames = [
  'tokenRequests',
  'partnerTokenRequests',
  'tokensIssued',
  'rejectedTokenRequests',
  'apiCalls',
  'unauthorizedApiCalls',
] as const;
const tokenEndpoints = Object.keys(vippsTokenPaths) as VippsTokenEndpoint[];

/**
 * Starts a Vipps MobilePay emulator on 127.0.0.1 (a free port).
 *
 * Token endpoints: `POST /accesstoken/get` needs `client_id`, `client_secret` and `Ocp-Apim-Subscription-Key`;
 * `POST /miami/v1/token` needs `client_id` and `client_secret`. Wrong client credentials get
 * `401 {"error":"invalid_client","error_description":…}`; a missing or wrong subscription key gets the API
 * gateway's `401 {"statusCode":401,"message":…}`; a missing credential header or a malformed `Merchant-Serial-Number`
 * or `Vipps-System-*` header gets `400 {"error":"invalid_request",…}`. No answer ever quotes a secret.
 *
 * API: the ePayment flow under `/epayment/` (create, get, event log, capture, cancel, refund, force approve; see
 * `vipps-epayment.ts`) needs `Authorization: Bearer <token>` with a live, unrevoked token, plus the token's
 * merchant's `Ocp-Apim-Subscription-Key` for `/accesstoken/get` tokens; otherwise `401` with a problem+json body.
 *
 * @example
 * const emulator = await createVippsEmulator();
 * const provider = createVippsProvider({ ...vippsEmulatorDefaultMerchant, baseUrl: emulator.url });
 */
export async function createVippsEmulator(options: VippsEmulatorOptions = {}): Promise<VippsEmulator> {
  const tokens = new Map<string, IssuedToken>();
  const lifetimes = { accesstoken: options.tokenLifetimeMs ?? 3_600_000, partner: options.partnerTokenLifetimeMs ?? 900_000 };

  const kit = createEmulatorKit<VippsFaultTarget, VippsEmulatorCounters, VippsEmulatorMerchant>(
    {
      name: 'VippsEmulator',
      provider: 'vipps',
      defaultTarget: 'token',
      counterNames,
      merchants: options.merchants ?? [vippsEmulatorDefaultMerchant],
      merchantId: (merchant) => merchant.clientId,
      secretFields: ['clientSecret', 'subscriptionKey'],
      faultBodies: {
        error: () => ({ error: 'server_error', error_description: 'The service is temporarily unavailable.' }),
        sample: JSON.stringify(tokenResponseOf('accesstoken', 'eyJ0eXAiOiJKV1QifQ.e30.c2lnbmF0dXJl', 1_700_000_000, 3600)),
      },
      route,
    },
    options,
  );

  const epayment = createVippsEpayment({ now: () => kit.now(), unknownReferences: options.unknownPaymentReferences ?? 'authorized' });

  function route(request: EmulatorRequest): EmulatorRoute<VippsFaultTarget> {
    const endpoint = tokenEndpoints.find((candidate) => vippsTokenPaths[candidate] === request.path);
    if (endpoint !== undefined) {
      const clientId = request.headers[VippsHeader.ClientId];
      const known = kit.presentSecret(clientId, 'clientSecret', request.headers[VippsHeader.ClientSecret]) === 'accepted';
      if (endpoint === 'accesstoken') {
        kit.presentSecret(clientId, 'subscriptionKey', request.headers[VippsHeader.SubscriptionKey.toLowerCase()]);
      }
      const merchantId = known ? clientId : undefined;
      kit.count(endpoint === 'partner' ? 'partnerTokenRequests' : 'tokenRequests', merchantId);
      if (request.method !== 'POST')
        return { targets: [], target: endpoint, answer: () => ({ status: 405, body: { error: 'method_not_allowed' } }) };
      return { targets: [endpoint, 'token'], merchantId, answer: () => answerToken(endpoint, request.headers) };
    }
    if (isVippsEpaymentPath(request.path)) {
      kit.count('apiCalls');
      kit.presentToken(/^Bearer (\S+)$/i.exec(request.headers.authorization ?? '')?.[1]);
      return { targets: ['payments'], answer: () => answerPayment(request) };
    }
    return { targets: [], answer: () => problem(404, 'Not found.') };
  }

  const issueToken = (
    merchant: VippsEmulatorMerchant,
    endpoint: VippsTokenEndpoint,
    headers: Readonly<Record<string, string>>,
  ): VippsAccessTokenResponse | VippsPartnerTokenResponse => {
    const lifetimeSeconds = Math.floor(lifetimes[endpoint] / 1000);
    const issuedSeconds = Math.floor(kit.now() / 1000);
    const accessToken = fakeJwt({ sub: merchant.clientId, iat: issuedSeconds, exp: issuedSeconds + lifetimeSeconds });
    const expiresAt = (issuedSeconds + lifetimeSeconds) * 1000;
    tokens.set(accessToken, { merchant, endpoint, expiresAt, revoked: false });
    // The partner endpoint takes no subscription key: its tokens are the client secret's alone.
    kit.handOutToken(
      accessToken,
      merchant.clientId,
      {
        clientSecret: headers[VippsHeader.ClientSecret],
        subscriptionKey: endpoint === 'accesstoken' ? headers[VippsHeader.SubscriptionKey.toLowerCase()] : undefined,
      },
      expiresAt,
    );
    kit.count('tokensIssued', merchant.clientId);
    return tokenResponseOf(endpoint, accessToken, issuedSeconds, lifetimeSeconds);
  };

  const answerToken = (endpoint: VippsTokenEndpoint, headers: Readonly<Record<string, string>>): EmulatorAnswer => {
    const checked = checkTokenRequest(endpoint, headers);
    if ('merchant' in checked) return { status: 200, body: issueToken(checked.merchant, endpoint, headers) };
    kit.count('rejectedTokenRequests');
    return checked;
  };

  /** The token endpoints' rules: the merchant a good request is for, or the gateway's refusal. */
  const checkTokenRequest = (
    endpoint: VippsTokenEndpoint,
    headers: Readonly<Record<string, string>>,
  ): { status: number; body: VippsTokenErrorResponse } | { merchant: VippsEmulatorMerchant } => {
    const subscriptionKeyAccepted = (merchant: VippsEmulatorMerchant): boolean =>
      kit.secretStatus(merchant.clientId, 'subscriptionKey', subscriptionKey) === 'accepted';
    const subscriptionKey = headers[VippsHeader.SubscriptionKey.toLowerCase()];
    if (endpoint === 'accesstoken') {
      // The API gateway checks the subscription key before the identity service sees the client credentials.
      if (subscriptionKey === undefined || subscriptionKey === '') {
        return apimError(
          'Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.',
        );
      }
      if (!kit.merchants.some(subscriptionKeyAccepted)) {
        return apimError('Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.');
      }
    }
    const clientId = headers[VippsHeader.ClientId];
    const clientSecret = headers[VippsHeader.ClientSecret];
    if (clientId === undefined || clientId === '' || clientSecret === undefined || clientSecret === '') {
      return invalidRequest('The client_id and client_secret headers are required.');
    }
    const msn = headers[VippsHeader.MerchantSerialNumber.toLowerCase()];
    if (msn !== undefined && !merchantSerialNumberPattern.test(msn)) {
      return invalidRequest('The Merchant-Serial-Number header must be 4 to 6 digits.');
    }
    const systemHeaderRefusal = refuseSystemHeaders(headers);
    if (systemHeaderRefusal !== undefined) return systemHeaderRefusal;
    const merchant = kit.merchant(clientId);
    if (merchant === undefined) {
      return { status: 401, body: { error: 'unauthorized_client', error_description: 'The client_id is not registered.' } };
    }
    // A revoked secret is a wrong one to the identity service.
    if (kit.secretStatus(clientId, 'clientSecret', clientSecret) !== 'accepted') {
      return { status: 401, body: { error: 'invalid_client', error_description: 'Invalid client secret provided.' } };
    }
    if (endpoint === 'accesstoken' && !subscriptionKeyAccepted(merchant)) {
      return apimError('Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.');
    }
    return { merchant };
  };

  const answerPayment = (request: EmulatorRequest): EmulatorAnswer => {
    const answer = paymentAnswer(request);
    if (answer.status === 401) kit.count('unauthorizedApiCalls');
    return answer;
  };

  const paymentAnswer = (request: EmulatorRequest): EmulatorAnswer => {
    const { headers } = request;
    const accessToken = /^Bearer (\S+)$/i.exec(headers.authorization ?? '')?.[1];
    const token = accessToken === undefined ? undefined : tokens.get(accessToken);
    if (token === undefined) return problem(401, 'Missing or unknown bearer token in the Authorization header.');
    if (token.revoked) return problem(401, 'The access token has been revoked.');
    if (kit.now() >= token.expiresAt) return problem(401, 'The access token has expired.');
    const subscriptionKey = headers[VippsHeader.SubscriptionKey.toLowerCase()];
    if (token.endpoint === 'accesstoken' && kit.secretStatus(token.merchant.clientId, 'subscriptionKey', subscriptionKey) !== 'accepted') {
      return apimError(`Access denied due to ${subscriptionKey === undefined ? 'missing' : 'invalid'} subscription key.`);
    }
    // Per merchant, an API call counts only once its token is known; the total counted it on arrival.
    kit.count('apiCalls', token.merchant.clientId, { total: false });
    const merchantSerialNumber = headers[VippsHeader.MerchantSerialNumber.toLowerCase()] ?? token.merchant.merchantSerialNumber;
    return epayment.answer(request, { clientId: token.merchant.clientId, merchantSerialNumber });
  };

  return kit.start<Pick<VippsEmulator, 'tokenLifetimeMs' | 'partnerTokenLifetimeMs' | 'revoke' | 'actAsUser'>>({
    actAsUser: epayment.actAsUser,
    get tokenLifetimeMs() {
      return lifetimes.accesstoken;
    },
    set tokenLifetimeMs(milliseconds) {
      lifetimes.accesstoken = milliseconds;
    },
    get partnerTokenLifetimeMs() {
      return lifetimes.partner;
    },
    set partnerTokenLifetimeMs(milliseconds) {
      lifetimes.partner = milliseconds;
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
}

/**
 * The body a token endpoint answers with, every number a string as the gateway sends it. Exported from this file (not
 * from `@x/vipps/testing`) for the fuzz test, which varies the same body the emulator sends.
 */
export function tokenResponseOf(
  endpoint: VippsTokenEndpoint,
  accessToken: string,
  issuedSeconds: number,
  lifetimeSeconds: number,
): VippsAccessTokenResponse | VippsPartnerTokenResponse {
  if (endpoint === 'partner') {
    return { access_token: accessToken, token_type: 'Bearer', expires_in: String(lifetimeSeconds) };
  }
  return {
    token_type: 'Bearer',
    expires_in: String(lifetimeSeconds),
    ext_expires_in: '0',
    expires_on: String(issuedSeconds + lifetimeSeconds),
    not_before: String(issuedSeconds),
    resource: '00000002-0000-0000-c000-000000000000',
    access_token: accessToken,
  };
}

function problem(status: number, detail: string): EmulatorAnswer {
  const title = status === 401 ? 'Unauthorized' : status === 404 ? 'Not Found' : 'Error';
  return { status, contentType: problemType, body: { type: 'about:blank', title, status, detail } };
}

/**
 * The `Vipps-System-*` header rule of the token endpoints: at most 30 characters (OpenAPI `maxLength: 30`). An empty
 * value is accepted, as the gateway evidently does: the official SDK (`@vippsmobilepay/sdk` 2.4.2) sends all four on
 * every call, empty when unset, and its own sample sets none.
 */
function refuseSystemHeaders(headers: Readonly<Record<string, string>>): { status: number; body: VippsTokenErrorResponse } | undefined {
  for (const name of [VippsHeader.SystemName, VippsHeader.SystemVersion, VippsHeader.SystemPluginName, VippsHeader.SystemPluginVersion]) {
    const value = headers[name.toLowerCase()];
    if (value !== undefined && value.length > vippsSystemHeaderMaxLength) {
      return invalidRequest(`The ${name} header must be at most ${vippsSystemHeaderMaxLength} characters.`);
    }
  }
  return undefined;
}

function apimError(message: string): { status: number; body: VippsTokenErrorResponse } {
  return { status: 401, body: { statusCode: 401, message } };
}

function invalidRequest(description: string): { status: number; body: VippsTokenErrorResponse } {
  return { status: 400, body: { error: 'invalid_request', error_description: description } };
}

/** A token shaped like a JWT (header.payload.signature); the signature is random, nothing verifies it. */
function fakeJwt(claims: Record<string, unknown>): string {
  const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  // The signature starts with the canary marker, so a leaked token is found by the canary tests.
  return `${encode({ typ: 'JWT', alg: 'RS256' })}.${encode({ iss: 'vipps-emulator', ...claims })}.${createCanary('', 43)}`;
}
