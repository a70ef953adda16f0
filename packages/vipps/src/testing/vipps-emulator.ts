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
} from '../vipps-api-types.js';
import {
  apiGatewayError,
  apiGatewayMessages,
  identityPlatformError,
  type PresentedTokenCredentials,
  presentedCredentials,
  rateLimitBody,
  rateLimitRetryAfterSeconds,
  tokenEndpointOf,
} from './vipps-emulator-token.js';
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
  /** The `client_id` the token endpoints accept (a header, or in the partner endpoint's Basic credential); also the merchant's id in `countersFor`. */
  clientId: string;
  /** The `client_secret` the token endpoints accept, compared as it is. */
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
  /**
   * How `/miami/v1/token` sends `expires_in`: `'number'` (`900`, as the guide shows) or `'string'` (`"900"`, as the
   * OpenAPI description types it). @default 'number'
   */
  partnerExpiresIn?: 'number' | 'string' | undefined;
}

/** What the emulator received and answered. */
export interface VippsEmulatorCounters extends Record<string, number> {
  /** `/accesstoken/get` requests received, faulted or not. */
  tokenRequests: number;
  /** `/miami/v1/token` requests received, faulted or not. */
  partnerTokenRequests: number;
  /** Of those, the ones in the documented OAuth 2.0 form (`Authorization: Basic`), whatever their answer. */
  partnerClientCredentialsRequests: number;
  /** Of those, the ones with the legacy `client_id` and `client_secret` headers instead, whatever their answer. */
  partnerLegacyHeaderRequests: number;
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
  'partnerClientCredentialsRequests',
  'partnerLegacyHeaderRequests',
  'tokensIssued',
  'rejectedTokenRequests',
  'apiCalls',
  'unauthorizedApiCalls',
] as const;

