import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { inspect } from 'node:util';
import { ConfigurationError, maxDurationMs } from '@x/core';
import { durationProblem } from '@x/core/provider';
import { createCanary, listenOnLoopback, type RawResponse, readRequestBody, validateRawResponse, writeRawResponse } from '@x/core/testing';
import * as v from 'valibot';
import {
  type IamportEnvelope,
  type IamportPayment,
  type IamportPaymentResponse,
  type IamportTokenResponse,
  iamportPaymentPathPrefix,
  iamportRejectedCredentialsMessage,
  iamportTokenPath,
  iamportTokenRequestSchema,
} from '../iamport-api-types.js';

/** One merchant's REST API credentials. */
export interface IamportMerchantCredentials {
  /** The REST API key, `imp_key`; also the merchant's name in the emulator's counters. */
  impKey: string;
  /** The REST API secret, `imp_secret`. */
  impSecret: string;
}

/**
 * The credentials every emulator accepts unless `merchants` says otherwise. Not a real i'mport secret: it holds the
 * canary marker (`xcanary`, as do the tokens the emulator issues), so a test that finds it in output found a leak.
 */
export const iamportEmulatorDefaultMerchant: Readonly<IamportMerchantCredentials> = Object.freeze({
  impKey: 'imp_apikey',
  impSecret: 'emulator-secret-xcanary-ekKoeW8RyKuT0zgaZsUtXXTLQ4AhPFW3ZGseDA6bkA5lamv9',
});

/** Options of {@link createIamportEmulator}. Every duration defaults to i'mport's own. */
export interface IamportEmulatorOptions {
  /** Credentials the token endpoint accepts. @default [iamportEmulatorDefaultMerchant] */
  merchants?: readonly IamportMerchantCredentials[] | undefined;
  /** Lifetime of a newly issued token. @default 1_800_000 (30 minutes, as i'mport) */
  tokenLifetimeMs?: number | undefined;
  /** A token request this close to expiry extends the token instead of returning it unchanged. @default 60_000 */
  extensionWindowMs?: number | undefined;
  /** How much later such a request moves the expiry. @default 300_000 (5 minutes) */
  extensionMs?: number | undefined;
  /** How far the emulated i'mport clock is ahead of `now()` (negative: behind). @default 0 */
  clockOffsetMs?: number | undefined;
  /** The real time the emulator's clock is derived from; share it with the token cache's clock in tests. @default Date.now */
  now?: (() => number) | undefined;
  /** Payments `GET /payments/{imp_uid}` returns; other `imp_…` ids get a generated payment. @default {} */
  payments?: Readonly<Record<string, Partial<IamportPayment>>> | undefined;
  /**
   * Asked about every request no queued fault answers; a fault it returns answers that request (its `target` and
   * `count` are ignored). For soaks: return a random fault for a share of the requests.
   */
  injectFault?: ((target: 'token' | 'api', request: IncomingMessage) => IamportFault | undefined) | undefined;
}

/** A failure the emulator produces instead of (or before) its normal answer. */
export type IamportFaultKind =
  /** An error status (`status`, default 500) with i'mport's envelope, `code` -1 and a Korean message. */
  | 'server-error'
  /** HTTP 200 with a non-zero `code` (`code`, default -1) and `message`, as i'mport reports refusals. */
  | 'error-code'
  /** Waits `delayMs` (default 5 000) before the normal answer. */
  | 'slow'
  /** An HTML page (a proxy's or load balancer's) with `status`, default 502. */
  | 'html'
  /** HTTP 200, `application/json`, but the body is cut off mid-JSON (a complete HTTP message). */
  | 'malformed-json'
  /** HTTP 200 with `now` and `expired_at` as strings (or a payment's `amount` as a string). */
  | 'wrong-types'
  /** HTTP 200 without `response.access_token` (or a payment's `imp_uid`). */
  | 'missing-field'
  /** Sends the headers and half the body, then closes the connection. */
  | 'truncated'
  /** Closes the connection without answering. */
  | 'drop'
  /** Resets the connection (TCP RST) without answering. */
  | 'reset'
  /** Never answers, not even headers: the request hangs until the client gives up or the emulator closes. */
  | 'stall'
  /**
   * Answers with exactly the fault's status, content type and bytes (its `RawResponse` fields, from `@x/core/testing`),
   * possibly truncated, chunked or stalled.
   */
  | 'raw';

