import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import {
  type AuthTarget,
  createAuthTarget,
  foreignOriginError,
  isRedirectStatus,
  redirectCause,
  redirectDropsBody,
  resendMessageOf,
} from '../auth-target.js';
import { type ApiResendMessage, resend } from '../diagnostics.js';
import { ConfigurationError } from '../errors.js';
import type { TokenCache } from '../token-cache.js';
import type { TokenProvider } from '../token-provider.js';
import type { AuthInterceptorOptions } from './auth-interceptor.js';

type DispatchOptions = Dispatcher.DispatchOptions;
type Handler = Dispatcher.DispatchHandler;
type Controller = Dispatcher.DispatchController;
type HeaderValue = string | string[];

/** The resolved rules every request is dispatched by. */
export interface AuthDispatchSettings {
  readonly target: AuthTarget;
  readonly passThrough: boolean;
  readonly maxRedirections: number;
}

/** Resolves `options` once: the target (a cache is created when given a provider) and the rules. */
export function createAuthDispatchSettings(
  providerOrCache: TokenProvider | TokenCache,
  options: AuthInterceptorOptions,
): AuthDispatchSettings {
  const target = createAuthTarget(providerOrCache, options);
  const maxRedirections = options.maxRedirections ?? 0;
  if (!isRedirectLimit(maxRedirections)) {
    throw new ConfigurationError({
      provider: target.cache.provider.provider,
      issues: [{ path: 'maxRedirections', message: 'must be a non-negative integer' }],
    });
  }
  return { target, passThrough: options.foreignOrigins === 'pass-through', maxRedirections };
}

/**
 * Dispatches one request through `next` (the dispatch below an interceptor, or the wrapped dispatcher's) with the
 * token and API headers, by the origin rule; retries it once after a 401, whose body is aborted rather than waited
 * for; and follows its redirects hop by hop, each hop under the origin rule again. Every request with our headers
 * goes down with `maxRedirections: 0`, so no redirect interceptor below can carry them to another origin.
 *
 * Handlers are answered in the API they speak: undici's own `request` and `fetch` hand a dispatcher the legacy one
 * (`onConnect`, `onHeaders`, …), which is passed on as it is, so no headers are converted between the two APIs.
 */
export function authDispatch(
  settings: AuthDispatchSettings,
  next: Dispatcher.Dispatch,
  options: DispatchOptions,
  handler: Handler,
): boolean {
  const { target } = settings;
  // undici hands over the origin it normalised: a string compare settles the common case without a URL parse.
  if (options.origin !== target.origin) {
    const refusal = refusalOf(target, options.origin);
    if (refusal !== undefined) {
      if (settings.passThrough) return next(options, handler);
      return failWith(handler, refusal);
    }
  }
  const requested = (options as { maxRedirections?: unknown }).maxRedirections;
  const maxRedirections = requested ?? settings.maxRedirections;
  if (!isRedirectLimit(maxRedirections)) return failWith(handler, new TypeError('maxRedirections must be a non-negative integer'));
  const request = options.body instanceof SharedArrayBuffer ? { ...options, body: new Uint8Array(options.body) } : options;
  // A fixed credential: no token to get, nothing to retry; redirects are handed back (maxRedirections: 0 below).
  if (target.staticAuthorization !== undefined) {
    try {
      return next(withHeaders(target, request, ''), handler);
    } catch (error) {
      return failWith(handler, error);
    }
  }
  const replayable = isReplayable(request.body);
  if (!replayable && maxRedirections === 0) return sendPlain(settings, next, request, handler);
  const Attempt = typeof handler.onRequestStart === 'function' ? HandlerAttempt : LegacyAttempt;
  return new Attempt(settings, next, request, handler, { maxRedirections, hops: 0, retried: false, replayable }).start(true);
}

