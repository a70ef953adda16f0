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
import * as v from 'valibot';
import {
  type IamportEnvelope,
  type IamportPayment,
  type IamportTokenResponse,
  iamportMissingCredentialsMessage,
  iamportPaymentPathPrefix,
  iamportRejectedCredentialsMessage,
  iamportTokenPath,
  iamportTokenRequestSchema,
} from '../iamport-api-types.js';
import { decideIamportToken, type IamportTokenRules, iamportTokenRules } from './iamport-token-rules.js';

/** One merchant's REST API credentials. */
export interface IamportEmulatorMerchant {
  /** The REST API key, `imp_key`; also the merchant's id in the emulator's `countersFor`. */
  impKey: string;
  /** The REST API secret, `imp_secret`. */
  impSecret: string;
}

/**
 * The credentials every emulator accepts unless `merchants` says otherwise. Not a real i'mport secret: it holds the
 * canary marker (`xcanary`, as do the tokens issued with `tokenFormat: 'canary'`), so a test that finds it in output
 * found a leak.
 */
export const iamportEmulatorDefaultMerchant: Readonly<IamportEmulatorMerchant> = Object.freeze({
  impKey: 'imp_apikey',
  impSecret: 'emulator-secret-xcanary-ekKoeW8RyKuT0zgaZsUtXXTLQ4AhPFW3ZGseDA6bkA5lamv9',
});

/**
 * The form of the tokens an emulator issues: `hex`, 40 lowercase hex digits as i'mport's; `canary`, as long but
 * starting with the canary marker `xcanary`, so that a test that finds one in output has found a leak.
 */
export type IamportTokenFormat = 'hex' | 'canary';

/** Which endpoint a fault fails: the token endpoint or the payment API (every other path). */
export type IamportFaultTarget = 'token' | 'api';

/** A failure to inject with {@link IamportEmulator.fault} or `injectFault`: the kit's vocabulary, aimed at i'mport's endpoints. */
export type IamportFault = EmulatorFault<IamportFaultTarget>;

/** Options of {@link createIamportEmulator}. Every duration defaults to i'mport's own. */
export interface IamportEmulatorOptions extends EmulatorOptions<IamportFaultTarget> {
  /** Credentials the token endpoint accepts. @default [iamportEmulatorDefaultMerchant] */
  merchants?: readonly IamportEmulatorMerchant[] | undefined;
  /** Lifetime of a newly issued token. @default 1_800_000 (30 minutes, as i'mport) */
  tokenLifetimeMs?: number | undefined;
  /** A token request this close to expiry extends the token instead of returning it unchanged. @default 60_000 */
  extensionWindowMs?: number | undefined;
  /** How much later such a request moves the expiry. @default 300_000 (5 minutes) */
  extensionMs?: number | undefined;
  /** Payments `GET /payments/{imp_uid}` returns; other `imp_…` ids get a generated payment. @default {} */
  payments?: Readonly<Record<string, Partial<IamportPayment>>> | undefined;
  /**
   * The form of the tokens issued: i'mport's 40 lowercase hex digits, or as many characters starting with the canary
   * marker, for tests that look for leaked tokens in output.
   * @default 'hex'
   */
  tokenFormat?: IamportTokenFormat | undefined;
}

/** What the emulator received and answered. */
export interface IamportEmulatorCounters extends Record<string, number> {
  /** `POST /users/getToken` requests received, faulted or not. */
  tokenRequests: number;
  /** New tokens issued (no token yet, or the previous one expired or was revoked). */
  tokensIssued: number;
  /** Requests within the extension window: same token, expiry moved later. */
  tokensExtended: number;
  /** Requests before the extension window: same token, same expiry. */
  tokensReused: number;
  /** Token requests refused: missing `imp_key` or `imp_secret` (HTTP 400) or wrong credentials (HTTP 401). */
  rejectedTokenRequests: number;
  /** API requests received (`GET /payments/…` and any other path); per merchant, only those with its valid token. */
  apiCalls: number;
  /** API requests answered 401 (no, unknown, expired or revoked token). */
  unauthorizedApiCalls: number;
  /** Requests answered with an injected fault. */
  faults: number;
}

