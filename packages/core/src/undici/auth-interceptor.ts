import type { Dispatcher } from 'undici';
import { type AuthTarget, assertSameOrigin, createAuthTarget } from '../auth-target.js';
import type { AccessToken, TokenCache, TokenCacheOptions } from '../token-cache.js';
import type { TokenProvider } from '../token-provider.js';

/** Options of {@link createAuthInterceptor}: the cache's options (used when given a provider) and the origin rule. */
export interface AuthInterceptorOptions extends TokenCacheOptions {
  /**
   * What to do with a request to an origin other than the provider's `baseUrl`: refuse it with a
   * `ForeignOriginError` (nothing is sent), or pass it through untouched, without a token (for an agent shared with
   * other hosts).
   * @default 'refuse'
   */
  foreignOrigins?: 'refuse' | 'pass-through' | undefined;
}

type DispatchOptions = Dispatcher.DispatchOptions;
type Handler = Dispatcher.DispatchHandler;
type Controller = Dispatcher.DispatchController;

/**
 * An undici 7 interceptor doing what `createAuthFetch` does: `Authorization: Bearer <token>` and the provider's API
 * headers on every request (callers' own headers win, except `Authorization`), no token to another origin, and one
 * retry with a fresh token after a 401 when the body can be sent again (none, a string or bytes; undici's `fetch`
 * dispatches every body as a stream, so pass `fetch` to `createAuthFetch` instead when such calls must be retried).
 *
 * @example
 * import { Agent, request } from 'undici';
 * const dispatcher = new Agent().compose(createAuthInterceptor(provider));
 * await request(new URL('/payments/imp_1', provider.baseUrl), { dispatcher });
 *
 * @throws {@link "@x/core".ConfigurationError | ConfigurationError} when the provider's `baseUrl` is not an absolute
 * http: or https: URL, or `options.policy` has a bad field. Requests fail with a
 * {@link "@x/core".ForeignOriginError | ForeignOriginError} for another origin (unless `foreignOrigins` is
 * `'pass-through'`), and with the cache's {@link "@x/core".TokenRequestError | TokenRequestError} or
 * {@link "@x/core".TokenResponseError | TokenResponseError} when no token can be had.
 */
export function createAuthInterceptor(
  providerOrCache: TokenProvider | TokenCache,
  options: AuthInterceptorOptions = {},
): Dispatcher.DispatcherComposeInterceptor {
  const target = createAuthTarget(providerOrCache, options);
  const passThrough = options.foreignOrigins === 'pass-through';

  return (dispatch) =>
    function authInterceptor(dispatchOptions: DispatchOptions, handler: Handler): boolean {
      try {
        // undici hands over the origin it normalised: a string compare settles the common case without a URL parse.
        if (dispatchOptions.origin !== target.origin) assertSameOrigin(target, new URL(String(dispatchOptions.origin)));
      } catch (error) {
        if (passThrough) return dispatch(dispatchOptions, handler);
        handler.onResponseError?.(null as unknown as Controller, error as Error);
        return true;
      }
      const send = (token: AccessToken): boolean => {
        const retryable = isReplayable(dispatchOptions.body);
        const authHandler = retryable ? new RetryOn401Handler(target, dispatch, dispatchOptions, handler, token.accessToken) : handler;
        return dispatch(withHeaders(target, dispatchOptions, token.accessToken), authHandler);
      };
      // A dispatch that throws (e.g. an invalid header) would otherwise leave the caller waiting forever.
      const fail = (error: unknown): void => handler.onResponseError?.(null as unknown as Controller, error as Error);
      // A cached token goes out at once, without a promise round trip.
      const cached = target.cache.peekToken();
      if (cached !== undefined) {
        try {
          return send(cached);
        } catch (error) {
          fail(error);
          return true;
        }
      }
      target.cache
        .getToken({ signal: signalOf(dispatchOptions) })
        .then(send)
        .catch(fail);
      return true;
    };
}

/** Forwards every callback, except a first 401: it is swallowed, the token invalidated, and the request sent again. */
class RetryOn401Handler implements Handler {
  #retrying = false;

  constructor(
    private readonly target: AuthTarget,
    private readonly dispatch: Dispatcher.Dispatch,
    private readonly dispatchOptions: DispatchOptions,
    private readonly handler: Handler,
    private readonly accessToken: string,
  ) {}

  onRequestStart(controller: Controller, context: unknown): void {
    this.handler.onRequestStart?.(controller, context);
  }

  onRequestUpgrade(
    controller: Controller,
    statusCode: number,
    headers: Record<string, string | string[]>,
    socket: import('node:stream').Duplex,
  ): void {
    this.handler.onRequestUpgrade?.(controller, statusCode, headers, socket);
  }

  onResponseStart(controller: Controller, statusCode: number, headers: Record<string, string | string[]>, statusMessage?: string): void {
    if (statusCode === 401) {
      this.#retrying = true;
      return;
    }
    this.handler.onResponseStart?.(controller, statusCode, headers, statusMessage);
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    if (!this.#retrying) this.handler.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Controller, trailers: Record<string, string | string[]>): void {
    if (!this.#retrying) {
      this.handler.onResponseEnd?.(controller, trailers);
      return;
    }
    const { cache } = this.target;
    cache
      .invalidate(this.accessToken)
      .then(() => cache.getToken({ signal: signalOf(this.dispatchOptions) }))
      // The second attempt goes straight to the caller's handler: never more than one retry.
      .then((token) => this.dispatch(withHeaders(this.target, this.dispatchOptions, token.accessToken), this.handler))
      .catch((error: unknown) => this.handler.onResponseError?.(controller, error as Error));
  }

  onResponseError(controller: Controller, error: Error): void {
    this.handler.onResponseError?.(controller, error);
  }
}

/** `undici.request` passes its `signal` along in the dispatch options: it also ends the wait for a token. */
function signalOf(dispatchOptions: DispatchOptions): AbortSignal | undefined {
  const { signal } = dispatchOptions as { signal?: unknown };
  return signal instanceof AbortSignal ? signal : undefined;
}

function isReplayable(body: DispatchOptions['body']): boolean {
  return body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array;
}

function withHeaders(target: AuthTarget, dispatchOptions: DispatchOptions, accessToken: string): DispatchOptions {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of target.apiHeaders) headers[name] = value;
  let fromCaller: Set<string> | undefined;
  // The caller's value replaces the provider's; a name the caller repeats keeps every value.
  const add = (name: string, value: string | string[] | undefined): void => {
    if (value === undefined) return;
    const key = name.toLowerCase();
    fromCaller ??= new Set();
    headers[key] = fromCaller.has(key) ? [headers[key] ?? [], value].flat() : value;
    fromCaller.add(key);
  };
  const callerHeaders = dispatchOptions.headers;
  if (Array.isArray(callerHeaders)) {
    // undici's flat form: [name, value, name, value, …]
    for (let index = 0; index + 1 < callerHeaders.length; index += 2) {
      add(String(callerHeaders[index]), callerHeaders[index + 1] as string | string[] | undefined);
    }
  } else if (callerHeaders !== undefined && callerHeaders !== null) {
    if (typeof (callerHeaders as Iterable<unknown>)[Symbol.iterator] === 'function') {
      for (const [name, value] of callerHeaders as Iterable<[string, string | string[] | undefined]>) add(name, value);
    } else {
      for (const [name, value] of Object.entries(callerHeaders as Record<string, string | string[] | undefined>)) add(name, value);
    }
  }
  headers.authorization = `Bearer ${accessToken}`;
  return { ...dispatchOptions, headers };
}