/** Nothing to retry or follow: the caller's own handler goes down with the authenticated request. */
function sendPlain(settings: AuthDispatchSettings, next: Dispatcher.Dispatch, options: DispatchOptions, handler: Handler): boolean {
  const { cache } = settings.target;
  const send = (accessToken: string): boolean => next(withHeaders(settings.target, options, accessToken), handler);
  // A cached token goes out at once, without a promise round trip.
  const cached = cache.peekToken();
  if (cached !== undefined) {
    try {
      return send(cached.accessToken);
    } catch (error) {
      return failWith(handler, error);
    }
  }
  cache
    .getToken({ signal: signalOf(options) })
    .then((token) => send(token.accessToken))
    // A dispatch that throws (e.g. an invalid header) would otherwise leave the caller waiting forever.
    .catch((error: unknown) => failWith(handler, error));
  return true;
}

/** What one request has used up, carried from attempt to attempt. */
interface Budget {
  readonly maxRedirections: number;
  readonly hops: number;
  readonly retried: boolean;
  /** The token the first attempt sent, once a 401 made this attempt a retry. */
  readonly refusedToken?: string | undefined;
  readonly replayable: boolean;
  /** Why this attempt sends the request again: the cause of its resend, for the diagnostics channel. */
  readonly resentFor?: ApiResendMessage['reason'] | undefined;
}

type AttemptState = 'forwarding' | 'retrying' | 'redirecting' | 'refused';

/**
 * One attempt of a request: the first, the retry after a 401, or a redirect's hop. Decides on the response's
 * status; the subclasses speak the two handler APIs. Each attempt is its own handler object, so callbacks that
 * arrive late for an aborted attempt cannot be mistaken for the next one's.
 */
abstract class Attempt {
  protected state: AttemptState = 'forwarding';
  /** The status of the response being decided on, for a refusal's cause. */
  protected statusCode = 0;
  /** The token this attempt carries; `undefined` for a hop passed through to another origin. */
  protected accessToken: string | undefined;
  #nextHop: DispatchOptions | undefined;

  constructor(
    protected readonly settings: AuthDispatchSettings,
    protected readonly next: Dispatcher.Dispatch,
    /** The caller's options for this hop: never our headers. */
    protected readonly options: DispatchOptions,
    protected readonly handler: Handler,
    protected readonly budget: Budget,
  ) {}

  /** Sends this attempt: with a token on the provider's origin, untouched on another (a passed-through hop). */
  start(ownOrigin: boolean): boolean {
    if (!ownOrigin) return this.send(undefined);
    const { cache } = this.settings.target;
    const cached = cache.peekToken();
    if (cached !== undefined) {
      try {
        return this.send(cached.accessToken);
      } catch (error) {
        this.fail(error);
        return true;
      }
    }
    cache
      .getToken({ signal: signalOf(this.options) })
      .then((token) => this.send(token.accessToken))
      .catch((error: unknown) => this.fail(error));
    return true;
  }

  /** Hands `error` to the caller's handler. */
  protected abstract fail(error: unknown): void;

  /**
   * Decides what the response starting with `statusCode` is for: the caller (`forwarding`), a retry, a redirect
   * followed once its body has ended, or a refusal (the two last abort it at once).
   */
  protected decide(statusCode: number, location: () => string | undefined): void {
    // Called only for a 401 or a redirect (see mayDecide): any other response goes straight to the caller.
    const { budget } = this;
    if (statusCode === 401 && this.accessToken !== undefined && budget.replayable && !budget.retried) {
      this.state = 'retrying';
      return;
    }
    if (statusCode === 401 && budget.retried && this.accessToken !== undefined && this.accessToken !== budget.refusedToken) {
      // A token refused on its first use: the API may refuse every token, and must not cost a token request per call.
      void this.settings.target.cache.invalidate(this.accessToken, { refusedOnFirstUse: true });
    }
    if (!isRedirectStatus(statusCode) || budget.hops >= budget.maxRedirections) return;
    const target = location();
    if (target === undefined) return;
    const hop = redirectedOptions(this.options, statusCode, target);
    // Like undici's redirect handler: a hop that needs a body sent once already is handed back, not followed.
    if (hop === undefined || (hop.body !== null && !budget.replayable)) return;
    if (hop.origin !== this.settings.target.origin && !this.settings.passThrough) {
      this.state = 'refused';
      this.#nextHop = hop;
      return;
    }
    this.state = 'redirecting';
    this.#nextHop = hop;
  }

