/**
 * Bearer tokens on every request of an undici 7 dispatcher: an interceptor to compose with others, or a dispatcher of
 * its own without `compose`'s cost. Needs `undici`, an optional peer dependency.
 *
 * @module \@x/core/undici
 */
export type { AuthDispatcherOptions } from './auth-dispatcher.js';
export { createAuthDispatcher } from './auth-dispatcher.js';
export type { AuthInterceptorOptions } from './auth-interceptor.js';
export { createAuthInterceptor } from './auth-interceptor.js';
