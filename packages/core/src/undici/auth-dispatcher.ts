import { Agent, Dispatcher } from 'undici';
import type { TokenCache } from '../token-cache.js';
import type { TokenProvider } from '../token-provider.js';
import { type AuthDispatchSettings, authDispatch, createAuthDispatchSettings } from './auth-dispatch.js';
import type { AuthInterceptorOptions } from './auth-interceptor.js';

/** Options of {@link createAuthDispatcher}: the interceptor's, and the dispatcher requests go through. */
export interface AuthDispatcherOptions extends AuthInterceptorOptions {
  /**
   * The dispatcher authenticated requests go through (an `Agent`, a `Pool` for the provider's origin, or one composed
   * with other interceptors). `close()` and `destroy()` close it.
   * @default a new `Agent`
   */
  dispatcher?: Dispatcher | undefined;
}

/**
 * An undici 7 dispatcher doing what {@link createAuthInterceptor} does (the same origin rule, 401 retry and redirect
 * rule), without undici's `compose`: pass it as `dispatcher` to `undici.request`, `fetch`, `stream`, or set it as
 * the global dispatcher. `compose` wraps the dispatcher in a `Proxy` and converts every response's headers between
 * undici's two handler APIs and back, which costs 7 to 14 % of the throughput of a small request; this dispatcher
 * hands each handler the API it speaks. Use the interceptor where you compose other interceptors anyway.
 *
 * @example
 * import { request } from 'undici';
 * const dispatcher = createAuthDispatcher(provider);
 * await request(new URL('/payments/imp_1', provider.baseUrl), { dispatcher });
 * await dispatcher.close();
 *
 * @throws {@link "@x/core".ConfigurationError | ConfigurationError} as {@link createAuthInterceptor} does. Requests
 * fail as through the interceptor.
 */
export function createAuthDispatcher(providerOrCache: TokenProvider | TokenCache, options: AuthDispatcherOptions = {}): Dispatcher {
  return new AuthDispatcher(createAuthDispatchSettings(providerOrCache, options), options.dispatcher ?? new Agent());
}

/** Extends undici's `Dispatcher` for its `request`, `stream`, `pipeline`, `connect`, `upgrade` and `compose`. */
class AuthDispatcher extends Dispatcher {
  readonly #settings: AuthDispatchSettings;
  readonly #dispatcher: Dispatcher;
  readonly #dispatch: Dispatcher.Dispatch;

  constructor(settings: AuthDispatchSettings, dispatcher: Dispatcher) {
    super();
    this.#settings = settings;
    this.#dispatcher = dispatcher;
    this.#dispatch = dispatcher.dispatch.bind(dispatcher);
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    return authDispatch(this.#settings, this.#dispatch, options, handler);
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    return callback === undefined ? this.#dispatcher.close() : this.#dispatcher.close(callback);
  }

  override destroy(): Promise<void>;
  override destroy(error: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(error: Error | null, callback: () => void): void;
  override destroy(errorOrCallback?: Error | null | (() => void), callback?: () => void): Promise<void> | void {
    if (typeof errorOrCallback === 'function') return this.#dispatcher.destroy(errorOrCallback);
    return callback === undefined
      ? this.#dispatcher.destroy(errorOrCallback ?? null)
      : this.#dispatcher.destroy(errorOrCallback ?? null, callback);
  }
}
