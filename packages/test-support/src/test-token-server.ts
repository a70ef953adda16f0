/**
 * A minimal token server and API for core's own tests (the gateway emulators live in the provider packages).
 * `POST /token` issues tokens; `/api/*` answers 200 with what it received when the bearer token is valid, 401
 * otherwise; `/api/redirect?status=302&location=…` answers that redirect when the token is valid. Not exported from
 * the package.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { type TokenProvider, TokenRequestError } from '@x/core';
import { createCanary, listenOnLoopback } from '@x/core/testing';

export interface TestTokenServerOptions {
  /** Token lifetime in ms. @default 3_600_000 */
  lifetimeMs?: number;
  /** Wall clock of the server. @default Date.now */
  now?: () => number;
}

export interface ApiCall {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface TestTokenServer {
  url: string;
  /** Token requests received. */
  tokenRequests: number;
  /** API calls received, in order. */
  apiCalls: ApiCall[];
  /** Tokens currently accepted by `/api/*`. */
  validTokens: Set<string>;
  /** Lifetime of tokens issued from now on. */
  lifetimeMs: number;
  /**
   * How the next token requests are answered: `ok`, an HTTP status with a JSON error, `hang` (never answers),
   * `reset` (destroys the socket), `same` (re-issues the last token with the same expiry), `extend` (re-issues the
   * last token with its expiry moved to now + `lifetimeMs`, like i'mport's extension window).
   */
  mode: 'ok' | 'hang' | 'reset' | 'same' | 'extend' | number;
  /** Delay before each token response, ms. */
  delayMs: number;
  /** A `Retry-After` header for the error statuses of `mode`. */
  retryAfter?: string | undefined;
  /** `/api/*` refuses every token with a 401, even one just issued (a key without that API product). */
  apiRefusesAll?: boolean | undefined;
  /**
   * How a 401 of `/api/*` ends: `complete`, or `hang` (headers and the start of the body, then nothing, as a gateway
   * whose connection stalls mid-answer).
   */
  unauthorizedBody: 'complete' | 'hang';
  close(): Promise<void>;
}

/** Starts the server on 127.0.0.1, port 0. */
export async function startTestTokenServer(options: TestTokenServerOptions = {}): Promise<TestTokenServer> {
  const now = options.now ?? Date.now;
  let counter = 0;
  let last: { token: string; expiresAt: number } | undefined;

  const json = (response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    response.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  };

  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const path = request.url ?? '/';
      if (request.method === 'POST' && path === '/token') {
        state.tokenRequests += 1;
        const answer = (): void => {
          const mode = state.mode;
          if (mode === 'hang') return;
          if (mode === 'reset') {
            request.socket.destroy();
            return;
          }
          if (typeof mode === 'number') {
            const retryAfter: Record<string, string> = state.retryAfter === undefined ? {} : { 'retry-after': state.retryAfter };
            json(response, mode, { error: mode === 401 ? 'invalid_client' : 'server_error' }, retryAfter);
            return;
          }
          if (mode === 'ok' || last === undefined) {
            counter += 1;
            // Canary-shaped, so the canary guard catches a token that reaches any output.
            last = { token: `token-${counter}-${createCanary()}`, expiresAt: now() + state.lifetimeMs };
            state.validTokens.add(last.token);
          } else if (mode === 'extend') {
            last = { token: last.token, expiresAt: now() + state.lifetimeMs };
          }
          json(response, 200, { access_token: last.token, expires_at: last.expiresAt });
        };
        if (state.delayMs > 0) setTimeout(answer, state.delayMs);
        else answer();
        return;
      }
      if (path.startsWith('/api/')) {
        state.apiCalls.push({ method: request.method ?? 'GET', path, headers: request.headers, body });
        const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
        if (token === undefined || !state.validTokens.has(token) || state.apiRefusesAll === true) {
          if (state.unauthorizedBody === 'hang') {
            response.writeHead(401, { 'content-type': 'application/json', 'content-length': '1000' }).write('{"error":');
            return;
          }
          json(response, 401, { error: 'invalid_token' });
          return;
        }
        if (path.startsWith('/api/redirect?')) {
          const query = new URL(path, state.url).searchParams;
          response.writeHead(Number(query.get('status')), { location: query.get('location') ?? '/' }).end('moved');
          return;
        }
        json(response, 200, { ok: true, path, body });
        return;
      }
      json(response, 404, { error: 'not_found' });
    });
  });
  const loopback = await listenOnLoopback(server);

  const state: TestTokenServer = {
    url: loopback.url,
    tokenRequests: 0,
    apiCalls: [],
    validTokens: new Set(),
    lifetimeMs: options.lifetimeMs ?? 3_600_000,
    mode: 'ok',
    delayMs: 0,
    unauthorizedBody: 'complete',
    close: loopback.close,
  };
  return state;
}

/** A provider for the test server: expiry is the server's absolute `expires_at`, so the tests control it. */
export function testProvider(server: Pick<TestTokenServer, 'url'>, overrides: Partial<TokenProvider> = {}): TokenProvider {
  return {
    provider: 'test',
    cacheKey: `test:${server.url}`,
    baseUrl: server.url,
    async requestToken({ signal, fetch }) {
      const response = await fetch(`${server.url}/token`, { method: 'POST', signal });
      const body = (await response.json()) as { access_token?: string; expires_at?: number; error?: string };
      if (!response.ok || body.access_token === undefined || body.expires_at === undefined) {
        throw new TokenRequestError(`Token request failed with status ${response.status}`, {
          provider: 'test',
          reason: response.status === 401 ? 'rejected' : 'http',
          retryable: response.status >= 500 || response.status === 429,
          status: response.status,
          providerCode: body.error,
          response,
        });
      }
      return { accessToken: body.access_token, expiresAt: body.expires_at };
    },
    ...overrides,
  };
}

/** API headers of the kind Vipps sends with every call (a subscription key, a merchant serial number). */
export const apiHeaders: Readonly<Record<string, string>> = {
  'Ocp-Apim-Subscription-Key': 'subscription-key',
  'Merchant-Serial-Number': '123456',
};

/** A SharedArrayBuffer holding `text`'s bytes. */
export function sharedBytes(text: string): SharedArrayBuffer {
  const bytes = new TextEncoder().encode(text);
  const shared = new SharedArrayBuffer(bytes.byteLength);
  new Uint8Array(shared).set(bytes);
  return shared;
}
