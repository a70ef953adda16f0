export { createAuthInterceptor } from './auth-interceptor.js';
export type { AuthInterceptorOptions } from './auth-interceptor.js';
