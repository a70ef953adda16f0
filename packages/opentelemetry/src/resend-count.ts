import { type Attributes, type Context, context } from '@opentelemetry/api';
import { attributeNames } from './token-telemetry-names.js';

/**
 * The context key of the resend count in force while the bearer fetch or the interceptor sends a call again. Under a
 * `Symbol.for` key, so two copies of this package (one instrumenting, one in a hook) read the same value.
 */
const resendCountKey = Symbol.for('@x/opentelemetry.resend-count');

/** `parent` with `resendCount` in it: the context the resent call's HTTP client span starts in. */
export function withResendCount(parent: Context, resendCount: number): Context {
  return parent.setValue(resendCountKey, resendCount);
}

/**
 * Attributes for an HTTP client span: `http.request.resend_count` when the active context belongs to an API call that
 * the bearer fetch or the undici interceptor sends again (after a 401 with a fresh token, or to follow a same-origin
 * redirect), else none. Pass it as the `startSpanHook` of `@opentelemetry/instrumentation-undici` (or the
 * `startOutgoingSpanHook` of `@opentelemetry/instrumentation-http`): those instrumentations start their span where the
 * request is created, inside the context {@link instrumentTokens} gives the resent call. Without an active
 * `instrumentTokens`, it returns no attribute.
 *
 * @example
 * new UndiciInstrumentation({ startSpanHook: resendCountAttributes });
 */
export function resendCountAttributes(): Attributes {
  const resendCount = context.active().getValue(resendCountKey);
  return typeof resendCount === 'number' ? { [attributeNames.resendCount]: resendCount } : {};
}
