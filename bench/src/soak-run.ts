/**
 * The fault soak: merchants on both gateways call their payment APIs through the registry's bearer fetches for a
 * while, against the local emulators, which fault a share of all requests (token endpoints and APIs alike) at
 * random. Every call is counted exactly once: succeeded, failed in a way a retry can fix, failed otherwise, or lost
 * (not settled by the end of a grace period). Tokens live seconds, not hours, so the token endpoints and their
 * faults matter many times over in a short run. With `outage`, both token endpoints are down for the middle third of
 * the run (every token request fails), and the token requests the caches made during it are counted per merchant:
 * a cache that backs off makes a handful, one that does not makes one per call.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import {
  createMerchantRegistry,
  fingerprint,
  isAuthError,
  isRetryable,
  type MerchantSettings,
  type MerchantTokenEvent,
  type ResolveMerchant,
} from '@x/core';
import { loadMerchantConfig, type MerchantConfigWatcher, watchMerchantConfig } from '@x/core/node';
import { createIamportProvider } from '@x/iamport';
import { createIamportEmulator, type IamportEmulator, type IamportFault } from '@x/iamport/testing';
import { createVippsProvider } from '@x/vipps';
import { createVippsEmulator, type VippsEmulator, type VippsFault } from '@x/vipps/testing';
import { createFaultPlan, type FaultPlan, type SoakFaultKind, type SoakFaultTarget } from './soak-faults.js';
import {
  createMerchantDatabase,
  createSecretFolder,
  createSoakRotations,
  type RotatingMerchant,
  rotatedField,
  type SoakRotationReport,
  type SoakRotations,
  type SoakRotationTiming,
  type SoakSecretFolder,
  type SoakSecretSource,
} from './soak-rotation.js';

export interface SoakOptions {
  /** How long the merchants make calls. @default 60_000 */
  durationMs?: number | undefined;
  /** Seed of the fault plan; the same seed draws the same faults for the same sequence of requests. @default random */
  seed?: number | undefined;
  /** Share of requests (token and API) answered with a fault. @default 0.1 */
  faultRate?: number | undefined;
  /** Merchants on i'mport. @default 5 */
  iamportMerchants?: number | undefined;
  /** Merchants on Vipps MobilePay. @default 5 */
  vippsMerchants?: number | undefined;
  /** Concurrent callers per merchant, each making one call after another. @default 3 */
  workersPerMerchant?: number | undefined;
  /** Takes both token endpoints down for the middle third of the run, every token request failing so. @default none */
  outage?: SoakOutageFault | undefined;
  /**
   * Rotates every merchant's main secret every few seconds at the gateway and in the merchant's source, which the
   * registry then reads merchants from (see `soak-rotation.ts`); tokens live as long as the gateways' own. @default false
   */
  rotate?: boolean | undefined;
  /** Progress lines. @default none */
  log?: ((line: string) => void) | undefined;
}

/** How a token endpoint that is down answers: HTTP 503 in the gateway's format, or a reset connection (TCP RST). */
export type SoakOutageFault = '503' | 'reset';

/** One merchant's figures during the outage: from its start to its end, as differences of counters. */
export interface SoakOutageRow {
  merchant: string;
  gateway: 'iamport' | 'vipps';
  /** Calls started during the outage. */
  calls: number;
  /** Calls that succeeded during the outage (a token still valid, or taken before it). */
  succeeded: number;
  /** Token requests the merchant's cache made during the outage (its `token-requested` events). */
  tokenRequests: number;
  /** Token requests the gateway's emulator received with the merchant's credentials during the outage. */
  gatewayTokenRequests: number;
  /** `calls` per second of outage. */
  callsPerSecond: number;
  /** `tokenRequests` per second of outage: bounded by the backoff, not by `callsPerSecond`, when the cache backs off. */
  tokenRequestsPerSecond: number;
  /** From the end of the outage to the merchant's first new token after it; `null` when none came before the deadline. */
  firstTokenAfterMs: number | null;
}

