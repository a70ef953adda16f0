/**
 * A local PortOne V2: both token endpoints with refresh-token rotation, and `GET /payments/{paymentId}` with either
 * authorization scheme, on the `@x/core/testing` emulator kit. For tests and examples; never a stand-in for PortOne's
 * business logic.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
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
  type PortOneErrorResponse,
  type PortOneTokenEndpoint,
  type PortOneTokenResponse,
  portOneAccessTokenLifetimeMs,
  portOneTokenPaths,
} from '../portone-api-types.js';

/** One API secret the emulator accepts, and the store it belongs to. */
export interface PortOneEmulatorMerchant {
  /** The store: the merchant's id in `countersFor` and `addSecret`, and the `sub` of its access tokens. */
  storeId: string;
  /** The V2 API secret. */
  apiSecret: string;
}

/**
 * The credentials every emulator accepts unless `merchants` says otherwise. Not a real secret: it holds the canary
 * marker (`xcanary`, as do the refresh tokens the emulator issues), so a test that finds it in output found a leak.
 */
export const portOneEmulatorDefaultMerchant: Readonly<PortOneEmulatorMerchant> = Object.freeze({
  storeId: 'store-4f1c2a8e-7b3d-4e5f-9a6b-0c1d2e3f4a5b',
  apiSecret: 'xcanary-portone-Kp3vN8qR2sT6wY9zB4cF7hJ1mL5nQ0xW3eR6tY9uI2oP5aS8dF1gH4jK7lZ0xC3v',
});

/** Which endpoint a fault fails: `login` or `refresh`, both token endpoints (`token`), or the payment API (`api`). */
export type PortOneFaultTarget = 'login' | 'refresh' | 'token' | 'api';

/** A failure to inject with {@link PortOneEmulator.fault} or `injectFault`: the kit's vocabulary, aimed at PortOne's endpoints. */
export type PortOneFault = EmulatorFault<PortOneFaultTarget>;

/** Options of {@link createPortOneEmulator}; lifetimes default to PortOne's documented ones. */
export interface PortOneEmulatorOptions extends EmulatorOptions<PortOneFaultTarget> {
  /** The API secrets the emulator accepts. @default [portOneEmulatorDefaultMerchant] */
  merchants?: readonly PortOneEmulatorMerchant[] | undefined;
  /** Lifetime of an access token, whole seconds in its `exp`. @default 1_800_000 (30 minutes) */
  accessTokenLifetimeMs?: number | undefined;
  /** Lifetime of a refresh token that no later login or refresh has spent. @default 86_400_000 (1 day) */
  refreshTokenLifetimeMs?: number | undefined;
}

/** What the emulator received and answered. */
export interface PortOneEmulatorCounters extends Record<string, number> {
  /** Requests to either token endpoint, faulted or not. */
  tokenRequests: number;
  /** `POST /login/api-secret` requests, faulted or not. */
  loginRequests: number;
  /** `POST /token/refresh` requests, faulted or not. */
  refreshRequests: number;
  /** Access and refresh token pairs issued. */
  tokensIssued: number;
  /** Token requests refused (400 or 401). */
  rejectedTokenRequests: number;
  /** Refreshes that presented a refresh token a later login or refresh had spent (refused with 401). */
  spentRefreshTokens: number;
  /** Payment API requests received; per merchant, only those it authorised. */
  apiCalls: number;
  /** Of those, the ones authorised by `PortOne <apiSecret>` rather than a token. */
  staticApiCalls: number;
  /** Payment API requests answered 401. */
  unauthorizedApiCalls: number;
  /** Requests answered with an injected fault. */
  faults: number;
}

/**
 * A running PortOne emulator. Each API secret has one live refresh token: a login or refresh spends the previous one,
 * which is then refused with 401. A merchant may hold several API secrets at once (`addSecret(storeId, secret)`); a
 * revoked one is refused on login, on the API, and for refreshing the tokens it obtained. Access tokens live on.
 */
