/**
 * The real OpenTelemetry SDK for this package's tests: an AsyncLocalStorage context manager, a tracer provider and a
 * meter provider exporting to memory, and `@opentelemetry/instrumentation-undici` on that tracer provider with
 * {@link resendCountAttributes} as its `startSpanHook`, as an application would set them up.
 */
import { type Attributes, context, SpanKind } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  type MetricData,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { resendCountAttributes } from '../src/index.js';

export interface Telemetry {
  readonly tracerProvider: BasicTracerProvider;
  readonly meterProvider: MeterProvider;
  /** The spans ended so far. */
  spans(): ReadableSpan[];
  /** Every metric collected now, by name. */
  metrics(): Promise<Map<string, MetricData>>;
  shutdown(): Promise<void>;
}

export function startTelemetry(): Telemetry {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const spanExporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spanExporter)] });
  // Collected on demand (`metrics()`), never on its interval.
  const reader = new PeriodicExportingMetricReader({
    exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
    exportIntervalMillis: 3_600_000,
  });
  const meterProvider = new MeterProvider({ readers: [reader] });
  const undici = new UndiciInstrumentation({ startSpanHook: resendCountAttributes });
  undici.setTracerProvider(tracerProvider);
  undici.enable();
  return {
    tracerProvider,
    meterProvider,
    spans: () => spanExporter.getFinishedSpans(),
    metrics: async () => {
      const { resourceMetrics } = await reader.collect();
      return new Map(resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics).map((metric) => [metric.descriptor.name, metric]));
    },
    shutdown: async () => {
      undici.disable();
      await Promise.all([tracerProvider.shutdown(), meterProvider.shutdown()]);
      context.disable();
    },
  };
}

/** A metric's points as `[attributes, value]`: the sum of a counter, the count of a histogram. */
export function pointsOf(metric: MetricData | undefined): [Attributes, number][] {
  if (metric === undefined) return [];
  return metric.dataPoints.map((point) => [
    point.attributes,
    metric.dataPointType === DataPointType.HISTOGRAM ? (point.value as { count: number }).count : (point.value as number),
  ]);
}

export function spansNamed(telemetry: Telemetry, name: string): ReadableSpan[] {
  return telemetry.spans().filter((span) => span.name === name);
}

/** The HTTP client spans undici's instrumentation ended for `path`, in order. */
export function httpSpans(telemetry: Telemetry, path: string): ReadableSpan[] {
  return telemetry.spans().filter((span) => span.kind === SpanKind.CLIENT && span.attributes['url.path'] === path);
}
