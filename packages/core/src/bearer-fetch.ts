import {
  type AuthTarget,
  assertSameOrigin,
  createAuthTarget,
  foreignOriginError,
  isRedirectStatus,
  redirectCause,
  redirectDropsBody,
  resendMessageOf,
} from './auth-target.js';
import { resend } from './diagnostics.js';
import type { AccessToken, TokenCache, TokenCacheOptions } from './token-cache.js';
import type { TokenProvider } from './token-provider.js';

/** A `Request` from Node's fetch, undici's, or any other implementation. */
export interface RequestLike {
  /** Absolute, or relative to the provider's `baseUrl`. */
  readonly url: string;
  /** HTTP method, copied to the call. */
  readonly method: string;
  /** Win over the provider's API headers, except `Authorization`, which is always replaced; ignored when `init.headers` is given. */
  readonly headers: Iterable<[string, string]>;
  /** Read once into bytes, so the call can be sent again after a 401. */
  readonly body: unknown;
  /** Aborts this call and its wait for a token; a token request others wait on goes on. */
  readonly signal?: AbortSignal | null;
  /** Redirect mode: `follow` (the default) follows same-origin redirects only; `manual` and `error` as fetch does. */
  readonly redirect?: string;
  /** Reads the body; called only when the request has one. */
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** `fetch`'s signature, with relative URLs resolved against the provider's `baseUrl`. */
export type AuthFetch = (input: string | URL | RequestLike, init?: RequestInit) => Promise<Response>;

/** Options of {@link createAuthFetch}: the cache's options (used when given a provider), the fetch and the API headers' provider. */
export interface AuthFetchOptions extends Omit<TokenCacheOptions, 'fetch'> {
  /**
   * The fetch every call (API and token requests alike) goes through: Node's global fetch, undici's, or any other.
   * @default globalThis.fetch
   */
  fetch?: typeof globalThis.fetch | undefined;
  /**
   * The provider whose `apiHeaders` go on every call when `providerOrCache` is a cache shared by merchants with the
   * same credentials but API headers of their own (Vipps' `Vipps-System-*`): `registry.provider(id)` with
   * `registry.tokens(id)`. Only the token is shared. Must have the cache's `cacheKey`; tokens still go only to the
   * cache's provider's origin.
   * @default the provider of `providerOrCache`
   */
  provider?: TokenProvider | undefined;
}

/**
 * Returns a `fetch` that adds `Authorization: Bearer <token>` and the provider's API headers to every call, refuses
 * to send a token to any other origin, and on a 401 gets a fresh token and retries once when the body can be sent
 * again. Pass a provider (a cache is created with `options`) or a cache you share.
 *
 * Redirects (`redirect: 'follow'`, fetch's default) are followed by this fetch itself, hop by hop: a redirect on the
 * provider's origin is followed with the token and API headers (at most 20, methods and bodies changed as fetch
 * changes them), and a redirect to any other origin is refused with a `ForeignOriginError` before anything is sent
 * there, since fetch would carry the API headers (a subscription key) along. With `redirect: 'manual'` or `'error'`
 * the call is sent as asked and nothing is followed. A followed response's `url` is the last hop's, and its
 * `redirected` is `false`.
 *
 * @example
 * const iamport = createAuthFetch(createIamportProvider({ impKey, impSecret }));
 * const response = await iamport('/payments/imp_448280090638');
 *
 * @throws {@link ConfigurationError} when the provider's `baseUrl` is not an absolute http: or https: URL,
 * `options.policy` has a bad field, or `options.provider` is for other credentials. The returned fetch rejects with a
 * {@link ForeignOriginError} for a request or a redirect to another origin (nothing is sent there), and with the
 * cache's {@link TokenRequestError} or {@link TokenResponseError} when no token can be had.
 */
export function createAuthFetch(providerOrCache: TokenProvider | TokenCache, options: AuthFetchOptions = {}): AuthFetch {
  const target = createAuthTarget(providerOrCache, options);
  const { cache } = target;
  const send = options.fetch ?? ((input, init) => globalThis.fetch(input, init));

  /**
   * Sends the request; with `follow`, follows its same-origin redirects and refuses any other. `resent`: how many
   * times the call was sent before (1 for the retry after a 401); each hop adds one more.
   */
  const exchange = async (request: NormalizedRequest, authorization: string, resent = 0): Promise<Response> => {
    let hop = request;
    for (let redirects = 0; ; redirects += 1) {
      const init = withHeaders(hop, target.apiHeaders, authorization);
      const resendCount = resent + redirects;
      const url = hop.url;
      const response = await (resendCount === 0
        ? send(url, init)
        : resend(
            () => resendMessageOf(target, resendCount, redirects > 0 ? 'redirect' : 'unauthorized'),
            () => send(url, init),
          ));
      if (!hop.follow || !isRedirectStatus(response.status)) return response;
      const location = response.headers.get('location');
      if (location === null) return response;
      // A redirect's body is never read; cancelling it frees the connection.
      await response.body?.cancel().catch(() => undefined);
      hop = redirected(target, hop, response.status, location, redirects);
    }
  };

  const { staticAuthorization } = target;
  return async function authFetch(input, init) {
    const request = await normalize(input, init, target);
    // A fixed credential: no token to get, and a 401 is the answer.
    if (staticAuthorization !== undefined) return exchange(request, staticAuthorization());
    const signal = request.init.signal ?? undefined;
    const token = await (signal === undefined ? cache.getToken() : cache.getToken({ signal }));
    const response = await exchange(request, `Bearer ${token.accessToken}`);
    if (response.status !== 401 || !request.replayable) return response;
    const cancel = (): Promise<void> | undefined => response.body?.cancel().catch(() => undefined);
    let fresh: AccessToken;
    try {
      await cache.invalidate(token.accessToken);
      fresh = await cache.getToken({ signal });
    } catch (error) {
      await cancel();
      throw error;
    }
    // The cache kept the token (the API refuses fresh tokens faster than its backoff allows): this 401 is the answer.
    if (fresh.accessToken === token.accessToken) return response;
    await cancel();
    const retried = await exchange(request, `Bearer ${fresh.accessToken}`, 1);
    // A token refused on its first use: the API may refuse every token, and must not cost a token request per call.
    if (retried.status === 401) await cache.invalidate(fresh.accessToken, { refusedOnFirstUse: true });
    return retried;
  };
}

/** Fetch's own limit. */
const maxRedirects = 20;
/** Headers that describe a body: a redirect that drops the body drops them too, as fetch does. */
const bodyHeaders = ['content-encoding', 'content-language', 'content-location', 'content-type'];

/**
 * The request for the next hop of a redirect: on the target's origin, or a `ForeignOriginError` (nothing has been
 * sent there). Errors that fetch reports as network errors are `TypeError`s, as fetch's.
 */
function redirected(target: AuthTarget, hop: NormalizedRequest, status: number, location: string, redirects: number): NormalizedRequest {
  let url: URL;
  try {
    url = new URL(location, hop.url);
  } catch (error) {
    throw new TypeError('fetch failed', { cause: error });
  }
  if (redirects >= maxRedirects) throw new TypeError('fetch failed', { cause: new Error('redirect count exceeded') });
  if (url.origin !== target.origin) throw foreignOriginError(target, url.origin, redirectCause(hop.url, status, url));
  const method = hop.init.method ?? 'GET';
  const hasBody = hop.init.body !== undefined && hop.init.body !== null;
  if (redirectDropsBody(status, method)) {
    const { body: _dropped, ...init } = hop.init;
    const headers = hop.headers === undefined ? undefined : { ...hop.headers };
    if (headers !== undefined) for (const name of bodyHeaders) delete headers[name];
    return { ...hop, url, init: { ...init, method: 'GET' }, headers };
  }
  if (hasBody && !hop.replayable) {
    throw new TypeError('fetch failed', { cause: new Error(`cannot follow a ${status} redirect with a body that can be read only once`) });
  }
  return { ...hop, url };
}

interface NormalizedRequest {
  url: URL;
  /** The init to send, without headers. */
  init: RequestInit;
  /** The caller's headers, names in lower case: they win over the provider's, except `Authorization`. */
  headers: Record<string, string> | undefined;
  /** Whether the body can be sent a second time. */
  replayable: boolean;
  /** Whether this fetch follows redirects itself (the caller's `redirect: 'follow'`); the init then says `manual`. */
  follow: boolean;
}

/** Throws a `ForeignOriginError` before anything is read or sent when the request points at another origin. */
async function normalize(input: string | URL | RequestLike, init: RequestInit | undefined, target: AuthTarget): Promise<NormalizedRequest> {
  const { headers, ...rest } = init ?? {};
  if (typeof input === 'string' || input instanceof URL) {
    const url = new URL(input, target.baseUrl);
    assertSameOrigin(target, url);
    return finish(url, rest, headerRecord(headers));
  }
  const url = new URL(input.url, target.baseUrl);
  // Checked before the body is read, so a refused Request keeps its body.
  assertSameOrigin(target, url);
  // A Request, possibly from another fetch implementation: copy what matters into a plain init. Its body is read
  // once into bytes, so it can be replayed after a 401.
  const hasBody = rest.body === undefined && input.body !== null && input.body !== undefined;
  const fromRequest: RequestInit = {
    method: input.method,
    ...(input.signal ? { signal: input.signal } : {}),
    ...(input.redirect ? { redirect: input.redirect as NonNullable<RequestInit['redirect']> } : {}),
    ...(hasBody ? { body: await input.arrayBuffer() } : {}),
  };
  return finish(url, { ...fromRequest, ...rest }, headerRecord(headers ?? input.headers));
}

function finish(url: URL, init: RequestInit, headers: Record<string, string> | undefined): NormalizedRequest {
  const follow = init.redirect === undefined || init.redirect === 'follow';
  if (follow) init.redirect = 'manual';
  const body = init.body;
  if (typeof body === 'object' && body !== null) init.body = unshared(body);
  return { url, init, headers, replayable: isReplayable(init.body), follow };
}

/**
 * Bytes in a `SharedArrayBuffer` copied into memory of their own: neither Node's fetch nor undici's sends shared
 * memory as bytes (one refuses views on it, both turn the buffer itself into a string), and a copy is sent the same
 * on every attempt. Where the global is not defined (a page without cross-origin isolation) no memory is shared.
 */
function unshared(body: NonNullable<RequestInit['body']> | SharedArrayBuffer): NonNullable<RequestInit['body']> {
  const Shared = globalThis.SharedArrayBuffer as typeof SharedArrayBuffer | undefined;
  if (Shared === undefined) return body as NonNullable<RequestInit['body']>;
  if (body instanceof Shared) return new Uint8Array(body).slice();
  if (ArrayBuffer.isView(body) && body.buffer instanceof Shared) {
    return new Uint8Array(body.buffer, body.byteOffset, body.byteLength).slice();
  }
  return body as NonNullable<RequestInit['body']>;
}

/** Bodies every fetch turns into bytes afresh on each call; streams and async iterables can be read only once. */
const replayableTags = new Set(['URLSearchParams', 'FormData', 'Blob', 'File']);

function isReplayable(body: unknown): boolean {
  if (body === undefined || body === null || typeof body === 'string') return true;
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return true;
  // By tag rather than `instanceof`: undici's own FormData is not Node's global one, yet either fetch accepts both.
  return typeof body === 'object' && replayableTags.has(Object.prototype.toString.call(body).slice(8, -1));
}

/**
 * The caller's headers as a plain record with lower-case names, repeated names joined as `Headers` joins them. A
 * plain record rather than a `Headers`: the fetch builds its own from it, and building two more per call costs
 * more than the rest of this wrapper.
 */
function headerRecord(
  headers: RequestInit['headers'] | Iterable<readonly [string, string]> | undefined,
): Record<string, string> | undefined {
  if (headers === undefined || headers === null) return undefined;
  const record: Record<string, string> = {};
  const add = (name: string, value: string): void => {
    const key = name.toLowerCase();
    const existing = record[key];
    record[key] = existing === undefined ? String(value) : `${existing}, ${value}`;
  };
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const pair of headers as Iterable<readonly [string, string]>) {
      if (pair.length !== 2) throw new TypeError('Each header must be a [name, value] pair');
      add(pair[0], pair[1]);
    }
  } else {
    for (const [name, value] of Object.entries(headers as Record<string, string>)) add(name, value);
  }
  return record;
}

function withHeaders(request: NormalizedRequest, apiHeaders: ReadonlyArray<readonly [string, string]>, authorization: string): RequestInit {
  const headers: Record<string, string> = {};
  for (const [name, value] of apiHeaders) headers[name] = value;
  if (request.headers !== undefined) Object.assign(headers, request.headers);
  headers.authorization = authorization;
  return { ...request.init, headers };
}