/** What the token endpoints' outage cost. */
export interface SoakOutageReport {
  fault: SoakOutageFault;
  /** Start of the outage, from the first call. */
  startMs: number;
  durationMs: number;
  /** Token requests the emulators answered with the outage's fault. */
  refusedTokenRequests: number;
  calls: number;
  succeeded: number;
  tokenRequests: number;
  gatewayTokenRequests: number;
  merchants: SoakOutageRow[];
}

/** One merchant's calls and token traffic. */
export interface SoakMerchantRow {
  merchant: string;
  gateway: 'iamport' | 'vipps';
  calls: number;
  succeeded: number;
  failedRetryable: number;
  failedOther: number;
  lost: number;
  /** Token requests the merchant's cache made (its `token-requested` events). */
  tokenRequests: number;
  /** Token requests the gateway's emulator received with the merchant's credentials. */
  gatewayTokenRequests: number;
  /** New tokens the cache adopted. */
  newTokens: number;
  /** Refreshes that returned the same token with a later expiry (i'mport's extension window). */
  extended: number;
  /** Refreshes that failed while the current token was still served. */
  servedStale: number;
}

export interface SoakReport {
  durationMs: number;
  seed: number;
  faultRate: number;
  workersPerMerchant: number;
  apiTimeoutMs: number;
  graceMs: number;
  calls: number;
  succeeded: number;
  failedRetryable: number;
  failedOther: number;
  lost: number;
  /** Failures a retry can fix, by cause (`api: HTTP 503`, `token: TokenRequestError timeout`, …). */
  retryableCauses: Record<string, number>;
  /** Every other failure, by cause: a typed error retrying cannot fix, or anything untyped. Expected: none. */
  otherCauses: Record<string, number>;
  /** The first error message seen for each cause, to explain the causes in `otherCauses`. */
  examples: Record<string, string>;
  /** Requests the emulators received and the faults they answered, by target and kind. */
  faults: FaultPlan['counts'];
  merchants: SoakMerchantRow[];
  /**
   * `heapUsed` after a full GC (when `--expose-gc` is on): before the first call, at each quarter of the run (under
   * load), and after the last call settled.
   */
  heap: { startBytes: number; quarterBytes: number[]; endBytes: number; collected: boolean };
  /** From the first call to the deadline, and from the deadline until every call settled (or the grace ran out). */
  elapsed: { callsMs: number; settleMs: number };
  /** The token endpoints' outage, when the run had one. */
  outage?: SoakOutageReport | undefined;
  /** The secret rotations, when the run had them. */
  rotation?: SoakRotationReport | undefined;
}

/** Vipps tokens live 6 s instead of an hour or a day, so each merchant refreshes every few seconds. */
const vippsTokenLifetimeSeconds = 6;
/**
 * i'mport's rules scaled down: tokens live 8 s (30 minutes); one asked for in its last 3 s (1 minute) lives 4 s
 * (5 minutes) longer. i'mport's expiry comes in whole seconds, so the cache tells a 4 s extension from the same
 * expiry read twice (its tolerance is that second plus the requests' latency).
 */
const iamportRules = { tokenLifetimeMs: 8_000, extensionWindowMs: 3_000, extensionMs: 4_000 };
/**
 * Refresh ahead inside i'mport's (shortened) extension window; time out token requests and retry quickly, so a
 * stalled token request is cut within the run and a failed one is soon tried again. Between the refresh window's
 * start (2–2.5 s before expiry) and the last moment a token is handed out (0.5 s) there is room for one timed-out
 * request and a retry: a stall or a 503 on a refresh is ridden out on the current token.
 */
