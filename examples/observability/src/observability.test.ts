import { containsCanary } from '@x/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { type ObservabilityService, runObservability, startObservability } from './observability.js';

let service: ObservabilityService | undefined;
afterEach(async () => {
  await service?.close();
  service = undefined;
});

/** GETs `path` over HTTP, as Prometheus and a load balancer's probe do. */
async function get(path: string): Promise<{ status: number; type: string | null; text: string }> {
  const response = await fetch(`${service!.url}${path}`);
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
}

describe('observability example', () => {
  it('should serve the token metrics for Prometheus and a readiness that follows the merchants', async () => {
    service = await startObservability();
    const cold = await get('/healthz');
    expect(cold.status).toBe(503);
    expect(JSON.parse(cold.text)).toMatchObject({
      ready: false,
      merchants: [
        { merchants: ['shop-seoul'], state: 'cold', ready: false },
        { merchants: ['shop-busan'], state: 'cold', ready: false },
        { merchants: ['shop-jeju'], state: 'cold', ready: false },
      ],
    });

    expect(await service.load(600)).toEqual({ 200: 600 });
    const ready = await get('/healthz');
    expect(ready).toMatchObject({ status: 200, type: 'application/json' });
    expect(JSON.parse(ready.text)).toMatchObject({
      ready: true,
      merchants: [
        { merchants: ['shop-seoul', 'shop-busan'], provider: 'iamport', sharedBy: 2, state: 'fresh', ready: true },
        { merchants: ['shop-jeju'], provider: 'iamport', sharedBy: 1, state: 'fresh', ready: true },
      ],
    });
    const metrics = await get('/metrics');
    expect(metrics.status).toBe(200);
    // Two token requests for three merchants: the two on the platform's account share one token.
    expect(metrics.text).toMatch(/^x_token_requests_total\{x_provider="iamport",x_token_reason="initial"[^}]*\} 2$/m);
    expect(metrics.text).toMatch(/^x_token_request_duration_count\{x_provider="iamport",x_token_reason="initial"[^}]*\} 2$/m);
    expect(metrics.text).not.toMatch(/shop-|merchant/);

    service.revokeJeju();
    expect(await service.load(300)).toEqual({ 200: 200, X_TOKEN_REQUEST_FAILED: 100 });
    const unready = await get('/healthz');
    expect(unready.status).toBe(503);
    expect(JSON.parse(unready.text).merchants[1]).toEqual({
      merchants: ['shop-jeju'],
      provider: 'iamport',
      sharedBy: 1,
      state: 'cooling-down',
      requesting: false,
      retryInMs: expect.any(Number),
      lastError: { code: 'X_TOKEN_REQUEST_FAILED', reason: 'rejected', status: 401 },
      ready: false,
    });
    const after = await get('/metrics');
    expect(after.text).toMatch(
      /^x_token_requests_total\{x_provider="iamport",x_token_reason="invalidated",error_type="X_TOKEN_REQUEST_FAILED"[^}]*\} 1$/m,
    );
    // The emulator's secrets and tokens hold the canary mark: neither endpoint may show one.
    expect(containsCanary(ready.text + unready.text + metrics.text + after.text)).toBe(false);
  });

  it('should print the scenes with no secret and no token', async () => {
    const lines: string[] = [];
    await runObservability((line) => lines.push(line));
    expect(lines.slice(1)).toEqual([
      'before any call: /healthz -> 503 (shop-seoul cold, shop-busan cold, shop-jeju cold)',
      '1,500 payment lookups: 1500 × 200',
      '  /healthz -> 200 (shop-seoul+shop-busan fresh, shop-jeju fresh)',
      '  /metrics -> x_token_requests_total {x_provider="iamport",x_token_reason="initial"} 2',
      "the gateway revokes shop-jeju's secret and token; 300 more lookups: 200 × 200, 100 × X_TOKEN_REQUEST_FAILED",
      '  /healthz -> 503 (shop-seoul+shop-busan fresh, shop-jeju cooling-down)',
      '  /metrics -> x_token_requests_total {x_provider="iamport",x_token_reason="initial"} 2, {x_provider="iamport",x_token_reason="invalidated",error_type="X_TOKEN_REQUEST_FAILED"} 1',
    ]);
    expect(lines.filter((line) => containsCanary(line))).toEqual([]);
  });
});
