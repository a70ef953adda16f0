import { runUndiciInterceptor } from './undici-interceptor.js';

await runUndiciInterceptor();