/** The current token of a merchant, as the emulated server sees it. */
export interface IamportEmulatorToken {
  /** The token the emulator accepts on API calls. */
  accessToken: string;
  /** Epoch milliseconds on the emulated i'mport clock. */
  expiresAt: number;
}

/**
 * A running i'mport emulator: token endpoint and payment API on 127.0.0.1, on the `@x/core/testing` emulator kit.
 * A merchant may hold several `impSecret`s at once (`addSecret(impKey, secret)`); a revoked one gets the 401 a wrong
 * one gets, and the merchant's token, issued per `impKey`, lives on.
 */
export interface IamportEmulator extends Emulator<IamportFaultTarget, IamportEmulatorCounters, IamportEmulatorMerchant> {
  /** Revokes one token, or every current token: API calls with it get 401 and the next token request issues a new one. Returns how many were revoked. */
  revoke(accessToken?: string): number;
  /** A merchant's current token, if one is live. @default merchant: the default merchant */
  currentToken(impKey?: string): IamportEmulatorToken | undefined;
}

const counterNames = [
  'tokenRequests',
  'tokensIssued',
  'tokensExtended',
  'tokensReused',
  'rejectedTokenRequests',
  'apiCalls',
  'unauthorizedApiCalls',
] as const;

/** What a token request carries: no usable `imp_key` and `imp_secret`, credentials the emulator refuses, or a merchant's. */
type TokenRequestCredentials =
  | { outcome: 'missing' }
  | { outcome: 'rejected' }
  | { outcome: 'accepted'; merchant: IamportEmulatorMerchant };

/** i'mport's answer to a payment (or path) it does not know. */
const notFound: IamportEnvelope<null> = { code: 1, message: '존재하지 않는 결제정보입니다.', response: null };

/**
 * A payment path the emulator serves: `imp_` and letters, digits or `_`, so there is nothing to decode (a `%` escape,
 * malformed or not, names no payment).
 */
const paymentPathPattern = /^\/payments\/imp_[A-Za-z0-9_]+$/;

const envelope = <TResponse>(code: number, message: string | null, response: TResponse): IamportEnvelope<TResponse> => ({
  code,
  message,
  response,
});
const seconds = (milliseconds: number): number => Math.floor(milliseconds / 1000);

/**
 * Starts an emulator of i'mport's token endpoint and payment API with the documented token rules
 * ({@link decideIamportToken}): a token lives 30 minutes; asking again before its last minute returns it unchanged;
 * asking within the last minute moves its expiry 5 minutes later; asking after expiry issues a new one. Tokens are
 * 40 lowercase hex digits, as i'mport's (canary-marked with `tokenFormat: 'canary'`); API calls may carry one as
 * `Authorization: Bearer <token>`, a bare `Authorization: <token>` or the legacy `X-ImpTokenHeader: <token>`, as
 * i'mport accepts. A token request without `imp_key` or `imp_secret` gets 400 with `code` -1; wrong credentials get
 * 401. Every duration, the clock and failures can be set.
 *
 * @example
 * const emulator = await createIamportEmulator();
 * const provider = createIamportProvider({ ...emulator.defaultMerchant, baseUrl: emulator.url });
 * // …
 * await emulator.close();
 */
