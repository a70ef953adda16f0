import { durationProblem } from './cache-policy.js';
import { ConfigurationError, type ConfigurationIssue } from './errors.js';
import type { MerchantHealth } from './merchant-health.js';
import type { MerchantRegistry } from './merchant-registry.js';
import { servesToken } from './token-cache-health.js';

/** Options of {@link checkReadiness}. */
export interface ReadinessOptions {
  /** The merchants the service cannot work without: it is ready only when each has a token to hand out. */
  merchants: readonly string[];
  /** A token with less time left than this counts as none. @default 0 */
  minValidityMs?: number | undefined;
}

/** One entry of {@link MerchantRegistry.health} with the verdict on it. */
export type ReadinessEntry = MerchantHealth & {
  /** Whether the cache hands out a token with at least `minValidityMs` left. */
  readonly ready: boolean;
};

/** The JSON body of a readiness answer: the verdict, and the health of each chosen merchant's cache. */
export interface ReadinessBody {
  /** Whether every chosen merchant has a token to hand out. */
  readonly ready: boolean;
  /** The chosen merchants, one entry per token cache (merchants sharing credentials share one). */
  readonly merchants: readonly ReadinessEntry[];
}

/** What a health endpoint answers: its status code and its JSON body. */
export interface Readiness {
  /** Whether every chosen merchant has a token to hand out. */
  readonly ready: boolean;
  /** 200 when ready, 503 when not: what load balancers and Kubernetes probes read. */
  readonly status: 200 | 503;
  /** What to send as JSON: the verdict and each chosen merchant's state; never a token or a secret. */
  readonly body: ReadinessBody;
}

/**
 * A readiness answer for an HTTP health endpoint: ready (200) when every chosen merchant has a token the registry
 * hands out at once (`fresh`, `refreshing`, or `serving-stale` while the gateway fails), unready (503) when one has
 * none (`cold`, `failing`, `cooling-down`, `unknown`) or less than `minValidityMs` left. Reads
 * {@link MerchantRegistry.health} only: it sends no token request, so warm the merchants at start
 * (`await registry.warm(merchants)`), and keep a merchant with little traffic warm, since a token is refreshed only
 * when it is used. The body names merchants and error codes: serve it where merchant ids may be seen.
 *
 * @example
 * createServer((request, response) => {
 *   if (request.url !== '/healthz') return;
 *   const { status, body } = checkReadiness(registry, { merchants: ['shop-kr', 'shop-no'] });
 *   response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
 * });
 *
 * @throws {@link ConfigurationError} when `merchants` is not an array, or `minValidityMs` not a duration.
 */
export function checkReadiness(registry: Pick<MerchantRegistry, 'health'>, options: ReadinessOptions): Readiness {
  const issues: ConfigurationIssue[] = [];
  if (!Array.isArray(options?.merchants)) issues.push({ path: 'merchants', message: 'must be an array of merchant ids' });
  const minValidityMs = options?.minValidityMs ?? 0;
  const problem = durationProblem(minValidityMs);
  if (problem !== undefined) issues.push({ path: 'minValidityMs', message: problem });
  if (issues.length > 0) throw new ConfigurationError({ issues });

  const merchants = registry.health(options.merchants).map(
    (entry): ReadinessEntry => ({
      ...entry,
      ready: servesToken(entry.state) && entry.expiresInMs !== undefined && entry.expiresInMs >= minValidityMs,
    }),
  );
  const ready = merchants.every((entry) => entry.ready);
  return { ready, status: ready ? 200 : 503, body: { ready, merchants } };
}