  /** After a 401: the token is invalidated and the request sent again with a fresh one, straight away. */
  protected retry(): void {
    const { cache } = this.settings.target;
    const successor = this.successor(this.options, {
      ...this.budget,
      retried: true,
      refusedToken: this.accessToken,
      resentFor: 'unauthorized',
    });
    cache
      .invalidate(this.accessToken ?? '')
      .then(() => cache.getToken({ signal: signalOf(this.options) }))
      .then((token) => successor.send(token.accessToken))
      .catch((error: unknown) => this.fail(error));
  }

  /** Once the redirect's body has ended: the next hop, under the origin rule again. */
  protected follow(): void {
    const hop = this.#nextHop!;
    const successor = this.successor(hop, {
      ...this.budget,
      hops: this.budget.hops + 1,
      replayable: isReplayable(hop.body),
      resentFor: 'redirect',
    });
    try {
      successor.start(hop.origin === this.settings.target.origin);
    } catch (error) {
      this.fail(error);
    }
  }

  /** The error for a redirect to another origin, which nothing was sent to. */
  protected refusal(): unknown {
    const hop = this.#nextHop!;
    const from = new URL(String(this.options.origin));
    const to = new URL(String(hop.origin));
    return foreignOriginError(this.settings.target, to.origin, redirectCause(from, this.statusCode, to));
  }

  /** The next attempt of the same request, speaking the same handler API. */
  protected abstract successor(options: DispatchOptions, budget: Budget): Attempt;

  protected send(accessToken: string | undefined): boolean {
    this.accessToken = accessToken;
    const options =
      accessToken === undefined ? { ...this.options, maxRedirections: 0 } : withHeaders(this.settings.target, this.options, accessToken);
    const { budget } = this;
    const resendCount = budget.hops + (budget.retried ? 1 : 0);
    if (resendCount === 0 || budget.resentFor === undefined) return this.next(options, this as unknown as Handler);
    const reason = budget.resentFor;
    return resend(
      () => resendMessageOf(this.settings.target, resendCount, reason),
      () => this.next(options, this as unknown as Handler),
    );
  }
}

/** For handlers of undici's current API (`onRequestStart`, `onResponseStart`, …): every interceptor's. */
class HandlerAttempt extends Attempt implements Handler {
  #controller: Controller | undefined;

  onRequestStart(controller: Controller, context: unknown): void {
    this.#controller = controller;
    this.handler.onRequestStart?.(controller, context);
  }

  onRequestUpgrade(controller: Controller, statusCode: number, headers: Record<string, HeaderValue | undefined>, socket: Duplex): void {
    this.handler.onRequestUpgrade?.(controller, statusCode, headers, socket);
  }

  onResponseStart(
    controller: Controller,
    statusCode: number,
    headers: Record<string, HeaderValue | undefined>,
    statusMessage?: string,
  ): void {
    this.statusCode = statusCode;
    if (mayDecide(statusCode)) this.decide(statusCode, () => firstValue(headers.location));
    if (this.state === 'forwarding') {
      this.handler.onResponseStart?.(controller, statusCode, headers, statusMessage);
      return;
    }
    if (this.state === 'redirecting') return;
    const refused = this.state === 'refused';
    controller.abort(new Error(refused ? 'redirect to another origin refused' : '401 answered: retrying with a fresh token'));
    if (refused) this.fail(this.refusal());
    else this.retry();
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    if (this.state === 'forwarding') this.handler.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Controller, trailers: Record<string, HeaderValue | undefined>): void {
    if (this.state === 'forwarding') this.handler.onResponseEnd?.(controller, trailers);
    else if (this.state === 'redirecting') this.follow();
  }

  onResponseError(controller: Controller, error: Error): void {
    // The attempts aborted here end in an error of their own making: the caller hears of the retry or the refusal.
    if (this.state === 'forwarding' || this.state === 'redirecting') this.handler.onResponseError?.(controller, error);
  }

