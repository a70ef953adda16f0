/**
 * Observability: a registry of merchants under load, its token metrics exported for Prometheus on `/metrics` (the
 * OpenTelemetry SDK, with `instrumentTokens` from `@x/opentelemetry`) and its readiness on `/healthz`
 * (`checkReadiness` from `@x/core`). Runs against the local i'mport emulator, so it needs no account and no network.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { checkReadiness, createMerchantRegistry, isAuthError, type MerchantRegistry } from '@x/core';
import { createIamportProvider } from '@x/iamport';
import { createIamportEmulator, type IamportEmulator } from '@x/iamport/testing';
import { instrumentTokens } from '@x/opentelemetry';

/** Two i'mport accounts. The platform's serves two merchants, which share its token. */
const accounts = {
  platform: { impKey: 'imp_platform', impSecret: `example-secret-xcanary-${randomBytes(16).toString('hex')}` },
  jeju: { impKey: 'imp_jeju', impSecret: `example-secret-xcanary-${randomBytes(16).toString('hex')}` },
};

/** The merchants `/healthz` answers for: the service is ready only when each has a token to hand out. */
export const criticalMerchants = ['shop-seoul', 'shop-busan', 'shop-jeju'] as const;

/** Options of {@link startObservability}. */
export interface ObservabilityOptions {
  /** The port of `/metrics` and `/healthz` on 127.0.0.1. @default 0 (a free one) */
  port?: number | undefined;
  /** API calls made at once by {@link ObservabilityService.load}. @default 32 */
  concurrency?: number | undefined;
}

/** The running service: the registry, its emulator, and the endpoints. */
export interface ObservabilityService {
  /** `http://127.0.0.1:port`: `GET /metrics` (Prometheus text) and `GET /healthz` (200 or 503, JSON). */
  readonly url: string;
  readonly registry: MerchantRegistry;
  readonly emulator: IamportEmulator;
  /** Makes `calls` payment lookups spread over the merchants; resolves how many got each status or error code. */
  load(calls: number): Promise<Record<string, number>>;
  /** The gateway revokes the Jeju merchant's secret and its token, as after a leak: its calls are rejected. */
  revokeJeju(): void;
  close(): Promise<void>;
}

/** Starts the emulator, the registry, the metrics pipeline and the endpoints. */
export async function startObservability(options: ObservabilityOptions = {}): Promise<ObservabilityService> {
  const concurrency = options.concurrency ?? 32;
  // Tokens marked `xcanary`, like the secrets, so the repository's leak tests find one that is printed or exported.
  const emulator = await createIamportEmulator({ merchants: Object.values(accounts), tokenFormat: 'canary' });
  const gateway = { provider: 'iamport', baseUrl: emulator.url };
  const registry = createMerchantRegistry({
    providers: { iamport: createIamportProvider },
    merchants: {
      'shop-seoul': { ...gateway, ...accounts.platform },
      'shop-busan': { ...gateway, ...accounts.platform },
      'shop-jeju': { ...gateway, ...accounts.jeju },
    },
  });

  // The OpenTelemetry SDK's Prometheus exporter, served by this service's own server rather than one of its own.
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const meterProvider = new MeterProvider({ readers: [exporter] });
  const stopTelemetry = instrumentTokens({ meterProvider });

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    if (request.method === 'GET' && request.url === '/metrics') {
      exporter.getMetricsRequestHandler(request, response);
      return;
    }
    if (request.method === 'GET' && request.url === '/healthz') {
      const { status, body } = checkReadiness(registry, { merchants: criticalMerchants, minValidityMs: 30_000 });
      response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
      return;
    }
    response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  let lookups = 0;
  return {
    url: `http://127.0.0.1:${port}`,
    registry,
    emulator,
    async load(calls) {
      const outcomes: Record<string, number> = {};
      const count = (outcome: string): void => {
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      };
      let next = 0;
      const worker = async (): Promise<void> => {
        for (let index = next++; index < calls; index = next++) {
          const merchant = criticalMerchants[index % criticalMerchants.length]!;
          lookups += 1;
          try {
            const response = await registry.fetch(merchant)(`/payments/imp_${String(lookups).padStart(12, '0')}`);
            await response.arrayBuffer();
            count(String(response.status));
          } catch (error) {
            count(isAuthError(error) ? error.code : 'unexpected');
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, calls) }, worker));
      return outcomes;
    },
    revokeJeju() {
      emulator.revokeSecret(accounts.jeju.impKey, accounts.jeju.impSecret);
      const token = emulator.currentToken(accounts.jeju.impKey);
      if (token !== undefined) emulator.revoke(token.accessToken);
    },
    async close() {
      await new Promise<void>((resolve, reject) => server.close((error) => (error === undefined ? resolve() : reject(error))));
      stopTelemetry();
      await meterProvider.shutdown();
      await registry.close();
      await emulator.close();
    },
  };
}