const policy = {
  refreshAheadMs: 2_500,
  refreshAheadJitter: 0.2,
  minValidityMs: 500,
  requestTimeoutMs: 1_000,
  retryBaseDelayMs: 100,
  retryMaxDelayMs: 1_000,
};
/**
 * Rotations: one merchant after another, each every 3 s; the old secret revoked 1.5 s after the source switched. The
 * registry asks a merchant's source again once its settings are 500 ms old (stale-while-revalidate), so the grace
 * period leaves a second for the switch to reach the cache and a new token to replace the old one.
 */
const rotationTiming: SoakRotationTiming = { everyMs: 3_000, graceMs: 1_500, merchantTtlMs: 500, firstAfterMs: 1_000 };
/** Every API call carries this deadline (an `AbortSignal`), as an app's own timeout would: it cuts API stalls. */
const apiTimeoutMs = 1_000;
/** After the deadline, how long calls still under way may take to settle before they count as lost. */
const graceMs = 5_000;
const pauseBetweenCallsMs = 5;
/** How often revoked tokens older than 10 s are forgotten. */
const pruneEveryMs = 500;
/** A header naming the call, read only by the soak's own fetch, which notes the token each attempt sent. */
const callHeader = 'x-soak-call';

/** A call's end; `example` is the error's message (no secrets: @x errors never hold one), kept once per cause. */
type Outcome = { kind: 'succeeded' } | { kind: 'retryable' | 'other'; cause: string; example?: string };