  protected fail(error: unknown): void {
    this.handler.onResponseError?.(this.#controller ?? noController, error as Error);
  }

  protected successor(options: DispatchOptions, budget: Budget): Attempt {
    return new HandlerAttempt(this.settings, this.next, options, this.handler, budget);
  }
}

/**
 * For handlers of undici's legacy API (`onConnect`, `onHeaders`, …), which `undici.request` and `fetch` still hand a
 * dispatcher: answered in that API, so the response's raw headers reach them untouched.
 */
class LegacyAttempt extends Attempt {
  #abort: ((reason?: Error) => void) | undefined;

  onConnect(abort: (reason?: Error) => void, context?: unknown): void {
    this.#abort = abort;
    (this.handler.onConnect as ((abort: (reason?: Error) => void, context?: unknown) => void) | undefined)?.(abort, context);
  }

  onResponseStarted(): void {
    this.handler.onResponseStarted?.();
  }

  onUpgrade(statusCode: number, rawHeaders: Buffer[] | string[] | null, socket: Duplex): void {
    this.handler.onUpgrade?.(statusCode, rawHeaders, socket);
  }

  onBodySent(chunkSize: number, totalBytesSent: number): void {
    this.handler.onBodySent?.(chunkSize, totalBytesSent);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    this.statusCode = statusCode;
    if (mayDecide(statusCode)) this.decide(statusCode, () => rawLocation(rawHeaders));
    if (this.state === 'forwarding') return this.handler.onHeaders?.(statusCode, rawHeaders, resume, statusText) ?? true;
    if (this.state === 'redirecting') return true;
    const refused = this.state === 'refused';
    this.#abort?.(new Error(refused ? 'redirect to another origin refused' : '401 answered: retrying with a fresh token'));
    if (refused) this.fail(this.refusal());
    else this.retry();
    return true;
  }

  onData(chunk: Buffer): boolean {
    return this.state === 'forwarding' ? (this.handler.onData?.(chunk) ?? true) : true;
  }

  onComplete(trailers: string[] | null): void {
    if (this.state === 'forwarding') this.handler.onComplete?.(trailers);
    else if (this.state === 'redirecting') this.follow();
  }

  onError(error: Error): void {
    if (this.state === 'forwarding' || this.state === 'redirecting') this.handler.onError?.(error);
  }

  protected fail(error: unknown): void {
    this.handler.onError?.(error as Error);
  }

