/**
 * An undici 7 interceptor that puts the bearer token on every request of a dispatcher. Needs `undici`, an optional
 * peer dependency.
 *
 * @module \@x/core/undici
 */
export type { AuthInterceptorOptions } from './auth-interceptor.js';
export { createAuthInterceptor } from './auth-interceptor.js';