export interface PortOneEmulator extends Emulator<PortOneFaultTarget, PortOneEmulatorCounters, PortOneEmulatorMerchant> {
  /** Lifetime of access tokens issued from now on. */
  accessTokenLifetimeMs: number;
  /** Lifetime of refresh tokens issued from now on. */
  refreshTokenLifetimeMs: number;
  /** Makes the API refuse `accessToken`, or every live access token. Returns how many were revoked. */
  revoke(accessToken?: string): number;
}

interface Issued {
  storeId: string;
  apiSecret: string;
  /** Gateway-clock epoch milliseconds. */
  expiresAt: number;
  revoked: boolean;
}

const counterNames = [
  'tokenRequests',
  'loginRequests',
  'refreshRequests',
  'tokensIssued',
  'rejectedTokenRequests',
  'spentRefreshTokens',
  'apiCalls',
  'staticApiCalls',
  'unauthorizedApiCalls',
] as const;
const paymentPathPrefix = '/payments/';
const errorTypes: Readonly<Record<number, string>> = { 400: 'INVALID_REQUEST', 401: 'UNAUTHORIZED', 403: 'FORBIDDEN', 404: 'NOT_FOUND' };
const failure = (status: number, message: string, type = errorTypes[status] ?? 'INTERNAL_SERVER_ERROR'): EmulatorAnswer => ({
  status,
  body: { type, message } satisfies PortOneErrorResponse,
});

/**
 * Starts a PortOne V2 emulator on 127.0.0.1 (a free port).
 *
 * `POST /login/api-secret` `{"apiSecret"}` and `POST /token/refresh` `{"refreshToken"}` answer
 * `{"accessToken","refreshToken"}`: the access token an HS256 JWT with `iat` and `exp`, the refresh token opaque.
 * A missing field gets `400 {"type":"INVALID_REQUEST"}`; a wrong or revoked secret, or a spent, expired or unknown
 * refresh token, `401 {"type":"UNAUTHORIZED"}`. `GET /payments/{paymentId}` takes `Authorization: Bearer <accessToken>`
 * (signature, expiry and revocation checked) or `Authorization: PortOne <apiSecret>`. No answer quotes a secret.
 *
 * @example
 * const emulator = await createPortOneEmulator();
 * const provider = createPortOneProvider({ apiSecret: emulator.defaultMerchant.apiSecret, baseUrl: emulator.url });
 */
