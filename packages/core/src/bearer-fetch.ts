import { type AuthTarget, assertSameOrigin, createAuthTarget } from './auth-target.js';
import type { TokenCache, TokenCacheOptions } from './token-cache.js';
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
  /** Redirect mode, copied to the call. */
  readonly redirect?: string;
  /** Reads the body; called only when the request has one. */
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** `fetch`'s signature, with relative URLs resolved against the provider's `baseUrl`. */
export type AuthFetch = (input: string | URL | RequestLike, init?: RequestInit) => Promise<Response>;

/** Options of {@link createAuthFetch}: the cache's options (used when given a provider) and the fetch. */
export interface AuthFetchOptions extends Omit<TokenCacheOptions, 'fetch'> {
  /**
   * The fetch every call (API and token requests alike) goes through: Node's global fetch, undici's, or any other.
   * @default globalThis.fetch
   */
  fetch?: typeof globalThis.fetch | undefined;
}

/**
 * Returns a `fetch` that adds `Authorization: Bearer <token>` and the provider's API headers to every call, refuses
 * to send a token to any other origin, and on a 401 gets a fresh token and retries once when the body can be sent
 * again. Pass a provider (a cache is created with `options`) or a cache you share.
 *
 * @example
 * const iamport = createAuthFetch(createIamportProvider({ impKey, impSecret }));
 * const response = await iamport('/payments/imp_448280090638');
 *
 * @throws {@link ConfigurationError} when the provider's `baseUrl` is not an absolute http: or https: URL, or
 * `options.policy` has a bad field. The returned fetch rejects with a {@link ForeignOriginError} for a request to
 * another origin (nothing is sent), and with the cache's {@link TokenRequestError} or {@link TokenResponseError}
 * when no token can be had.
 */
export function createAuthFetch(providerOrCache: TokenProvider | TokenCache, options: AuthFetchOptions = {}): AuthFetch {
  const target = createAuthTarget(providerOrCache, options);
  const { cache } = target;
  const send = options.fetch ?? ((input, init) => globalThis.fetch(input, init));

  return async function authFetch(input, init) {
    const request = await normalize(input, init, target);
    const signal = request.init.signal ?? undefined;
    const token = await (signal === undefined ? cache.getToken() : cache.getToken({ signal }));
    const response = await send(request.url, withHeaders(request, target.apiHeaders, token.accessToken));
    if (response.status !== 401 || !request.replayable) return response;
    await response.body?.cancel().catch(() => undefined);
    await cache.invalidate(token.accessToken);
    const fresh = await cache.getToken({ signal });
    return send(request.url, withHeaders(request, target.apiHeaders, fresh.accessToken));
  };
}

interface NormalizedRequest {
  url: URL;
  /** The init to send, without headers. */
  init: RequestInit;
  /** The caller's headers, names in lower case: they win over the provider's, except `Authorization`. */
  headers: Record<string, string> | undefined;
  /** Whether the body can be sent a second time. */
  replayable: boolean;
}

/** Throws a `ForeignOriginError` before anything is read or sent when the request points at another origin. */
async function normalize(input: string | URL | RequestLike, init: RequestInit | undefined, target: AuthTarget): Promise<NormalizedRequest> {
  const { headers, ...rest } = init ?? {};
  if (typeof input === 'string' || input instanceof URL) {
    const url = new URL(input, target.baseUrl);
    assertSameOrigin(target, url);
    return { url, init: rest, headers: headerRecord(headers), replayable: isReplayable(rest.body) };
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
  const merged = { ...fromRequest, ...rest };
  return {
    url,
    init: merged,
    headers: headerRecord(headers ?? input.headers),
    replayable: isReplayable(merged.body),
  };
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

function withHeaders(request: NormalizedRequest, apiHeaders: ReadonlyArray<readonly [string, string]>, accessToken: string): RequestInit {
  const headers: Record<string, string> = {};
  for (const [name, value] of apiHeaders) headers[name] = value;
  if (request.headers !== undefined) Object.assign(headers, request.headers);
  headers.authorization = `Bearer ${accessToken}`;
  return { ...request.init, headers };
}
