import type { AsyncLocalStorage } from 'node:async_hooks';
import {
  type Attributes,
  type Context,
  context,
  type Meter,
  type MeterProvider,
  metrics,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TracerProvider,
  trace,
  ValueType,
} from '@opentelemetry/api';
import {
  type ApiResendMessage,
  apiResendChannelName,
  type TokenEventMessage,
  type TokenRequestMessage,
  tokenEventChannelName,
  tokenRequestChannelName,
} from '@x/core';
import { withResendCount } from './resend-count.js';
import { attributeNames, durationBuckets, instrumentationScope, metricNames, tokenRequestSpanName } from './token-telemetry-names.js';

/** Options of {@link instrumentTokens}. */
export interface InstrumentTokensOptions {
  /** Where the metrics go. @default the global meter provider when `instrumentTokens` is called (`metrics.getMeterProvider()`) */
  meterProvider?: MeterProvider | undefined;
  /** Where the spans go. @default the global tracer provider (`trace.getTracerProvider()`), whenever it is registered */
  tracerProvider?: TracerProvider | undefined;
}

/**
 * Turns what every `@x` token cache publishes on `node:diagnostics_channel` into OpenTelemetry metrics and spans, and
 * returns a function that stops it. Metrics: `x.token.requests`, `x.token.request.duration`, `x.token.served_stale`,
 * `x.token.store.errors`, `x.token.lock.wait.duration`, with the provider and never a merchant id or a cache key.
 * Spans: an INTERNAL `x.token.request` around each token request, active while the provider's `fetch` runs, so the
 * HTTP client span of `@opentelemetry/instrumentation-undici` is its child. An API call sent again gets the context
 * {@link resendCountAttributes} reads. Nothing holds a token or a secret. Call it once, after the SDK is set up.
 * Where the runtime has no `node:diagnostics_channel` (reached through `process.getBuiltinModule`), it records nothing.
 *
 * @example
 * const stop = instrumentTokens();
 * // … on shutdown:
 * stop();
 */
export function instrumentTokens(options: InstrumentTokensOptions = {}): () => void {
  const diagnostics = diagnosticsChannel();
  if (diagnostics === undefined) return noop;
  const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(instrumentationScope);
  const tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(instrumentationScope);
  const instruments = createInstruments(meter);
  const inFlight = new WeakMap<TokenRequestMessage, { readonly span: Span; readonly started: number }>();

  /** Starts the request's span, in the caller's context; returns the context the request runs in. */
  const begin = (message: TokenRequestMessage): Context => {
    const parent = context.active();
    const span = tracer.startSpan(
      tokenRequestSpanName,
      {
        kind: SpanKind.INTERNAL,
        attributes: {
          [attributeNames.provider]: message.provider,
          [attributeNames.reason]: message.reason,
          [attributeNames.cacheKey]: message.cacheKey,
          [attributeNames.merchantIds]: [...message.merchants],
        },
      },
      parent,
    );
    inFlight.set(message, { span, started: performance.now() });
    return trace.setSpan(parent, span);
  };

  const finish = (message: TokenRequestMessage): void => {
    const request = inFlight.get(message);
    if (request === undefined) return;
    inFlight.delete(message);
    const attributes: Attributes = { [attributeNames.provider]: message.provider, [attributeNames.reason]: message.reason };
    const { error } = message;
    if (error !== undefined) {
      const errorType = errorTypeOf(error);
      attributes[attributeNames.errorType] = errorType;
      request.span.setAttribute(attributeNames.errorType, errorType);
      // An AuthError's message names the provider and what failed, never a secret.
      request.span.setStatus({ code: SpanStatusCode.ERROR, message: (error as { message?: unknown }).message as string | undefined });
    }
    instruments.requests.add(1, attributes);
    instruments.requestDuration.record((performance.now() - request.started) / 1000, attributes);
    request.span.end();
  };

  const onEvent = (message: unknown): void => {
    const event = message as TokenEventMessage;
    const provider = { [attributeNames.provider]: event.provider };
    switch (event.type) {
      case 'token-served-stale':
        instruments.servedStale.add(1, provider);
        break;
      case 'store-error':
        instruments.storeErrors.add(1, { ...provider, [attributeNames.storeOperation]: event.operation });
        break;
      case 'lock-waited':
        instruments.lockWaitDuration.record(event.waitedMs / 1000, {
          ...provider,
          [attributeNames.lockReceived]: event.received,
          // The holder left without a token (it failed, or died and its lease ran out) and this process asked instead.
          [attributeNames.lockTaken]: event.lockTaken === true,
        });
        break;
      default:
        break;
    }
  };

  const requests = diagnostics.tracingChannel(tokenRequestChannelName);
  const resends = diagnostics.channel(apiResendChannelName);
  // bindStore takes anything with AsyncLocalStorage's `run`: OpenTelemetry's context manager, through its public API,
  // rather than the AsyncLocalStorage it keeps private. The request (or the resent call) runs in the context returned.
  const contextStore = { run: <T>(value: Context, fn: () => T): T => context.with(value, fn) } as unknown as AsyncLocalStorage<Context>;
  const subscribers = {
    start: guarded((message: unknown) => {
      // Where bindStore ran (Node), the span is already started; a runtime without it still gets one.
      if (!inFlight.has(message as TokenRequestMessage)) begin(message as TokenRequestMessage);
    }),
    end: noop,
    asyncStart: noop,
    asyncEnd: guarded((message: unknown) => finish(message as TokenRequestMessage)),
    error: noop,
  };
  const guardedEvent = guarded(onEvent);

  // A runtime without bindStore still gets the spans and metrics, without the context in the provider's fetch.
  const bindsStores = typeof requests.start.bindStore === 'function' && typeof resends.bindStore === 'function';
  if (bindsStores) {
    requests.start.bindStore(contextStore, (message) => guardedContext(() => begin(message as TokenRequestMessage)));
    resends.bindStore(contextStore, (message) =>
      guardedContext(() => withResendCount(context.active(), (message as ApiResendMessage).resendCount)),
    );
  }
  requests.subscribe(subscribers);
  diagnostics.subscribe(tokenEventChannelName, guardedEvent);

  let subscribed = true;
  return function uninstrumentTokens(): void {
    if (!subscribed) return;
    subscribed = false;
    if (bindsStores) {
      requests.start.unbindStore(contextStore);
      resends.unbindStore(contextStore);
    }
    requests.unsubscribe(subscribers);
    diagnostics.unsubscribe(tokenEventChannelName, guardedEvent);
  };
}

