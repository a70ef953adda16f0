/**
 * OpenTelemetry metrics and spans for the `@x` token layer, from the diagnostics channels every `@x/core` cache
 * publishes on: {@link instrumentTokens} subscribes (and returns the function that unsubscribes), and
 * {@link resendCountAttributes} marks the HTTP client span of an API call sent again with `http.request.resend_count`.
 * Depends on `@opentelemetry/api` only (a peer dependency): bring the SDK of your choice.
 *
 * @example
 * import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
 * import { registerInstrumentations } from '@opentelemetry/instrumentation';
 * import { instrumentTokens, resendCountAttributes } from '@x/opentelemetry';
 *
 * // After the SDK (its tracer and meter providers, and a context manager) is set up:
 * registerInstrumentations({ instrumentations: [new UndiciInstrumentation({ startSpanHook: resendCountAttributes })] });
 * const stop = instrumentTokens();
 *
 * @module \@x/opentelemetry
 */
export type { InstrumentTokensOptions } from './instrument-tokens.js';
export { instrumentTokens } from './instrument-tokens.js';
export { resendCountAttributes } from './resend-count.js';