  protected successor(options: DispatchOptions, budget: Budget): Attempt {
    return new LegacyAttempt(this.settings, this.next, options, this.handler, budget);
  }
}

/** Stands in for the controller of a request that never started (a refusal or a failed token request). */
const noController = null as unknown as Controller;

/** Delivers `error` to a handler of either API, for a request that was never sent. */
function failWith(handler: Handler, error: unknown): true {
  if (typeof handler.onResponseError === 'function') handler.onResponseError(noController, error as Error);
  else handler.onError?.(error as Error);
  return true;
}

/** The `ForeignOriginError` for a request whose origin is not the target's, or `undefined` when it is. */
function refusalOf(target: AuthTarget, origin: DispatchOptions['origin']): unknown {
  if (origin === undefined || origin === null || origin === '') {
    // A Pool or Client dispatched directly sends to its own origin, which an interceptor cannot see.
    const cause = new TypeError('The dispatch options have no origin (a Pool or Client dispatched without one): set origin');
    return foreignOriginError(target, 'null', cause);
  }
  let parsed: string;
  try {
    parsed = new URL(String(origin)).origin;
  } catch {
    parsed = 'null';
  }
  return parsed === target.origin ? undefined : foreignOriginError(target, parsed);
}

/** Whether a response may be retried or followed: the common 2xx goes to the caller without a closure allocated. */
function mayDecide(statusCode: number): boolean {
  return statusCode === 401 || isRedirectStatus(statusCode);
}

function isRedirectLimit(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

/** `undici.request` passes its `signal` along in the dispatch options: it also ends the wait for a token. */
function signalOf(options: DispatchOptions): AbortSignal | undefined {
  const { signal } = options as { signal?: unknown };
  return signal instanceof AbortSignal ? signal : undefined;
}

/** Bodies undici sends the same way on every dispatch: none, a string, bytes. */
function isReplayable(body: DispatchOptions['body']): boolean {
  return body === undefined || body === null || typeof body === 'string' || ArrayBuffer.isView(body) || body instanceof ArrayBuffer;
}

/** Request headers undici's redirect handler drops when a hop goes to another origin. */
const credentialHeaders = new Set(['authorization', 'cookie', 'proxy-authorization']);

/**
 * The caller's options for the hop a redirect points at, as undici's redirect handler builds them: the method and
 * body changed as fetch changes them, `Host` dropped, `Content-*` dropped on a 303, credentials dropped on another
 * origin. `undefined` when `location` is no URL.
 */
function redirectedOptions(options: DispatchOptions, statusCode: number, location: string): DispatchOptions | undefined {
  let from: URL;
  let to: URL;
  try {
    from = new URL(options.path, String(options.origin));
    to = new URL(location, from);
  } catch {
    return undefined;
  }
  if (to.protocol !== 'http:' && to.protocol !== 'https:') return undefined;
  const dropsBody = redirectDropsBody(statusCode, options.method);
  const crossOrigin = to.origin !== from.origin;
  const headers: Record<string, HeaderValue> = {};
  forEachHeader(options.headers, (name, value) => {
    if (name === 'host' || (statusCode === 303 && name.startsWith('content-')) || (crossOrigin && credentialHeaders.has(name))) return;
    const existing = headers[name];
    headers[name] = existing === undefined ? value : [existing, value].flat();
  });
  return {
    ...options,
    origin: to.origin,
    path: `${to.pathname}${to.search}`,
    query: undefined,
    method: dropsBody ? 'GET' : options.method,
    body: dropsBody ? null : (options.body ?? null),
    headers,
  };
}

function firstValue(value: HeaderValue | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The `Location` of raw response headers (`[name, value, …]` as buffers). */
function rawLocation(rawHeaders: ReadonlyArray<Buffer | string>): string | undefined {
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    const name = rawHeaders[index]!;
    if (name.length === 8 && name.toString().toLowerCase() === 'location') return rawHeaders[index + 1]!.toString();
  }
  return undefined;
}

/** Calls `visit` with each of the caller's headers, names in lower case, whatever shape undici accepts them in. */
function forEachHeader(headers: DispatchOptions['headers'], visit: (name: string, value: HeaderValue) => void): void {
  if (headers === undefined || headers === null) return;
  const add = (name: unknown, value: unknown): void => {
    if (value !== undefined) visit(String(name).toLowerCase(), value as HeaderValue);
  };
  if (Array.isArray(headers)) {
    // undici's flat form: [name, value, name, value, …]
    for (let index = 0; index + 1 < headers.length; index += 2) add(headers[index], headers[index + 1]);
  } else if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const [name, value] of headers as Iterable<[string, HeaderValue | undefined]>) add(name, value);
  } else {
    for (const [name, value] of Object.entries(headers as Record<string, HeaderValue | undefined>)) add(name, value);
  }
}

/**
 * The caller's options with the provider's API headers (the caller's own win), our `Authorization`, and
 * `maxRedirections: 0` for everything below.
 */
function withHeaders(target: AuthTarget, options: DispatchOptions, accessToken: string): DispatchOptions {
  const headers: Record<string, HeaderValue> = {};
  for (const [name, value] of target.apiHeaders) headers[name] = value;
  let fromCaller: Set<string> | undefined;
  // The caller's value replaces the provider's; a name the caller repeats keeps every value.
  forEachHeader(options.headers, (name, value) => {
    fromCaller ??= new Set();
    headers[name] = fromCaller.has(name) ? [headers[name] ?? [], value].flat() : value;
    fromCaller.add(name);
  });
  headers.authorization = target.staticAuthorization?.() ?? `Bearer ${accessToken}`;
  return { ...options, headers, maxRedirections: 0 } as DispatchOptions;
}