/** Runs the soak and returns its figures; never throws for a failed call (that is what it counts). */
export async function runSoak(options: SoakOptions = {}): Promise<SoakReport> {
  const durationMs = options.durationMs ?? 60_000;
  const seed = options.seed ?? randomBytes(4).readUInt32BE(0);
  const faultRate = options.faultRate ?? 0.1;
  const iamportCount = options.iamportMerchants ?? 5;
  const vippsCount = options.vippsMerchants ?? 5;
  const workersPerMerchant = options.workersPerMerchant ?? 3;
  const log = options.log ?? (() => undefined);
  const plan = createFaultPlan(faultRate, seed);
  const outageFault = options.outage;
  const rotate = options.rotate ?? false;
  /** While true, every token request gets the outage's fault instead of a draw from the plan. */
  let outageActive = false;
  let refusedTokenRequests = 0;

  // Each merchant has its own credentials, made up per run, so each has its own cache and token.
  const iamportCredentials = Array.from({ length: iamportCount }, (_, index) => ({
    impKey: `imp_soak_${index + 1}`,
    impSecret: randomBytes(24).toString('base64url'),
  }));
  const vippsCredentials = Array.from({ length: vippsCount }, (_, index) => ({
    clientId: `soak-client-${index + 1}`,
    clientSecret: randomBytes(16).toString('base64'),
    subscriptionKey: randomBytes(16).toString('hex'),
    merchantSerialNumber: String(100_001 + index),
  }));

  // The emulators are referenced by their own fault hooks (revocation), so they are declared first.
  let iamport: IamportEmulator | undefined;
  let vipps: VippsEmulator | undefined;
  /** Tokens revoked by a fault, kept a few seconds: a call that ends on a 401 is explained by them. */
  const revokedAt = new Map<string, number>();
  const bearerOf = (request: IncomingMessage): string | undefined => /^Bearer (\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
  const iamportFault = (kind: SoakFaultKind, request: IncomingMessage): IamportFault | undefined => {
    switch (kind) {
      case '5xx':
        return { kind: 'status', status: 503 };
      case 'reset':
        return { kind: 'reset' };
      case 'stall':
        return { kind: 'stall' };
      case 'revoke': {
        const token = bearerOf(request);
        if (token !== undefined && iamport?.revoke(token)) revokedAt.set(token, performance.now());
        return undefined;
      }
    }
  };
  const vippsFault = (kind: SoakFaultKind, request: IncomingMessage): VippsFault | undefined => {
    switch (kind) {
      case '5xx':
        return { kind: 'status', status: 503 };
      case 'reset':
        return { kind: 'reset' };
      case 'stall':
        return { kind: 'stall' };
      case 'revoke': {
        const token = bearerOf(request);
        if (token !== undefined) {
          vipps?.revoke(token);
          revokedAt.set(token, performance.now());
        }
        return undefined;
      }
    }
  };
  const drawFor = <TFault>(
    target: SoakFaultTarget,
    request: IncomingMessage,
    toFault: (kind: SoakFaultKind, request: IncomingMessage) => TFault,
  ) => {
    if (outageActive && target === 'token') {
      refusedTokenRequests += 1;
      return toFault(outageFault === 'reset' ? 'reset' : '5xx', request);
    }
    const kind = plan.draw(target);
    return kind === undefined ? undefined : toFault(kind, request);
  };

  // With rotations, tokens live as long as the gateways' own, so every token request after a merchant's first is one a
  // rotation caused.
  iamport = await createIamportEmulator({
    ...(rotate ? {} : iamportRules),
    merchants: iamportCredentials,
    recordRequests: false,
    injectFault: (target, request) => drawFor(target, request, iamportFault),
  });
  vipps = await createVippsEmulator({
    ...(rotate ? {} : { tokenLifetimeMs: vippsTokenLifetimeSeconds * 1000 }),
    merchants: vippsCredentials,
    recordRequests: false,
    injectFault: (endpoint, request) => drawFor(endpoint === 'payments' ? 'api' : 'token', request, vippsFault),
  });
  const iamportEmulator = iamport;
  const vippsEmulator = vipps;
  log(`i'mport emulator at ${iamportEmulator.url}, Vipps emulator at ${vippsEmulator.url}`);

  const merchants: Record<string, MerchantSettings> = {};
  const rows = new Map<string, SoakMerchantRow>();
  const credentialOf = new Map<string, string>();
  const row = (merchant: string, gateway: 'iamport' | 'vipps'): SoakMerchantRow => ({
    merchant,
    gateway,
    calls: 0,
    succeeded: 0,
    failedRetryable: 0,
    failedOther: 0,
    lost: 0,
    tokenRequests: 0,
    gatewayTokenRequests: 0,
    newTokens: 0,
    extended: 0,
    servedStale: 0,
  });
  iamportCredentials.forEach((credentials, index) => {
    const merchant = `shop-kr-${index + 1}`;
    merchants[merchant] = { provider: 'iamport', ...credentials, baseUrl: iamportEmulator.url };
    rows.set(merchant, row(merchant, 'iamport'));
    credentialOf.set(merchant, credentials.impKey);
  });
  vippsCredentials.forEach((credentials, index) => {
    const merchant = `shop-no-${index + 1}`;
    merchants[merchant] = { provider: 'vipps', ...credentials, baseUrl: vippsEmulator.url };
    rows.set(merchant, row(merchant, 'vipps'));
    credentialOf.set(merchant, credentials.clientId);
  });

  /** When the outage ended (`performance.now()`), and each merchant's first new token after that. */
  let outageEndedAt: number | undefined;
  const firstTokenAfterOutage = new Map<string, number>();
  /** Fingerprints of tokens a 401 asked the cache to drop moments after they replaced a dropped one: kept instead. */
  const keptThrough401 = new Set<string>();
  const onEvent = (event: MerchantTokenEvent): void => {
    if (event.type === 'token-invalidation-deferred') keptThrough401.add(event.fingerprint);
    for (const merchant of event.merchants) {
      const counts = rows.get(merchant);
      if (counts === undefined) continue;
      if (event.type === 'token-requested') counts.tokenRequests += 1;
      else if (event.type === 'token-refreshed') counts[event.extended ? 'extended' : 'newTokens'] += 1;
      else if (event.type === 'token-served-stale') counts.servedStale += 1;
      if (event.type === 'token-refreshed' && outageEndedAt !== undefined && !firstTokenAfterOutage.has(merchant)) {
        firstTokenAfterOutage.set(merchant, performance.now() - outageEndedAt);
      }
    }
  };
  /** The tokens each call's attempts sent, by call id, noted by the fetch every request of the registry goes through. */
  const tokensSent = new Map<string, string[]>();
  const tap: typeof globalThis.fetch = (input, init) => {
    const headers = init?.headers as Record<string, string> | undefined;
    const callId = headers?.[callHeader];
    if (callId !== undefined) tokensSent.get(callId)?.push(headers?.authorization?.replace(/^Bearer /, '') ?? '');
    return globalThis.fetch(input, init);
  };
  // With rotations, merchants come from two sources, each rotated: a database behind `resolveMerchant` (the odd-numbered
  // merchants), and a configuration file whose secrets are files, loaded once and watched (the even-numbered ones).
  const sourceOf = (merchant: string): SoakSecretSource => (/[13579]$/.test(merchant) ? 'resolver' : 'file');
  const bySource = (source: SoakSecretSource): Record<string, MerchantSettings> =>
    Object.fromEntries(Object.entries(merchants).filter(([merchant]) => sourceOf(merchant) === source));
  const database = rotate ? createMerchantDatabase(bySource('resolver')) : undefined;
  const secretFolder: SoakSecretFolder | undefined = rotate
    ? await createSecretFolder(bySource('file'), (settings) => rotatedField[settings.provider as 'iamport' | 'vipps'])
    : undefined;
  const fileConfig = secretFolder === undefined ? undefined : await loadMerchantConfig(secretFolder.configPath);
  const resolves = new Map<string, number>();
  const reloads = new Map<string, number>();
  const resolveMerchant: ResolveMerchant = (merchantId, context) => {
    resolves.set(merchantId, (resolves.get(merchantId) ?? 0) + 1);
    // A file merchant is asked for only after the gateway rejected its secret: the file is read again.
    return sourceOf(merchantId) === 'file' ? fileConfig!.resolveMerchant!(merchantId, context) : database!.resolve(merchantId, context);
  };
  const registry = createMerchantRegistry({
    providers: { iamport: createIamportProvider, vipps: createVippsProvider },
    ...(fileConfig === undefined
      ? { merchants }
      : { merchants: fileConfig.merchants, resolveMerchant, merchantTtlMs: rotationTiming.merchantTtlMs }),
    policy,
    onEvent,
    fetch: tap,
  });
  const rotations: SoakRotations | undefined =
    database === undefined || secretFolder === undefined
      ? undefined
      : createSoakRotations({
          merchants: [...rows.values()].map(
            ({ merchant, gateway }): RotatingMerchant => ({
              merchant,
              gateway,
              source: sourceOf(merchant),
              gatewayId: credentialOf.get(merchant)!,
              settings: merchants[merchant]!,
            }),
          ),
          sources: { resolver: database, file: secretFolder },
          resolves,
          reloads,
          emulators: { iamport: iamportEmulator, vipps: vippsEmulator },
          timing: rotationTiming,
          log,
        });
  // Reloads the registry after every change of the file or of a secret file (a rename included), 200 ms debounced.
  const watcher: MerchantConfigWatcher | undefined =
    secretFolder === undefined
      ? undefined
      : await watchMerchantConfig(secretFolder.configPath, registry, {
          onReload: ({ changed }) => {
            for (const merchant of changed) reloads.set(merchant, (reloads.get(merchant) ?? 0) + 1);
          },
          onError: (error) => rotations?.fail(`merchants.json not applied: ${error.message}`),
        });

  /** Why a call ended on a 401: the bearer fetch gets one fresh token and retries once, so a 401 after that needs a cause. */
  const explainUnauthorized = (tokens: readonly string[]): Outcome => {
    const [first, retry] = tokens;
    if (retry === undefined) {
      // A token revoked moments after it replaced a revoked one is kept through the invalidation backoff (an API that
      // refuses every fresh token must not cost a token request per call): its 401 is the answer, until the step ends.
      if (first !== undefined && revokedAt.has(first) && keptThrough401.has(fingerprint(first))) {
        return { kind: 'retryable', cause: 'api: HTTP 401, the token kept through the invalidation backoff' };
      }
      return { kind: 'other', cause: 'api: HTTP 401 without a retry' };
    }
    if (retry === first) return { kind: 'other', cause: 'api: HTTP 401, retried with the token it had just invalidated' };
    if (revokedAt.has(retry)) return { kind: 'retryable', cause: 'api: HTTP 401, the fresh token revoked too' };
    return { kind: 'other', cause: 'api: HTTP 401 on a fresh, unrevoked token' };
  };

  // Revoked tokens are kept a few seconds only, so the map does not grow for the whole run.
  const pruneRevoked = (): void => {
    const now = performance.now();
    for (const [token, at] of revokedAt) if (now - at > 10_000) revokedAt.delete(token);
  };
  const pruner = setInterval(pruneRevoked, pruneEveryMs);

  let recording = true;
  const totals = {
    retryableCauses: {} as Record<string, number>,
    otherCauses: {} as Record<string, number>,
    examples: {} as Record<string, string>,
  };
  const record = (counts: SoakMerchantRow, outcome: Outcome): void => {
    if (!recording) return;
    if (outcome.kind === 'succeeded') {
      counts.succeeded += 1;
      return;
    }
    const causes = outcome.kind === 'retryable' ? totals.retryableCauses : totals.otherCauses;
    causes[outcome.cause] = (causes[outcome.cause] ?? 0) + 1;
    if (outcome.example !== undefined) totals.examples[outcome.cause] ??= outcome.example;
    counts[outcome.kind === 'retryable' ? 'failedRetryable' : 'failedOther'] += 1;
  };

  const call = async (merchant: string, counts: SoakMerchantRow, sequence: number): Promise<void> => {
    const path = counts.gateway === 'iamport' ? `/payments/imp_${sequence}` : `/epayment/v1/payments/order-${sequence}`;
    const callId = String(sequence);
    const tokens: string[] = [];
    tokensSent.set(callId, tokens);
    counts.calls += 1;
    let outcome: Outcome;
    try {
      const response = await registry.fetch(merchant)(path, {
        headers: { [callHeader]: callId },
        signal: AbortSignal.timeout(apiTimeoutMs),
      });
      await response.arrayBuffer();
      outcome = response.status === 401 ? explainUnauthorized(tokens) : classifyResponse(response.status);
    } catch (error) {
      outcome = classifyError(error);
    } finally {
      tokensSent.delete(callId);
    }
    record(counts, outcome);
  };

  /** Each merchant's counters, read at the outage's start and end: the outage's figures are the differences. */
  type OutageCounters = Pick<SoakOutageRow, 'calls' | 'succeeded' | 'tokenRequests' | 'gatewayTokenRequests'>;
  const outageCounters = (): Map<string, OutageCounters> => {
    return new Map(
      [...rows.values()].map((counts) => [
        counts.merchant,
        {
          calls: counts.calls,
          succeeded: counts.succeeded,
          tokenRequests: counts.tokenRequests,
          gatewayTokenRequests: gatewayTokenRequestsOf(counts),
        },
      ]),
    );
  };
  // Summed over the merchant's secrets: a request that presented a revoked one is refused, but it was made.
  const gatewayTokenRequestsOf = (counts: SoakMerchantRow): number => {
    const credential = credentialOf.get(counts.merchant)!;
    const [emulator, field] = counts.gateway === 'iamport' ? [iamportEmulator, 'impSecret'] : [vippsEmulator, 'clientSecret'];
    return emulator
      .secretCountersFor(credential)
      .filter((secret) => secret.field === field)
      .reduce((sum, secret) => sum + secret.tokenRequests, 0);
  };
  let outageBefore: Map<string, OutageCounters> | undefined;
  let outageAfter: Map<string, OutageCounters> | undefined;

  const heapStart = usedHeap();
  const started = performance.now();
  const deadline = started + durationMs;
  // The middle third. Counters are read and the endpoints switched in one timer callback, so nothing falls between.
  const outageStartMs = durationMs / 3;
  const outageDurationMs = durationMs / 3;
  const outageTimers =
    outageFault === undefined
      ? []
      : [
          setTimeout(() => {
            outageBefore = outageCounters();
            outageActive = true;
            log(`token endpoints down (${outageFault === 'reset' ? 'connections reset' : 'HTTP 503'})`);
          }, outageStartMs),
          setTimeout(() => {
            outageActive = false;
            outageAfter = outageCounters();
            outageEndedAt = performance.now();
            log('token endpoints back');
          }, outageStartMs + outageDurationMs),
        ];
  const quarterBytes: number[] = [];
  const heapTimers = [1, 2, 3].map((quarter) => setTimeout(() => quarterBytes.push(usedHeap().bytes), (quarter * durationMs) / 4));
  log(`${rows.size} merchants, ${workersPerMerchant} callers each, ${durationMs / 1000} s, seed ${seed}`);
  rotations?.start(durationMs);
  let sequence = 0;
  const worker = async (merchant: string): Promise<void> => {
    const counts = rows.get(merchant)!;
    while (performance.now() < deadline) {
      sequence += 1;
      await call(merchant, counts, sequence);
      await delay(pauseBetweenCallsMs);
    }
  };
  const workers = Promise.all([...rows.keys()].flatMap((merchant) => Array.from({ length: workersPerMerchant }, () => worker(merchant))));

  let graceTimer: NodeJS.Timeout | undefined;
  let report: SoakReport;
  try {
    await delayUntil(deadline);
    const callsMs = performance.now() - started;
    await Promise.race([
      workers,
      new Promise<void>((resolve) => {
        graceTimer = setTimeout(resolve, Math.max(0, deadline + graceMs - performance.now()));
      }),
    ]);
    const settleMs = performance.now() - started - callsMs;
    recording = false;
    rotations?.stop();
    for (const counts of rows.values()) {
      counts.lost = counts.calls - counts.succeeded - counts.failedRetryable - counts.failedOther;
    }
    for (const counts of rows.values()) counts.gatewayTokenRequests = gatewayTokenRequestsOf(counts);
    const merchantRows = [...rows.values()].map((counts) => ({ ...counts }));
    const sum = (field: 'calls' | 'succeeded' | 'failedRetryable' | 'failedOther' | 'lost'): number =>
      merchantRows.reduce((total, counts) => total + counts[field], 0);
    const heapEnd = usedHeap();
    report = {
      durationMs,
      seed,
      faultRate,
      workersPerMerchant,
      apiTimeoutMs,
      graceMs,
      calls: sum('calls'),
      succeeded: sum('succeeded'),
      failedRetryable: sum('failedRetryable'),
      failedOther: sum('failedOther'),
      lost: sum('lost'),
      retryableCauses: totals.retryableCauses,
      otherCauses: totals.otherCauses,
      examples: totals.examples,
      faults: structuredClone(plan.counts),
      merchants: merchantRows,
      heap: { startBytes: heapStart.bytes, quarterBytes, endBytes: heapEnd.bytes, collected: heapEnd.collected },
      elapsed: { callsMs, settleMs },
      outage:
        outageFault === undefined || outageBefore === undefined || outageAfter === undefined
          ? undefined
          : outageReport(
              outageFault,
              outageStartMs,
              outageDurationMs,
              refusedTokenRequests,
              merchantRows,
              outageBefore,
              outageAfter,
              firstTokenAfterOutage,
            ),
      rotation: rotations?.report(),
    };
  } finally {
    rotations?.stop();
    await watcher?.close();
    await secretFolder?.remove();
    for (const timer of outageTimers) clearTimeout(timer);
    clearTimeout(graceTimer);
    for (const timer of heapTimers) clearTimeout(timer);
    clearInterval(pruner);
    await Promise.all([iamportEmulator.close(), vippsEmulator.close()]);
  }
  return report;
}

/** The outage's figures: each merchant's counters at its end minus those at its start, and their sums. */
function outageReport(
  fault: SoakOutageFault,
  startMs: number,
  durationMs: number,
  refusedTokenRequests: number,
  merchants: readonly SoakMerchantRow[],
  before: ReadonlyMap<string, Pick<SoakOutageRow, 'calls' | 'succeeded' | 'tokenRequests' | 'gatewayTokenRequests'>>,
  after: ReadonlyMap<string, Pick<SoakOutageRow, 'calls' | 'succeeded' | 'tokenRequests' | 'gatewayTokenRequests'>>,
  firstTokenAfter: ReadonlyMap<string, number>,
): SoakOutageReport {
  const seconds = durationMs / 1000;
  const rows = merchants.map(({ merchant, gateway }): SoakOutageRow => {
    const start = before.get(merchant)!;
    const end = after.get(merchant)!;
    const calls = end.calls - start.calls;
    const tokenRequests = end.tokenRequests - start.tokenRequests;
    return {
      merchant,
      gateway,
      calls,
      succeeded: end.succeeded - start.succeeded,
      tokenRequests,
      gatewayTokenRequests: end.gatewayTokenRequests - start.gatewayTokenRequests,
      callsPerSecond: calls / seconds,
      tokenRequestsPerSecond: tokenRequests / seconds,
      firstTokenAfterMs: firstTokenAfter.get(merchant) ?? null,
    };
  });
  const sum = (field: 'calls' | 'succeeded' | 'tokenRequests' | 'gatewayTokenRequests'): number =>
    rows.reduce((total, row) => total + row[field], 0);
  return {
    fault,
    startMs,
    durationMs,
    refusedTokenRequests,
    calls: sum('calls'),
    succeeded: sum('succeeded'),
    tokenRequests: sum('tokenRequests'),
    gatewayTokenRequests: sum('gatewayTokenRequests'),
    merchants: rows,
  };
}

/** An API answer: 2xx succeeded; 5xx is the gateway's own "try again"; anything else is not expected. */
function classifyResponse(status: number): Outcome {
  if (status >= 200 && status < 300) return { kind: 'succeeded' };
  if (status >= 500) return { kind: 'retryable', cause: `api: HTTP ${status}` };
  return { kind: 'other', cause: `api: HTTP ${status}` };
}

/**
 * A failed call. The library's own errors are typed (`AuthError` and its subclasses, with `retryable`). API calls
 * fail with `fetch`'s standard errors, passed through unchanged: a `TypeError` with the socket error as its cause,
 * or the `TimeoutError` of the call's own deadline. Anything else is untyped and counts against the run.
 */
function classifyError(error: unknown): Outcome {
  if (isAuthError(error)) {
    const reason = 'reason' in error ? ` ${String(error.reason)}` : 'field' in error ? ` (${String(error.field) || 'body'})` : '';
    return { kind: isRetryable(error) ? 'retryable' : 'other', cause: `token: ${error.name}${reason}`, example: error.message };
  }
  if (error instanceof Error && error.name === 'TimeoutError') return { kind: 'retryable', cause: `call deadline (${apiTimeoutMs} ms)` };
  if (error instanceof TypeError && error.cause instanceof Error) {
    const code = (error.cause as { code?: unknown }).code;
    return { kind: 'retryable', cause: `api: ${error.message} (${typeof code === 'string' ? code : error.cause.message})` };
  }
  const example = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return { kind: 'other', cause: `untyped: ${error instanceof Error ? error.name : typeof error}`, example };
}

function usedHeap(): { bytes: number; collected: boolean } {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  return { bytes: process.memoryUsage().heapUsed, collected: gc !== undefined };
}

function delay(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

function delayUntil(time: number): Promise<void> {
  return delay(Math.max(0, time - performance.now()));
}