/** What one scrape of the service showed: the readiness status and states, and the token request counters. */
export interface Scrape {
  healthz: { status: number; states: Record<string, string> };
  /** `x_token_requests_total` samples, by their labels (`x_provider="iamport",x_token_reason="initial"`). */
  tokenRequests: Record<string, number>;
}

/** Scrapes `/healthz` and `/metrics` over HTTP, as a load balancer and Prometheus would. */
export async function scrape(url: string): Promise<Scrape> {
  const health = await fetch(`${url}/healthz`);
  const body = (await health.json()) as { merchants: Array<{ merchants: string[]; state: string }> };
  const states: Record<string, string> = {};
  for (const entry of body.merchants) states[entry.merchants.join('+')] = entry.state;
  const metrics = await (await fetch(`${url}/metrics`)).text();
  const tokenRequests: Record<string, number> = {};
  for (const [, labels, value] of metrics.matchAll(/^x_token_requests_total\{([^}]*)\} (\S+)/gm)) {
    tokenRequests[labels!.replace(/,?otel_scope_[a-z_]+="[^"]*"/g, '').replace(/^,/, '')] = Number(value);
  }
  return { healthz: { status: health.status, states }, tokenRequests };
}

/** Runs the example: load, a scrape, the Jeju merchant revoked at the gateway, load and a scrape again. */
export async function runObservability(log: (line: string) => void = console.log): Promise<void> {
  const service = await startObservability();
  try {
    log(`metrics on ${service.url}/metrics, readiness on ${service.url}/healthz`);
    log(`before any call: /healthz -> ${describe(await scrape(service.url))}`);
    log(`1,500 payment lookups: ${describeOutcomes(await service.load(1_500))}`);
    const warm = await scrape(service.url);
    log(`  /healthz -> ${describe(warm)}`);
    log(`  /metrics -> ${describeRequests(warm)}`);

    service.revokeJeju();
    log(`the gateway revokes shop-jeju's secret and token; 300 more lookups: ${describeOutcomes(await service.load(300))}`);
    const revoked = await scrape(service.url);
    log(`  /healthz -> ${describe(revoked)}`);
    log(`  /metrics -> ${describeRequests(revoked)}`);
  } finally {
    await service.close();
  }
}

function describe({ healthz }: Scrape): string {
  const states = Object.entries(healthz.states).map(([merchants, state]) => `${merchants} ${state}`);
  return `${healthz.status} (${states.join(', ')})`;
}

function describeOutcomes(outcomes: Record<string, number>): string {
  return Object.entries(outcomes)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([outcome, count]) => `${count} × ${outcome}`)
    .join(', ');
}

function describeRequests({ tokenRequests }: Scrape): string {
  const samples = Object.entries(tokenRequests).sort(([a], [b]) => a.localeCompare(b));
  return `x_token_requests_total ${samples.map(([labels, value]) => `{${labels}} ${value}`).join(', ')}`;
}
