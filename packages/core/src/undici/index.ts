export type { AuthInterceptorOptions } from './auth-interceptor.js';
export { createAuthInterceptor } from './auth-interceptor.js';
