/** The instrumentation scope of every meter and tracer this package asks for. */
export const instrumentationScope = '@x/opentelemetry';

/** Metric names, as the README's table lists them. */
export const metricNames = {
  requests: 'x.token.requests',
  requestDuration: 'x.token.request.duration',
  servedStale: 'x.token.served_stale',
  storeErrors: 'x.token.store.errors',
  lockWaitDuration: 'x.token.lock.wait.duration',
} as const;

/** The span around each token request. */
export const tokenRequestSpanName = 'x.token.request';

/**
 * Attribute names. Metrics carry only the low-cardinality ones (provider, reason, error type, store operation, lock outcome): a
 * registry of 100,000 merchants must not make 100,000 time series. Merchant ids and cache keys go on spans only.
 */
export const attributeNames = {
  provider: 'x.provider',
  reason: 'x.token.reason',
  errorType: 'error.type',
  storeOperation: 'x.store.operation',
  lockReceived: 'x.token.lock.received',
  lockTaken: 'x.token.lock.taken',
  cacheKey: 'x.token.cache_key',
  merchantIds: 'x.merchant.ids',
  resendCount: 'http.request.resend_count',
} as const;

/**
 * The HTTP semantic conventions' boundaries for `http.client.request.duration`, in seconds: token requests are HTTP
 * requests, and the same buckets let the two histograms be read side by side.
 */
export const durationBuckets = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