export async function createPortOneEmulator(options: PortOneEmulatorOptions = {}): Promise<PortOneEmulator> {
  const lifetimes = {
    access: options.accessTokenLifetimeMs ?? portOneAccessTokenLifetimeMs,
    refresh: options.refreshTokenLifetimeMs ?? 86_400_000,
  };
  const signingKey = randomBytes(32);
  const accessTokens = new Map<string, Issued>();
  const refreshTokens = new Map<string, Issued>();
  /** The one unspent refresh token of each API secret. */
  const liveRefreshToken = new Map<string, string>();

  const kit = createEmulatorKit<PortOneFaultTarget, PortOneEmulatorCounters, PortOneEmulatorMerchant>(
    {
      name: 'PortOneEmulator',
      provider: 'portone',
      defaultTarget: 'token',
      counterNames,
      merchants: options.merchants ?? [portOneEmulatorDefaultMerchant],
      merchantId: (merchant) => merchant.storeId,
      secretFields: ['apiSecret'],
      faultBodies: {
        error: (status) => failure(status, 'The request could not be processed.').body,
        sample: JSON.stringify({
          accessToken: sign({ sub: 'store', iat: 1_700_000_000, exp: 1_700_001_800 }),
          refreshToken: createCanary(),
        }),
      },
      route,
    },
    options,
  );

  /** The store holding `apiSecret`, revoked or not. */
  const storeOf = (apiSecret: string | undefined): string | undefined =>
    kit.merchants.find((merchant) => kit.secretStatus(merchant.storeId, 'apiSecret', apiSecret) !== 'unknown')?.storeId;

  function route(request: EmulatorRequest): EmulatorRoute<PortOneFaultTarget> {
    const endpoint = (Object.keys(portOneTokenPaths) as PortOneTokenEndpoint[]).find((name) => portOneTokenPaths[name] === request.path);
    if (endpoint !== undefined && request.method === 'POST') {
      const body = jsonOf(request.body);
      const field = endpoint === 'login' ? 'apiSecret' : 'refreshToken';
      const value = typeof body?.[field] === 'string' && body[field] !== '' ? (body[field] as string) : undefined;
      const storeId = endpoint === 'login' ? storeOf(value) : refreshTokens.get(value ?? '')?.storeId;
      if (endpoint === 'login') kit.presentSecret(storeId, 'apiSecret', value);
      kit.count('tokenRequests', storeId);
      kit.count(endpoint === 'login' ? 'loginRequests' : 'refreshRequests', storeId);
      return { targets: [endpoint, 'token'], merchantId: storeId, answer: () => answerToken(endpoint, field, value) };
    }
    if (request.path.startsWith(paymentPathPrefix) && request.method === 'GET') {
      kit.count('apiCalls');
      const [, scheme = '', credential] = /^(\S+) (\S+)$/.exec(request.headers.authorization ?? '') ?? [];
      const bearer = scheme.toLowerCase() === 'bearer' ? credential : undefined;
      kit.presentToken(bearer);
      return {
        targets: ['api'],
        answer: () => answerPayment(request.path, scheme.toLowerCase() === 'portone' ? credential : undefined, bearer),
      };
    }
    return { targets: [], answer: () => failure(404, 'No such endpoint.') };
  }

  function answerToken(endpoint: PortOneTokenEndpoint, field: string, value: string | undefined): EmulatorAnswer {
    const refused = (status: number, message: string): EmulatorAnswer => {
      kit.count('rejectedTokenRequests');
      return failure(status, message);
    };
    if (value === undefined) return refused(400, `${field} is required.`);
    if (endpoint === 'login') {
      const storeId = storeOf(value);
      if (storeId === undefined || kit.secretStatus(storeId, 'apiSecret', value) !== 'accepted')
        return refused(401, 'The API secret is not valid.');
      return { status: 200, body: issue(storeId, value) };
    }
    const held = refreshTokens.get(value);
    if (held === undefined) return refused(401, 'The refresh token is not valid.');
    if (liveRefreshToken.get(held.apiSecret) !== value) {
      kit.count('spentRefreshTokens', held.storeId);
      return refused(401, 'The refresh token has been replaced by a later login or refresh.');
    }
    if (kit.now() >= held.expiresAt) return refused(401, 'The refresh token has expired.');
    if (kit.secretStatus(held.storeId, 'apiSecret', held.apiSecret) !== 'accepted') return refused(401, 'The API secret is not valid.');
    return { status: 200, body: issue(held.storeId, held.apiSecret) };
  }

  function issue(storeId: string, apiSecret: string): PortOneTokenResponse {
    const now = kit.now();
    const iat = Math.floor(now / 1000);
    const exp = iat + Math.floor(lifetimes.access / 1000);
    const accessToken = sign({ iss: 'portone-emulator', sub: storeId, iat, exp, jti: randomBytes(8).toString('hex') });
    const refreshToken = createCanary('', 48);
    for (const tokens of [accessTokens, refreshTokens]) sweep(tokens, now);
    accessTokens.set(accessToken, { storeId, apiSecret, expiresAt: exp * 1000, revoked: false });
    refreshTokens.set(refreshToken, { storeId, apiSecret, expiresAt: now + lifetimes.refresh, revoked: false });
    // Every login or refresh spends the refresh token issued before it.
    liveRefreshToken.set(apiSecret, refreshToken);
    kit.handOutToken(accessToken, storeId, { apiSecret }, exp * 1000);
    kit.count('tokensIssued', storeId);
    return { accessToken, refreshToken };
  }

  function answerPayment(path: string, apiSecret: string | undefined, bearer: string | undefined): EmulatorAnswer {
    const token = bearer === undefined ? undefined : verified(bearer);
    const storeId = apiSecret === undefined ? token?.storeId : storeOf(apiSecret);
    if (storeId === undefined || (apiSecret !== undefined && kit.secretStatus(storeId, 'apiSecret', apiSecret) !== 'accepted')) {
      kit.count('unauthorizedApiCalls');
      return failure(401, 'The access token or API secret is missing, expired, revoked or not valid.');
    }
    // Per merchant, an API call counts only once it is authorised; the total counted it on arrival.
    kit.count('apiCalls', storeId, { total: false });
    if (apiSecret !== undefined) kit.count('staticApiCalls', storeId);
    const paymentId = decodedId(path.slice(paymentPathPrefix.length));
    if (paymentId === undefined) return failure(404, 'The payment does not exist.', 'PAYMENT_NOT_FOUND');
    return { status: 200, body: paymentOf(paymentId, storeId, new Date(kit.now()).toISOString()) };
  }

  /** The record of a live access token whose signature is ours. */
  function verified(token: string): Issued | undefined {
    const [header, payload, signature = ''] = token.split('.');
    const expected = createHmac('sha256', signingKey).update(`${header}.${payload}`).digest();
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    const issued = accessTokens.get(token);
    return issued === undefined || issued.revoked || kit.now() >= issued.expiresAt ? undefined : issued;
  }

  function sign(claims: object): string {
    const input = `${base64url({ alg: 'HS256', typ: 'JWT' })}.${base64url(claims)}`;
    return `${input}.${createHmac('sha256', signingKey).update(input).digest('base64url')}`;
  }

  return kit.start<Pick<PortOneEmulator, 'accessTokenLifetimeMs' | 'refreshTokenLifetimeMs' | 'revoke'>>({
    get accessTokenLifetimeMs() {
      return lifetimes.access;
    },
    set accessTokenLifetimeMs(milliseconds) {
      lifetimes.access = milliseconds;
    },
    get refreshTokenLifetimeMs() {
      return lifetimes.refresh;
    },
    set refreshTokenLifetimeMs(milliseconds) {
      lifetimes.refresh = milliseconds;
    },
    revoke(accessToken?: string): number {
      let revoked = 0;
      for (const [token, issued] of accessTokens) {
        if (!issued.revoked && kit.now() < issued.expiresAt && (accessToken === undefined || token === accessToken)) {
          issued.revoked = true;
          revoked += 1;
        }
      }
      return revoked;
    },
  });
}

