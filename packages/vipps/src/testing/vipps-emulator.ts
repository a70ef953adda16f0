/**
 * A local Vipps MobilePay: both token endpoints and one API call, with the documented header rules, string-typed
 * numbers, and a menu of faults. For tests and examples; never a stand-in for the real gateway's business logic.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { inspect } from 'node:util';
import { ConfigurationError, maxDurationMs } from '@x/core';
import { durationProblem } from '@x/core/provider';
import { createCanary, listenOnLoopback, type RawResponse, readRequestBody, validateRawResponse, writeRawResponse } from '@x/core/testing';
import {
  merchantSerialNumberPattern,
  type VippsAccessTokenResponse,
  VippsHeader,
  type VippsPartnerTokenResponse,
  type VippsTokenEndpoint,
  type VippsTokenErrorResponse,
  vippsPaymentPathPrefix,
  vippsSystemHeaderMaxLength,
  vippsTokenPaths,
} from '../vipps-api-types.js';

/** One set of credentials the emulator accepts. */
export interface VippsEmulatorMerchant {
  /** The `client_id` header the token endpoints accept. */
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
export const defaultVippsMerchant: Readonly<Required<VippsEmulatorMerchant>> = Object.freeze({
  clientId: 'fb492b5e-7907-4d83-ba20-c7fb60ca35de',
  clientSecret: 'xcanary-Y8Kteew6GE2ZmeycEt6egg==',
  subscriptionKey: 'xcanary0f14ebcab0ec4b29ae0cb90d91b4a84a',
  merchantSerialNumber: '123456',
});

/** Options of {@link createVippsEmulator}. Every lifetime defaults to Vipps MobilePay's test environment. */
export interface VippsEmulatorOptions {
  /** Credentials accepted by both token endpoints. @default [defaultVippsMerchant] */
  merchants?: readonly VippsEmulatorMerchant[] | undefined;
  /** Lifetime of `/accesstoken/get` tokens in seconds (3600 is the test environment, 86400 production). @default 3600 */
  tokenLifetimeSeconds?: number | undefined;
  /** Lifetime of `/miami/v1/token` tokens in seconds. @default 900 */
  partnerTokenLifetimeSeconds?: number | undefined;
  /** The clock the emulator's own clock derives from, epoch milliseconds. @default Date.now */
  now?: (() => number) | undefined;
  /** How far the gateway's clock is ahead of `now` (negative: behind), in milliseconds. @default 0 */
  clockOffsetMs?: number | undefined;
  /**
   * Asked about every request no queued fault answers; a fault it returns answers that request (its `endpoint` and
   * `count` are ignored). For soaks: return a random fault for a share of the requests.
   */
  injectFault?: ((endpoint: VippsTokenEndpoint | 'payments', request: IncomingMessage) => VippsFault | undefined) | undefined;
}

/** Which endpoint a fault applies to: one token endpoint, both (`token`), or the payment API (`payments`). */
export type VippsFaultTarget = VippsTokenEndpoint | 'token' | 'payments';

/** @inline Options every fault takes; inlined so the docs show them on {@link VippsFault} itself. */
interface FaultBase {
  /** How many requests the fault answers; then the emulator behaves again. @default Infinity */
  count?: number | undefined;
  /** Where the fault applies. @default 'token' (both token endpoints) */
  endpoint?: VippsFaultTarget | undefined;
}

/** A fault of the token endpoints or the payment API. */
export type VippsFault = FaultBase &
  (
    | {
        /** An HTTP error with a JSON error body. */
        kind: 'status';
        /** HTTP status. @default 500 */
        status?: number | undefined;
      }
    | {
        /** Answers normally, after a delay. */
        kind: 'slow';
        /** The delay in milliseconds, at most 2^31−1 (`maxDurationMs`; `fault()` refuses more). */
        delayMs: number;
      }
    | {
        /** `200` with JSON cut off mid-way, the body properly ended. */
        kind: 'malformed';
      }
    | {
        /** An HTML error page, as a proxy would send. */
        kind: 'html';
        /** HTTP status. @default 502 */
        status?: number | undefined;
      }
    | {
        /** `200` announcing the whole body, sending half, then closing the connection. */
        kind: 'truncated';
      }
    | {
        /** Closes the connection without an answer. */
        kind: 'drop';
      }
    | {
        /** Resets the connection (TCP RST) without an answer. */
        kind: 'reset';
      }
    | {
        /** Never answers, not even headers, until the client gives up or the emulator closes. */
        kind: 'stall';
      }
    | ({
        /** Exactly this status, content type and bytes, possibly truncated, chunked or stalled. */
        kind: 'raw';
      } & RawResponse)
    | {
        /** Any JSON body, e.g. a token with a wrong field. */
        kind: 'body';
        /** The body, sent as JSON. */
        body: unknown;
        /** HTTP status. @default 200 */
        status?: number | undefined;
      }
  );

/** One request as the emulator received it. Holds credentials: for assertions, not for logs. */
export interface VippsSeenRequest {
  /** HTTP method. */
  method: string;
  /** Path and query, as received. */
  path: string;
  /** Header names in lower case, as Node reports them. */
  headers: Readonly<Record<string, string>>;
  /** Bytes of request body received. */
  bodyLength: number;
}

/** What one endpoint received. */
export interface VippsEndpointStats {
  /** Requests received (including those answered with a fault or an error). */
  requests: number;
  /** How many requests carried each header, by lower-case name. */
  headers: Record<string, number>;
  /** Every request, in order. */
  seen: VippsSeenRequest[];
}

/** A running emulator. */
export interface VippsEmulator {
  /** `http://127.0.0.1:<port>`: use it as the provider's `baseUrl`. */
  readonly url: string;
  /** The credentials the emulator accepts. */
  readonly merchants: readonly VippsEmulatorMerchant[];
  /** Lifetime of `/accesstoken/get` tokens issued from now on, in seconds. */
  tokenLifetimeSeconds: number;
  /** Lifetime of `/miami/v1/token` tokens issued from now on, in seconds. */
  partnerTokenLifetimeSeconds: number;
  /** How far the gateway's clock is ahead of `now`, in milliseconds. */
  clockOffsetMs: number;
  /** Per endpoint: `accesstoken`, `partner` and `payments`. */
  readonly stats: Readonly<Record<VippsTokenEndpoint | 'payments', VippsEndpointStats>>;
  /** Tokens issued so far. */
  readonly issuedTokens: number;
  /** Queues a fault; faults apply in the order given, each for its `count` requests. */
  fault(fault: VippsFault): void;
  /** Removes every queued fault. */
  clearFaults(): void;
  /** Makes the API refuse `accessToken`, or every token issued so far. */
  revoke(accessToken?: string): void;
  /** Zeroes the stats. */
  resetStats(): void;
  /** Stops the server, dropping open connections, stalled requests and pending slow answers. */
  close(): Promise<void>;
}

interface IssuedToken {
  merchant: VippsEmulatorMerchant;
  endpoint: VippsTokenEndpoint;
  /** Gateway-clock epoch milliseconds. */
  expiresAt: number;
  revoked: boolean;
}

interface QueuedFault {
  fault: VippsFault;
  remaining: number;
}

const jsonType = 'application/json; charset=utf-8';
const problemType = 'application/problem+json; charset=utf-8';

/**
 * Starts a Vipps MobilePay emulator on 127.0.0.1 (a free port).
 *
 * Token endpoints: `POST /accesstoken/get` needs `client_id`, `client_secret` and `Ocp-Apim-Subscription-Key`;
 * `POST /miami/v1/token` needs `client_id` and `client_secret`. Wrong client credentials get
 * `401 {"error":"invalid_client","error_description":…}`; a missing or wrong subscription key gets the API
 * gateway's `401 {"statusCode":401,"message":…}`; a missing credential header or a malformed `Merchant-Serial-Number`
 * or `Vipps-System-*` header gets `400 {"error":"invalid_request",…}`. No answer ever quotes a secret.
 *
 * API: `GET /epayment/v1/payments/:reference` needs `Authorization: Bearer <token>` with a live, unrevoked token,
 * plus the token's merchant's `Ocp-Apim-Subscription-Key` for `/accesstoken/get` tokens; otherwise `401` with a
 * problem+json body.
 *
 * @example
 * const emulator = await createVippsEmulator();
 * const provider = createVippsProvider({ ...defaultVippsMerchant, baseUrl: emulator.url });
 */
export async function createVippsEmulator(options: VippsEmulatorOptions = {}): Promise<VippsEmulator> {
  const merchants = Object.freeze([...(options.merchants ?? [defaultVippsMerchant])]);
  const now = options.now ?? Date.now;
  const tokens = new Map<string, IssuedToken>();
  const faults: QueuedFault[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const newStats = (): VippsEndpointStats => ({ requests: 0, headers: {}, seen: [] });
  const stats: Record<VippsTokenEndpoint | 'payments', VippsEndpointStats> = {
    accesstoken: newStats(),
    partner: newStats(),
    payments: newStats(),
  };

  const gatewayNow = (): number => now() + emulator.clockOffsetMs;

  const record = (name: keyof typeof stats, request: IncomingMessage, bodyLength: number): Record<string, string> => {
    const headers: Record<string, string> = {};
    for (const [header, value] of Object.entries(request.headers)) {
      if (value !== undefined) headers[header] = Array.isArray(value) ? value.join(', ') : value;
    }
    const entry = stats[name];
    entry.requests += 1;
    for (const header of Object.keys(headers)) entry.headers[header] = (entry.headers[header] ?? 0) + 1;
    entry.seen.push({ method: request.method ?? 'GET', path: request.url ?? '/', headers, bodyLength });
    return headers;
  };

  const takeFault = (endpoint: VippsTokenEndpoint | 'payments', request: IncomingMessage): VippsFault | undefined => {
    const index = faults.findIndex(({ fault }) => {
      const target = fault.endpoint ?? 'token';
      return target === endpoint || (target === 'token' && endpoint !== 'payments');
    });
    if (index === -1) return options.injectFault?.(endpoint, request);
    const queued = faults[index]!;
    queued.remaining -= 1;
    if (queued.remaining <= 0) faults.splice(index, 1);
    return queued.fault;
  };

  const issueToken = (
    merchant: VippsEmulatorMerchant,
    endpoint: VippsTokenEndpoint,
  ): VippsAccessTokenResponse | VippsPartnerTokenResponse => {
    const lifetimeSeconds = endpoint === 'partner' ? emulator.partnerTokenLifetimeSeconds : emulator.tokenLifetimeSeconds;
    const issuedSeconds = Math.floor(gatewayNow() / 1000);
    const accessToken = fakeJwt({ sub: merchant.clientId, iat: issuedSeconds, exp: issuedSeconds + lifetimeSeconds });
    tokens.set(accessToken, { merchant, endpoint, expiresAt: (issuedSeconds + lifetimeSeconds) * 1000, revoked: false });
    return tokenResponseOf(endpoint, accessToken, issuedSeconds, lifetimeSeconds);
  };

  /** The token endpoints' rules; `undefined` when the request is good. */
  const checkTokenRequest = (
    endpoint: VippsTokenEndpoint,
    headers: Record<string, string>,
  ): { status: number; body: VippsTokenErrorResponse } | { merchant: VippsEmulatorMerchant } => {
    const subscriptionKey = headers[VippsHeader.SubscriptionKey.toLowerCase()];
    if (endpoint === 'accesstoken') {
      // The API gateway checks the subscription key before the identity service sees the client credentials.
      if (subscriptionKey === undefined || subscriptionKey === '') {
        return apimError(
          'Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.',
        );
      }
      if (!merchants.some((merchant) => merchant.subscriptionKey === subscriptionKey)) {
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
    for (const name of [VippsHeader.SystemName, VippsHeader.SystemVersion, VippsHeader.SystemPluginName, VippsHeader.SystemPluginVersion]) {
      const value = headers[name.toLowerCase()];
      if (value !== undefined && (value === '' || value.length > vippsSystemHeaderMaxLength)) {
        return invalidRequest(`The ${name} header must be 1 to ${vippsSystemHeaderMaxLength} characters.`);
      }
    }
    const merchant = merchants.find((candidate) => candidate.clientId === clientId);
    if (merchant === undefined) {
      return { status: 401, body: { error: 'unauthorized_client', error_description: 'The client_id is not registered.' } };
    }
    if (merchant.clientSecret !== clientSecret) {
      return { status: 401, body: { error: 'invalid_client', error_description: 'Invalid client secret provided.' } };
    }
    if (endpoint === 'accesstoken' && merchant.subscriptionKey !== subscriptionKey) {
      return apimError('Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.');
    }
    return { merchant };
  };

  const answerToken = (
    endpoint: VippsTokenEndpoint,
    headers: Record<string, string>,
    response: ServerResponse,
    request: IncomingMessage,
  ): void => {
    const fault = takeFault(endpoint, request);
    const answer = (): void => {
      const checked = checkTokenRequest(endpoint, headers);
      if ('status' in checked) send(response, checked.status, jsonType, JSON.stringify(checked.body));
      else send(response, 200, jsonType, JSON.stringify(issueToken(checked.merchant, endpoint)));
    };
    if (fault === undefined) return answer();
    answerFault(fault, response, request.socket, answer, () => {
      const checked = checkTokenRequest(endpoint, headers);
      return JSON.stringify('merchant' in checked ? issueToken(checked.merchant, endpoint) : checked.body);
    });
  };

  /** Answers with `fault` instead of `answer` (`slow`: `answer`, later); `truncated` sends half of `body()`. */
  const answerFault = (fault: VippsFault, response: ServerResponse, socket: Socket, answer: () => void, body: () => string): void => {
    switch (fault.kind) {
      case 'status':
        return send(
          response,
          fault.status ?? 500,
          jsonType,
          JSON.stringify({ error: 'server_error', error_description: 'The service is temporarily unavailable.' }),
        );
      case 'slow': {
        // An injected fault is not checked: a delay longer than a timer holds waits as long as one can.
        const timer = setTimeout(
          () => {
            timers.delete(timer);
            if (!response.destroyed) answer();
          },
          Math.min(fault.delayMs, maxDurationMs),
        );
        timers.add(timer);
        return;
      }
      case 'malformed':
        return send(response, 200, jsonType, '{"token_type":"Bearer","expires_in":"3600","access_token":"eyJ');
      case 'html':
        return send(
          response,
          fault.status ?? 502,
          'text/html; charset=utf-8',
          '<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>',
        );
      case 'truncated': {
        const bytes = Buffer.from(body());
        response.writeHead(200, { 'content-type': jsonType, 'content-length': bytes.length });
        response.write(bytes.subarray(0, Math.floor(bytes.length / 2)), () => socket.destroy());
        return;
      }
      case 'drop':
        socket.destroy();
        return;
      case 'reset':
        socket.resetAndDestroy();
        return;
      case 'stall':
        return;
      case 'raw':
        return writeRawResponse(response, socket, fault, timers);
      case 'body':
        return send(response, fault.status ?? 200, jsonType, JSON.stringify(fault.body));
    }
  };

  const answerPayment = (path: string, headers: Record<string, string>, response: ServerResponse): void => {
    const reference = referenceOf(path);
    const accessToken = /^Bearer (\S+)$/i.exec(headers.authorization ?? '')?.[1];
    const token = accessToken === undefined ? undefined : tokens.get(accessToken);
    if (token === undefined) return problem(response, 401, 'Missing or unknown bearer token in the Authorization header.');
    if (token.revoked) return problem(response, 401, 'The access token has been revoked.');
    if (gatewayNow() >= token.expiresAt) return problem(response, 401, 'The access token has expired.');
    const subscriptionKey = headers[VippsHeader.SubscriptionKey.toLowerCase()];
    if (token.endpoint === 'accesstoken' && subscriptionKey !== token.merchant.subscriptionKey) {
      const said = subscriptionKey === undefined ? 'missing' : 'invalid';
      return send(response, 401, jsonType, JSON.stringify(apimError(`Access denied due to ${said} subscription key.`).body));
    }
    if (reference === '' || reference.includes('/')) return problem(response, 404, 'No such payment.');
    const merchantSerialNumber = headers[VippsHeader.MerchantSerialNumber.toLowerCase()] ?? token.merchant.merchantSerialNumber;
    send(response, 200, jsonType, JSON.stringify(paymentOf(reference, merchantSerialNumber)));
  };

  const server: Server = createServer((request, response) => {
    readRequestBody(request, response, (body) => {
      const bodyLength = body.length;
      const path = (request.url ?? '/').split('?')[0]!;
      const tokenEndpoint = (Object.keys(vippsTokenPaths) as VippsTokenEndpoint[]).find((endpoint) => vippsTokenPaths[endpoint] === path);
      if (tokenEndpoint !== undefined) {
        const headers = record(tokenEndpoint, request, bodyLength);
        if (request.method !== 'POST') return send(response, 405, jsonType, JSON.stringify({ error: 'method_not_allowed' }));
        return answerToken(tokenEndpoint, headers, response, request);
      }
      if (path.startsWith(vippsPaymentPathPrefix)) {
        const headers = record('payments', request, bodyLength);
        if (request.method !== 'GET') return problem(response, 405, 'Method not allowed.');
        const fault = takeFault('payments', request);
        if (fault === undefined) return answerPayment(path, headers, response);
        return answerFault(
          fault,
          response,
          request.socket,
          () => answerPayment(path, headers, response),
          () => JSON.stringify(paymentOf(referenceOf(path), undefined)),
        );
      }
      problem(response, 404, 'Not found.');
    });
  });
  const loopback = await listenOnLoopback(server);

  const emulator: VippsEmulator = {
    url: loopback.url,
    merchants,
    tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? 3600,
    partnerTokenLifetimeSeconds: options.partnerTokenLifetimeSeconds ?? 900,
    clockOffsetMs: options.clockOffsetMs ?? 0,
    stats,
    get issuedTokens() {
      return tokens.size;
    },
    fault(fault) {
      if (fault.kind === 'raw') validateRawResponse(fault);
      const delayProblem = fault.kind === 'slow' ? durationProblem(fault.delayMs) : undefined;
      if (delayProblem !== undefined) {
        throw new ConfigurationError({ provider: 'vipps', issues: [{ path: 'fault.delayMs', message: delayProblem }] });
      }
      faults.push({ fault, remaining: fault.count ?? Number.POSITIVE_INFINITY });
    },
    clearFaults() {
      faults.length = 0;
    },
    revoke(accessToken) {
      for (const [token, issued] of tokens) {
        if (accessToken === undefined || token === accessToken) issued.revoked = true;
      }
    },
    resetStats() {
      for (const entry of Object.values(stats)) {
        entry.requests = 0;
        entry.headers = {};
        entry.seen = [];
      }
    },
    async close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await loopback.close();
    },
  };
  // The handle holds credentials (and, as requests arrive, what was sent): a log of it shows where it is and counts.
  const summary = () => ({ url: emulator.url, issuedTokens: emulator.issuedTokens });
  Object.defineProperty(emulator, 'toJSON', { value: summary });
  Object.defineProperty(emulator, inspect.custom, { value: () => `VippsEmulator ${inspect(summary())}` });
  return emulator;
}

function send(response: ServerResponse, status: number, contentType: string, body: string): void {
  response.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) }).end(body);
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

/** The `:reference` of `/epayment/v1/payments/:reference`, decoded; `''` (no such payment) when it does not decode. */
function referenceOf(path: string): string {
  try {
    return decodeURIComponent(path.slice(vippsPaymentPathPrefix.length));
  } catch {
    // A malformed escape (`%E0`) names no payment: answer 404 rather than throw in the server's request handler.
    return '';
  }
}

/** The payment `GET /epayment/v1/payments/:reference` answers with. */
function paymentOf(reference: string, merchantSerialNumber: string | undefined): Record<string, unknown> {
  return { reference, state: 'AUTHORIZED', amount: { currency: 'NOK', value: 1000 }, merchantSerialNumber: merchantSerialNumber ?? null };
}

function problem(response: ServerResponse, status: number, detail: string): void {
  const title = status === 401 ? 'Unauthorized' : status === 404 ? 'Not Found' : 'Error';
  send(response, status, problemType, JSON.stringify({ type: 'about:blank', title, status, detail }));
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