/** A failure to inject with {@link IamportEmulator.fault} or `injectFault`. */
export interface IamportFault extends RawResponse {
  /** What goes wrong. A `raw` fault answers with the `RawResponse` fields (`@x/core/testing`) given beside `kind`. */
  kind: IamportFaultKind;
  /** Which endpoint fails: the token endpoint or the payment API. @default 'token' */
  target?: 'token' | 'api' | undefined;
  /** How many requests in a row fail this way (`Infinity` for all). @default 1 */
  count?: number | undefined;
  /** HTTP status for `server-error` (default 500), `html` (default 502) and `raw` (default 200). */
  status?: number | undefined;
  /** Delay of a `slow` answer in milliseconds, at most 2^31−1 (`maxDurationMs`; `fault()` refuses more). @default 5_000 */
  delayMs?: number | undefined;
  /** i'mport `code` for `server-error` and `error-code`. @default -1 */
  code?: number | undefined;
  /** i'mport `message` for `server-error` and `error-code`. */
  message?: string | undefined;
}

/** What the emulator received and answered. */
export interface IamportEmulatorCounters {
  /** `POST /users/getToken` requests received, faulted or not. */
  tokenRequests: number;
  /** New tokens issued (no token yet, or the previous one expired or was revoked). */
  tokensIssued: number;
  /** Requests within the extension window: same token, expiry moved later. */
  tokensExtended: number;
  /** Requests before the extension window: same token, same expiry. */
  tokensReused: number;
  /** Token requests refused for missing or wrong credentials (HTTP 401). */
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

/** A running i'mport emulator: token endpoint and payment API on 127.0.0.1. */
export interface IamportEmulator {
  /** Origin to use as the provider's `baseUrl`, e.g. `http://127.0.0.1:54321`. */
  readonly url: string;
  /** The first merchant's credentials (the built-in pair unless `merchants` was given). */
  readonly defaultMerchant: IamportMerchantCredentials;
  /** Totals over all merchants since start (or `resetCounters`). */
  readonly counters: Readonly<IamportEmulatorCounters>;
  /** One merchant's counters, by `impKey`. */
  countersFor(impKey: string): Readonly<IamportEmulatorCounters>;
  /** Sets every counter, total and per merchant, back to zero. */
  resetCounters(): void;
  /** Accepts one more merchant's credentials. */
  addMerchant(credentials: IamportMerchantCredentials): void;
  /** The emulated i'mport clock, epoch milliseconds. */
  now(): number;
  /** Moves the emulated clock relative to the `now` option (e.g. 9 hours ahead: `32_400_000`). */
  setClockOffset(milliseconds: number): void;
  /** Queues a fault: the next `count` matching requests fail this way. */
  fault(fault: IamportFault): void;
  /** Drops every queued fault; `injectFault` still applies. */
  clearFaults(): void;
  /** Revokes one token, or every current token: API calls with it get 401 and the next token request issues a new one. Returns how many were revoked. */
  revoke(accessToken?: string): number;
  /** A merchant's current token, if one is live. @default merchant: the default merchant */
  currentToken(impKey?: string): IamportEmulatorToken | undefined;
  /** Stops the server and drops open connections, stalled requests and pending slow answers. */
  close(): Promise<void>;
}

interface MerchantState {
  credentials: IamportMerchantCredentials;
  counters: IamportEmulatorCounters;
  token: IamportEmulatorToken | undefined;
}

const unauthorizedMessage = 'Unauthorized';

/** i'mport's answer to a payment (or path) it does not know. */
const notFound: IamportEnvelope<null> = { code: 1, message: '존재하지 않는 결제정보입니다.', response: null };

/**
 * A payment path the emulator serves: `imp_` and letters, digits or `_`, so there is nothing to decode (a `%` escape,
 * malformed or not, names no payment).
 */
const paymentPathPattern = /^\/payments\/imp_[A-Za-z0-9_]+$/;

/** The request's path, without its query. */
function pathOf(request: IncomingMessage): string {
  return (request.url ?? '/').split('?')[0]!;
}

function emptyCounters(): IamportEmulatorCounters {
  return {
    tokenRequests: 0,
    tokensIssued: 0,
    tokensExtended: 0,
    tokensReused: 0,
    rejectedTokenRequests: 0,
    apiCalls: 0,
    unauthorizedApiCalls: 0,
    faults: 0,
  };
}

/**
 * Starts an emulator of i'mport's token endpoint and payment API with the documented token rules: a token lives
 * 30 minutes; asking again before its last minute returns it unchanged; asking within the last minute moves its
 * expiry 5 minutes later; asking after expiry issues a new one. Every duration, the clock and failures can be set.
 *
 * @example
 * const emulator = await createIamportEmulator();
 * const provider = createIamportProvider({ ...emulator.defaultMerchant, baseUrl: emulator.url });
 * // …
 * await emulator.close();
 */
export async function createIamportEmulator(options: IamportEmulatorOptions = {}): Promise<IamportEmulator> {
  const realNow = options.now ?? Date.now;
  const tokenLifetimeMs = options.tokenLifetimeMs ?? 1_800_000;
  const extensionWindowMs = options.extensionWindowMs ?? 60_000;
  const extensionMs = options.extensionMs ?? 300_000;
  const payments = options.payments ?? {};
  let clockOffsetMs = options.clockOffsetMs ?? 0;
  const serverNow = (): number => realNow() + clockOffsetMs;
  const seconds = (milliseconds: number): number => Math.floor(milliseconds / 1000);

  const merchants = new Map<string, MerchantState>();
  const addMerchant = (credentials: IamportMerchantCredentials): void => {
    merchants.set(credentials.impKey, { credentials: { ...credentials }, counters: emptyCounters(), token: undefined });
  };
  for (const credentials of options.merchants ?? [iamportEmulatorDefaultMerchant]) addMerchant(credentials);
  const defaultMerchant = [...merchants.values()][0]?.credentials ?? { ...iamportEmulatorDefaultMerchant };

  let totals = emptyCounters();
  const count = (merchant: MerchantState | undefined, field: keyof IamportEmulatorCounters): void => {
    totals[field] += 1;
    if (merchant !== undefined) merchant.counters[field] += 1;
  };

  const faults: Array<Required<Pick<IamportFault, 'kind' | 'target' | 'count'>> & IamportFault> = [];
  const takeFault = (target: 'token' | 'api'): IamportFault | undefined => {
    const index = faults.findIndex((fault) => fault.target === target);
    if (index === -1) return undefined;
    const fault = faults[index]!;
    fault.count -= 1;
    if (fault.count <= 0) faults.splice(index, 1);
    return fault;
  };

  const timers = new Set<NodeJS.Timeout>();

  const send = (response: ServerResponse, status: number, body: unknown): void => {
    if (response.destroyed) return;
    const text = JSON.stringify(body);
    response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) }).end(text);
  };

  const envelope = <TResponse>(code: number, message: string | null, response: TResponse): IamportEnvelope<TResponse> => ({
    code,
    message,
    response,
  });

  const findToken = (accessToken: string): MerchantState | undefined => {
    for (const merchant of merchants.values()) {
      if (merchant.token?.accessToken === accessToken && serverNow() < merchant.token.expiresAt) return merchant;
    }
    return undefined;
  };

  /** Answers with a fault instead of the normal answer (`slow` is handled by the caller: it delays the normal one). */
  const answerFault = (fault: IamportFault, request: IncomingMessage, response: ServerResponse, target: 'token' | 'api'): void => {
    const code = fault.code ?? -1;
    switch (fault.kind) {
      case 'server-error':
        send(response, fault.status ?? 500, envelope(code, fault.message ?? '일시적인 서버 오류입니다. 잠시 후 다시 시도해주세요.', null));
        return;
      case 'error-code':
        send(response, 200, envelope(code, fault.message ?? '요청을 처리할 수 없습니다.', null));
        return;
      case 'html': {
        const status = fault.status ?? 502;
        const html = `<html><head><title>${status} Bad Gateway</title></head><body><center><h1>${status} Bad Gateway</h1></center><hr><center>nginx</center></body></html>`;
        response.writeHead(status, { 'content-type': 'text/html' }).end(html);
        return;
      }
      case 'malformed-json': {
        const text = '{"code":0,"message":null,"response":{"access_token":"';
        response.writeHead(200, { 'content-type': 'application/json' }).end(text);
        return;
      }
      case 'wrong-types':
      case 'missing-field': {
        if (target === 'token') {
          const now = seconds(serverNow());
          const token =
            fault.kind === 'wrong-types'
              ? { access_token: randomToken(), now: String(now), expired_at: String(now + 1800) }
              : { now, expired_at: now + 1800 };
          send(response, 200, envelope(0, null, token));
          return;
        }
        // The fault's payment is the one the path names; a path that names none (or does not decode) gets the 404.
        const payment = paymentAt(pathOf(request));
        if (payment === undefined) {
          send(response, 404, notFound);
        } else if (fault.kind === 'wrong-types') {
          send(response, 200, envelope(0, null, { ...payment, amount: '1004' }));
        } else {
          const { imp_uid: _omitted, ...rest } = payment;
          send(response, 200, envelope(0, null, rest));
        }
        return;
      }
      case 'truncated': {
        const text = JSON.stringify(envelope(-1, null, { padding: 'x'.repeat(256) }));
        response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        response.write(text.slice(0, Math.floor(text.length / 2)), () => request.socket.destroy());
        return;
      }
      case 'drop':
        request.socket.destroy();
        return;
      case 'reset':
        request.socket.resetAndDestroy();
        return;
      case 'stall':
        return;
      case 'raw':
        writeRawResponse(response, request.socket, fault, timers);
        return;
      case 'slow':
        return;
    }
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
      paid_at: seconds(serverNow()),
      buyer_name: '홍길동',
      ...payments[impUid],
    };
  };

  const handleToken = (response: ServerResponse, merchant: MerchantState | undefined): void => {
    if (merchant === undefined) {
      count(undefined, 'rejectedTokenRequests');
      send(response, 401, envelope(-1, iamportRejectedCredentialsMessage, null));
      return;
    }
    const now = serverNow();
    const current = merchant.token;
    if (current === undefined || now >= current.expiresAt) {
      merchant.token = { accessToken: randomToken(), expiresAt: now + tokenLifetimeMs };
      count(merchant, 'tokensIssued');
    } else if (current.expiresAt - now <= extensionWindowMs) {
      current.expiresAt += extensionMs;
      count(merchant, 'tokensExtended');
    } else {
      count(merchant, 'tokensReused');
    }
    const token = merchant.token!;
    const answer: IamportTokenResponse = {
      code: 0,
      message: null,
      response: { access_token: token.accessToken, now: seconds(now), expired_at: seconds(token.expiresAt) },
    };
    send(response, 200, answer);
  };

  const handleApi = (request: IncomingMessage, response: ServerResponse): void => {
    const authorization = request.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(authorization);
    const merchant = match === null ? undefined : findToken(match[1]!);
    if (merchant === undefined) {
      count(undefined, 'unauthorizedApiCalls');
      send(response, 401, envelope(-1, unauthorizedMessage, null));
      return;
    }
    merchant.counters.apiCalls += 1;
    const payment = request.method === 'GET' ? paymentAt(pathOf(request)) : undefined;
    if (payment === undefined) {
      send(response, 404, notFound);
      return;
    }
    const answer: IamportPaymentResponse = { code: 0, message: null, response: payment };
    send(response, 200, answer);
  };

  const identify = (request: IncomingMessage, body: string): MerchantState | undefined => {
    let input: unknown;
    const contentType = request.headers['content-type'] ?? '';
    try {
      // Like i'mport, only a declared JSON or form body is read: without a content type the parameters are missing.
      if (contentType.includes('application/json')) input = JSON.parse(body);
      else if (contentType.includes('application/x-www-form-urlencoded')) input = Object.fromEntries(new URLSearchParams(body));
      else return undefined;
    } catch {
      return undefined;
    }
    const parsed = v.safeParse(iamportTokenRequestSchema, input);
    if (!parsed.success) return undefined;
    const merchant = merchants.get(parsed.output.imp_key);
    return merchant?.credentials.impSecret === parsed.output.imp_secret ? merchant : undefined;
  };

  const server = createServer((request, response) => {
    readRequestBody(request, response, (bytes) => {
      const body = bytes.toString('utf8');
      const path = pathOf(request);
      const isToken = request.method === 'POST' && path === iamportTokenPath;
      const target = isToken ? 'token' : 'api';
      let merchant: MerchantState | undefined;
      if (isToken) {
        merchant = identify(request, body);
        totals.tokenRequests += 1;
        if (merchant !== undefined) merchant.counters.tokenRequests += 1;
      } else {
        totals.apiCalls += 1;
      }
      const normal = (): void => (isToken ? handleToken(response, merchant) : handleApi(request, response));
      const fault = takeFault(target) ?? options.injectFault?.(target, request);
      if (fault === undefined) {
        normal();
        return;
      }
      count(merchant, 'faults');
      if (fault.kind !== 'slow') {
        answerFault(fault, request, response, target);
        return;
      }
      // An injected fault is not checked: a delay longer than a timer holds waits as long as one can.
      const timer = setTimeout(
        () => {
          timers.delete(timer);
          if (!response.destroyed && !request.socket.destroyed) normal();
        },
        Math.min(fault.delayMs ?? 5_000, maxDurationMs),
      );
      timers.add(timer);
    });
  });
  const loopback = await listenOnLoopback(server);

  const emulator: IamportEmulator = {
    url: loopback.url,
    defaultMerchant,
    get counters() {
      return { ...totals };
    },
    countersFor(impKey) {
      return { ...(merchants.get(impKey)?.counters ?? emptyCounters()) };
    },
    resetCounters() {
      totals = emptyCounters();
      for (const merchant of merchants.values()) merchant.counters = emptyCounters();
    },
    addMerchant,
    now: serverNow,
    setClockOffset(milliseconds) {
      clockOffsetMs = milliseconds;
    },
    fault(fault) {
      const remaining = fault.count ?? 1;
      if (!(remaining > 0)) throw new RangeError('fault.count must be at least 1');
      if (fault.kind === 'raw') validateRawResponse(fault);
      const delayProblem = fault.delayMs === undefined ? undefined : durationProblem(fault.delayMs);
      if (delayProblem !== undefined) {
        throw new ConfigurationError({ provider: 'iamport', issues: [{ path: 'fault.delayMs', message: delayProblem }] });
      }
      faults.push({ ...fault, target: fault.target ?? 'token', count: remaining });
    },
    clearFaults() {
      faults.length = 0;
    },
    revoke(accessToken) {
      let revoked = 0;
      for (const merchant of merchants.values()) {
        if (merchant.token !== undefined && (accessToken === undefined || merchant.token.accessToken === accessToken)) {
          merchant.token = undefined;
          revoked += 1;
        }
      }
      return revoked;
    },
    currentToken(impKey = defaultMerchant.impKey) {
      const token = merchants.get(impKey)?.token;
      return token === undefined || serverNow() >= token.expiresAt ? undefined : { ...token };
    },
    async close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await loopback.close();
    },
  };
  // The handle holds credentials (and, as requests arrive, what was sent): a log of it shows where it is and counts.
  const summary = () => ({ url: emulator.url, counters: emulator.counters });
  Object.defineProperty(emulator, 'toJSON', { value: summary });
  Object.defineProperty(emulator, inspect.custom, { value: () => `IamportEmulator ${inspect(summary())}` });
  return emulator;
}

/** 40 characters like i'mport's, starting with the canary marker so a leaked token is found. */
function randomToken(): string {
  return createCanary('', 33);
}