/**
 * Starts a Vipps MobilePay emulator on 127.0.0.1 (a free port).
 *
 * Token endpoints (paths compared without regard to case): `POST /accesstoken/get` needs the `client_id`,
 * `client_secret` and `Ocp-Apim-Subscription-Key` headers; `POST /miami/v1/token` takes the documented OAuth 2.0
 * client credentials request (`Authorization: Basic base64(client_id:client_secret)`, `grant_type=client_credentials`)
 * or the legacy `client_id` and `client_secret` headers. Refusals come in the shape of the layer that refuses: the API
 * gateway's `401 {"statusCode":401,"message":…}` for a missing, invalid or mismatched subscription key, the identity
 * platform's full body (`error`, `error_description` with its `AADSTS` code, `error_codes`, `timestamp`, `trace_id`,
 * `correlation_id`, `error_uri`) for client credentials: 400 `unauthorized_client` for an unknown `client_id`, 401
 * `invalid_client` for a wrong secret. Empty `Vipps-System-*` headers are accepted (the official SDK sends them); a
 * malformed `Merchant-Serial-Number` or a `Vipps-System-*` header over 30 characters gets
 * `400 {"error":"invalid_request",…}`. A `status` fault of 429 is the API gateway's rate limit, with `Retry-After`.
 * No answer ever quotes a secret.
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
        error: (status) =>
          status === 429 ? rateLimitBody() : { error: 'server_error', error_description: 'The service is temporarily unavailable.' },
        errorHeaders: (status) => (status === 429 ? { 'retry-after': String(rateLimitRetryAfterSeconds) } : undefined),
        sample: JSON.stringify(tokenResponseOf('accesstoken', 'eyJ0eXAiOiJKV1QifQ.e30.c2lnbmF0dXJl', 1_700_000_000, 3600)),
      },
      route,
    },
    options,
  );

  const epayment = createVippsEpayment({ now: () => kit.now(), unknownReferences: options.unknownPaymentReferences ?? 'authorized' });

  function route(request: EmulatorRequest): EmulatorRoute<VippsFaultTarget> {
    const endpoint = tokenEndpointOf(request.path);
    if (endpoint !== undefined) {
      const presented = presentedCredentials(endpoint, request);
      const { clientId } = presented;
      const known = kit.presentSecret(clientId, 'clientSecret', presented.clientSecret) === 'accepted';
      if (endpoint === 'accesstoken') {
        kit.presentSecret(clientId, 'subscriptionKey', request.headers[VippsHeader.SubscriptionKey.toLowerCase()]);
      }
      const merchantId = known ? clientId : undefined;
      kit.count(endpoint === 'partner' ? 'partnerTokenRequests' : 'tokenRequests', merchantId);
      if (endpoint === 'partner' && presented.form !== 'none') {
        kit.count(presented.form === 'client-credentials' ? 'partnerClientCredentialsRequests' : 'partnerLegacyHeaderRequests', merchantId);
      }
      if (request.method !== 'POST')
        return { targets: [], target: endpoint, answer: () => ({ status: 405, body: { error: 'method_not_allowed' } }) };
      return { targets: [endpoint, 'token'], merchantId, answer: () => answerToken(endpoint, request.headers, presented) };
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
    clientSecret: string | undefined,
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
        clientSecret,
        subscriptionKey: endpoint === 'accesstoken' ? headers[VippsHeader.SubscriptionKey.toLowerCase()] : undefined,
      },
      expiresAt,
    );
    kit.count('tokensIssued', merchant.clientId);
    return tokenResponseOf(endpoint, accessToken, issuedSeconds, lifetimeSeconds, options.partnerExpiresIn);
  };

  const answerToken = (
    endpoint: VippsTokenEndpoint,
    headers: Readonly<Record<string, string>>,
    presented: PresentedTokenCredentials,
  ): EmulatorAnswer => {
    const checked = checkTokenRequest(endpoint, headers, presented);
    if ('merchant' in checked) return { status: 200, body: issueToken(checked.merchant, endpoint, headers, presented.clientSecret) };
    kit.count('rejectedTokenRequests');
    return checked;
  };

  /**
   * The token endpoints' rules, in the order the layers see a request: the API gateway checks the subscription key
   * (`/accesstoken/get` only), then the identity platform the client credentials. Returns the merchant a good request
   * is for, or the refusal in the shape of the layer that refused.
   */
  const checkTokenRequest = (
    endpoint: VippsTokenEndpoint,
    headers: Readonly<Record<string, string>>,
    presented: PresentedTokenCredentials,
  ): { status: number; body: VippsTokenErrorResponse | OAuthErrorBody } | { merchant: VippsEmulatorMerchant } => {
    const subscriptionKeyAccepted = (merchant: VippsEmulatorMerchant): boolean =>
      kit.secretStatus(merchant.clientId, 'subscriptionKey', subscriptionKey) === 'accepted';
    const subscriptionKey = headers[VippsHeader.SubscriptionKey.toLowerCase()];
    if (endpoint === 'accesstoken') {
      if (subscriptionKey === undefined || subscriptionKey === '') return apiGatewayError(apiGatewayMessages.missingKey);
      if (!kit.merchants.some(subscriptionKeyAccepted)) return apiGatewayError(apiGatewayMessages.invalidKey);
    }
    const { clientId, clientSecret } = presented;
    const now = kit.now();
    if (clientId === undefined || clientId === '') return identityPlatformError('missing-client-id', '', now);
    if (presented.grantType !== undefined && presented.grantType !== 'client_credentials') {
      return identityPlatformError('unsupported-grant', presented.grantType, now);
    }
    const msn = headers[VippsHeader.MerchantSerialNumber.toLowerCase()];
    if (msn !== undefined && !merchantSerialNumberPattern.test(msn)) {
      return invalidRequest('The Merchant-Serial-Number header must be 4 to 6 digits.');
    }
    for (const name of [VippsHeader.SystemName, VippsHeader.SystemVersion, VippsHeader.SystemPluginName, VippsHeader.SystemPluginVersion]) {
      // Empty is accepted: the official SDK sends every one of them, empty when unset, and its own sample sets none.
      const value = headers[name.toLowerCase()];
      if (value !== undefined && value.length > vippsSystemHeaderMaxLength) {
        return invalidRequest(`The ${name} header must be at most ${vippsSystemHeaderMaxLength} characters.`);
      }
    }
    const merchant = kit.merchant(clientId);
    if (merchant === undefined) return identityPlatformError('unknown-client', clientId, now);
    if (clientSecret === undefined || clientSecret === '') return identityPlatformError('missing-secret', clientId, now);
    // A revoked secret is a wrong one to the identity platform.
    if (kit.secretStatus(clientId, 'clientSecret', clientSecret) !== 'accepted')
      return identityPlatformError('wrong-secret', clientId, now);
    if (endpoint === 'accesstoken' && !subscriptionKeyAccepted(merchant)) return apiGatewayError(apiGatewayMessages.subscriptionNotFound);
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
      return apiGatewayError(subscriptionKey === undefined ? apiGatewayMessages.missingKey : apiGatewayMessages.invalidKey);
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
 * The body a token endpoint answers with: every number a string on `/accesstoken/get`, as the gateway sends it;
 * `expires_in` a number or a string on the partner endpoint (`partnerExpiresIn`). Exported from this file (not
 * from `@x/vipps/testing`) for the fuzz test, which varies the same body the emulator sends.
 */
export function tokenResponseOf(
  endpoint: VippsTokenEndpoint,
  accessToken: string,
  issuedSeconds: number,
  lifetimeSeconds: number,
  partnerExpiresIn: 'number' | 'string' = 'number',
): VippsAccessTokenResponse | VippsPartnerTokenResponse {
  if (endpoint === 'partner') {
    const expiresIn = partnerExpiresIn === 'string' ? String(lifetimeSeconds) : lifetimeSeconds;
    return { access_token: accessToken, token_type: 'Bearer', expires_in: expiresIn };
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

/** The emulator's own answer to a header the documentation constrains; what the gateway answers is unconfirmed. */
interface OAuthErrorBody {
  error: string;
  error_description: string;
}

function invalidRequest(description: string): { status: number; body: OAuthErrorBody } {
  return { status: 400, body: { error: 'invalid_request', error_description: description } };
}

/** A token shaped like a JWT (header.payload.signature); the signature is random, nothing verifies it. */
function fakeJwt(claims: Record<string, unknown>): string {
  const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  // The signature starts with the canary marker, so a leaked token is found by the canary tests.
  return `${encode({ typ: 'JWT', alg: 'RS256' })}.${encode({ iss: 'vipps-emulator', ...claims })}.${createCanary('', 43)}`;
}