export async function createIamportEmulator(options: IamportEmulatorOptions = {}): Promise<IamportEmulator> {
  const rules: IamportTokenRules = {
    tokenLifetimeMs: options.tokenLifetimeMs ?? iamportTokenRules.tokenLifetimeMs,
    extensionWindowMs: options.extensionWindowMs ?? iamportTokenRules.extensionWindowMs,
    extensionMs: options.extensionMs ?? iamportTokenRules.extensionMs,
  };
  const payments = options.payments ?? {};
  const newToken = (options.tokenFormat ?? 'hex') === 'canary' ? canaryToken : hexToken;
  const tokens = new Map<string, IamportEmulatorToken>();

  const kit = createEmulatorKit<IamportFaultTarget, IamportEmulatorCounters, IamportEmulatorMerchant>(
    {
      name: 'IamportEmulator',
      provider: 'iamport',
      defaultTarget: 'token',
      counterNames,
      merchants: options.merchants ?? [iamportEmulatorDefaultMerchant],
      merchantId: (credentials) => credentials.impKey,
      secretFields: ['impSecret'],
      faultBodies: {
        error: () => envelope(-1, '일시적인 서버 오류입니다. 잠시 후 다시 시도해주세요.', null),
        sample: JSON.stringify(envelope(0, null, { access_token: '0'.repeat(40), now: 1_700_000_000, expired_at: 1_700_001_800 })),
      },
      route: (request) => (request.method === 'POST' && request.path === iamportTokenPath ? tokenRoute(request) : apiRoute(request)),
    },
    options,
  );

  const liveToken = (impKey: string): IamportEmulatorToken | undefined => {
    const token = tokens.get(impKey);
    return token === undefined || kit.now() >= token.expiresAt ? undefined : token;
  };

  const tokenRoute = (request: EmulatorRequest): EmulatorRoute<IamportFaultTarget> => {
    const credentials = identify(request);
    const merchantId = credentials.outcome === 'accepted' ? credentials.merchant.impKey : undefined;
    kit.count('tokenRequests', merchantId);
    return { targets: ['token'], merchantId, answer: () => answerToken(credentials) };
  };

  const answerToken = (credentials: TokenRequestCredentials): EmulatorAnswer => {
    if (credentials.outcome === 'missing') {
      kit.count('rejectedTokenRequests');
      // i'mport names missing parameters 400 throughout its OpenAPI; getToken's own entry lists only 200 and 401.
      return { status: 400, body: envelope(-1, iamportMissingCredentialsMessage, null) };
    }
    if (credentials.outcome === 'rejected') {
      kit.count('rejectedTokenRequests');
      return { status: 401, body: envelope(-1, iamportRejectedCredentialsMessage, null) };
    }
    const { impKey, impSecret } = credentials.merchant;
    const now = kit.now();
    const current = tokens.get(impKey);
    const decision = decideIamportToken(current?.expiresAt, now, rules);
    const token = { accessToken: decision.action === 'issue' ? newToken() : current!.accessToken, expiresAt: decision.expiresAt };
    tokens.set(impKey, token);
    // Issued, extended or handed back unchanged, the token is now the one this secret asked for.
    kit.handOutToken(token.accessToken, impKey, { impSecret }, token.expiresAt);
    kit.count(decision.action === 'issue' ? 'tokensIssued' : decision.action === 'extend' ? 'tokensExtended' : 'tokensReused', impKey);
    const body: IamportTokenResponse = {
      code: 0,
      message: null,
      response: { access_token: token.accessToken, now: seconds(now), expired_at: seconds(token.expiresAt) },
    };
    return { status: 200, body };
  };

  const apiRoute = (request: EmulatorRequest): EmulatorRoute<IamportFaultTarget> => {
    kit.count('apiCalls');
    const token = presentedToken(request.headers);
    kit.presentToken(token);
    return { targets: ['api'], answer: () => answerApi(request, token) };
  };

  const answerApi = (request: EmulatorRequest, token: string | undefined): EmulatorAnswer => {
    const impKey = [...tokens.keys()].find((key) => token !== undefined && liveToken(key)?.accessToken === token);
    if (impKey === undefined) {
      kit.count('unauthorizedApiCalls');
      return { status: 401, body: envelope(-1, 'Unauthorized', null) };
    }
    // Per merchant, an API call counts only once its token is known; the total counted it on arrival.
    kit.count('apiCalls', impKey, { total: false });
    const payment = request.method === 'GET' ? paymentAt(request.path) : undefined;
    return payment === undefined ? { status: 404, body: notFound } : { status: 200, body: envelope(0, null, payment) };
  };

  /** The payment `GET /payments/{imp_uid}` answers with, or `undefined` when `path` names no payment. */
  const paymentAt = (path: string): IamportPayment | undefined => {
    if (!paymentPathPattern.test(path)) return undefined;
    const impUid = path.slice(iamportPaymentPathPrefix.length);
    return {
      imp_uid: impUid,
      merchant_uid: `order_${impUid.replace(/^imp_/, '')}`,
      pay_method: 'card',
      pg_provider: 'html5_inicis',
      name: '주문명:결제테스트',
      amount: 1004,
      currency: 'KRW',
      status: 'paid',
      paid_at: seconds(kit.now()),
      buyer_name: '홍길동',
      // Required by the published OpenAPI's `PaymentAnnotation`.
      cancel_amount: 0,
      sandbox: false,
      ...payments[impUid],
    };
  };

  /** What the token request carries: missing parameters, credentials refused, or a merchant's. */
  const identify = (request: EmulatorRequest): TokenRequestCredentials => {
    const input = tokenRequestFields(request);
    // Absent, `null` (iamporter's `getToken(null, null)` sends that) or empty: the parameter is missing.
    if (isMissing(input?.imp_key) || isMissing(input?.imp_secret)) return { outcome: 'missing' };
    const parsed = v.safeParse(iamportTokenRequestSchema, input);
    if (!parsed.success) return { outcome: 'rejected' };
    const { imp_key: impKey, imp_secret: impSecret } = parsed.output;
    // A revoked secret gets the answer a wrong one gets: i'mport has no other word for it.
    return kit.presentSecret(impKey, 'impSecret', impSecret) === 'accepted'
      ? { outcome: 'accepted', merchant: { impKey, impSecret } }
      : { outcome: 'rejected' };
  };

  return kit.start<Pick<IamportEmulator, 'revoke' | 'currentToken'>>({
    revoke(accessToken?: string): number {
      let revoked = 0;
      for (const [impKey, token] of tokens) {
        if (accessToken === undefined || token.accessToken === accessToken) {
          tokens.delete(impKey);
          revoked += 1;
        }
      }
      return revoked;
    },
    currentToken(impKey: string = kit.defaultMerchant.impKey): IamportEmulatorToken | undefined {
      const token = liveToken(impKey);
      return token === undefined ? undefined : { ...token };
    },
  });
}