type DiagnosticsChannel = typeof import('node:diagnostics_channel');

/**
 * `node:diagnostics_channel` where the runtime has it, reached as `@x/core` reaches it (never imported, so this entry
 * loads on runtimes without Node's modules), else `undefined`.
 */
function diagnosticsChannel(): DiagnosticsChannel | undefined {
  try {
    const host = globalThis as { process?: { getBuiltinModule?: (name: string) => unknown } };
    const candidate = host.process?.getBuiltinModule?.('node:diagnostics_channel') as Partial<DiagnosticsChannel> | undefined;
    return typeof candidate?.tracingChannel === 'function' && typeof candidate.subscribe === 'function'
      ? (candidate as DiagnosticsChannel)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The five instruments, created once per call of {@link instrumentTokens}. */
function createInstruments(meter: Meter) {
  const advice = { explicitBucketBoundaries: durationBuckets };
  return {
    requests: meter.createCounter(metricNames.requests, {
      description: 'Token requests sent to the gateways, by provider, reason and error type (on failure)',
      unit: '{request}',
    }),
    requestDuration: meter.createHistogram(metricNames.requestDuration, {
      description: 'How long token requests took, from asking the provider to its token or error',
      unit: 's',
      valueType: ValueType.DOUBLE,
      advice,
    }),
    servedStale: meter.createCounter(metricNames.servedStale, {
      description: 'Refreshes that failed while the current token, still valid, kept being served',
      unit: '{refresh}',
    }),
    storeErrors: meter.createCounter(metricNames.storeErrors, {
      description: 'Token store calls that failed, timed out or returned a value that is not a valid token',
      unit: '{error}',
    }),
    lockWaitDuration: meter.createHistogram(metricNames.lockWaitDuration, {
      description: "How long a process waited for another holder of the store's lock to bring its token",
      unit: 's',
      valueType: ValueType.DOUBLE,
      advice,
    }),
  };
}

/** The error's stable `code` (every `AuthError` has one), else its class name. */
function errorTypeOf(error: unknown): string {
  const { code, name } = (error ?? {}) as { code?: unknown; name?: unknown };
  if (typeof code === 'string' && code !== '') return code;
  return typeof name === 'string' && name !== '' ? name : '_OTHER';
}

/**
 * `handler`, never throwing: Node reports a subscriber's exception as uncaught, which would take the process down for
 * a metric.
 */
function guarded(handler: (message: unknown) => void): (message: unknown) => void {
  return (message) => {
    try {
      handler(message);
    } catch {
      // Telemetry must not break authentication.
    }
  };
}

/** The context `make` gives, or the active one if it throws (a store's transform must not throw either). */
function guardedContext(make: () => Context): Context {
  try {
    return make();
  } catch {
    return context.active();
  }
}

function noop(): void {}