const base64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Expired tokens are forgotten once there are many: a soak's heap stays flat. */
function sweep(tokens: Map<string, Issued>, now: number): void {
  if (tokens.size < 1024) return;
  for (const [token, issued] of tokens) if (issued.expiresAt <= now) tokens.delete(token);
}

function jsonOf(body: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The `{paymentId}` of the path, decoded; `undefined` (no such payment) when it is empty or does not decode. */
function decodedId(segment: string): string | undefined {
  try {
    const id = decodeURIComponent(segment);
    return id === '' || id.includes('/') ? undefined : id;
  } catch {
    return undefined;
  }
}

/** A paid payment, with the fields PortOne's `PaidPayment` requires. */
function paymentOf(id: string, storeId: string, at: string): Record<string, unknown> {
  const channel = { type: 'TEST', id: 'channel-1', key: 'channel-key-1', name: 'test', pgProvider: 'TOSSPAYMENTS', pgMerchantId: 'tosspg' };
  const amount = { total: 1000, taxFree: 0, vat: 91, supply: 909, discount: 0, paid: 1000, cancelled: 0, cancelledTaxFree: 0 };
  const times = { requestedAt: at, updatedAt: at, statusChangedAt: at, paidAt: at };
  return {
    status: 'PAID',
    id,
    transactionId: `tx-${id}`,
    merchantId: 'merchant-1',
    storeId,
    channel,
    version: 'V2',
    ...times,
    orderName: 'order',
    amount,
    currency: 'KRW',
    customer: {},
    disputes: [],
  };
}