/** A token as i'mport issues it: 40 lowercase hex digits (its guide's example; iamporter's live test asserts the form). */
function hexToken(): string {
  return randomBytes(20).toString('hex');
}

/** 40 characters like i'mport's, starting with the canary marker so a leaked token is found. */
function canaryToken(): string {
  return createCanary('', 33);
}

/**
 * The token an API call carries, in any of the three forms i'mport accepts: `Authorization: Bearer <token>`, a bare
 * `Authorization: <token>` (the official Node and Java clients, iamporter and iamport-server-api send it) and the
 * legacy `X-ImpTokenHeader: <token>`. An `Authorization` header, when there is one, decides.
 */
function presentedToken(headers: Readonly<Record<string, string>>): string | undefined {
  const authorization = headers.authorization?.trim();
  if (authorization === undefined || authorization === '') return headers['x-imptokenheader']?.trim() || undefined;
  const [first = '', second, ...rest] = authorization.split(/\s+/);
  const bearer = /^Bearer$/i.test(first);
  if (rest.length > 0) return undefined;
  if (second === undefined) return bearer ? undefined : first;
  return bearer ? second : undefined;
}

/**
 * The fields of a token request's body, JSON or form-encoded (both are in the published OpenAPI's `consumes`);
 * `undefined` for a body of another or no declared type, malformed JSON, or JSON that is not an object, whose
 * parameters are then missing.
 */
function tokenRequestFields(request: EmulatorRequest): Record<string, unknown> | undefined {
  const contentType = request.headers['content-type'] ?? '';
  const body = request.body.toString('utf8');
  if (contentType.includes('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(body));
  if (!contentType.includes('application/json')) return undefined;
  try {
    const input: unknown = JSON.parse(body);
    return input !== null && typeof input === 'object' && !Array.isArray(input) ? (input as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a token request parameter counts as missing: absent, `null` or empty. */
function isMissing(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}
