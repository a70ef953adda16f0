/**
 * The demo: one app, five merchants on four gateways (i'mport V1, PortOne V2, Vipps MobilePay and PayPal through
 * OAuth 2.0 client credentials), configured in merchants.json with secrets read from the environment. It runs against the local emulators with token lifetimes shortened from 30 minutes (i'mport) and
 * an hour (Vipps) to seconds, calls every merchant concurrently, and prints what the token layer does as it happens:
 * token requests, reuse, i'mport's extension window, an outage of i'mport's token endpoint ridden out on the
 * still-valid token, a secret rotated while the calls go on, and a merchant offboarded. It ends with a table per
 * merchant.
 */
import { randomBytes } from 'node:crypto';
import { createMerchantRegistry, fingerprint, isTokenRequestError, isUnknownMerchantError, type MerchantTokenEvent } from '@x/core';
import { loadMerchantConfig } from '@x/core/node';
import { createIamportProvider } from '@x/iamport';
import { createIamportEmulator } from '@x/iamport/testing';
import { createClientCredentialsProvider } from '@x/oauth2';
import { createOAuth2Emulator, oauth2EmulatorDefaultMerchant } from '@x/oauth2/testing';
import { createPortOneProvider } from '@x/portone';
import { createPortOneEmulator } from '@x/portone/testing';
import { createVippsProvider } from '@x/vipps';
import { createVippsEmulator, vippsEmulatorDefaultMerchant } from '@x/vipps/testing';

export interface DemoOptions {
  /** How long the merchants make calls. @default 20_000 */
  durationMs?: number;
  /** Where lines go. @default console.log */
  log?: (line: string) => void;
}

/** What happened to one merchant, as the demo counted it and as its gateway's emulator did. */
export interface MerchantSummary {
  merchant: string;
  gateway: string;
  calls: number;
  errors: number;
  /** Calls refused with `UnknownMerchantError` after the merchant was offboarded: none reached the gateway. */
  refused: number;
  tokenRequests: number;
  /** Token requests the gateway's emulator received for this merchant's credentials. */
  gatewayTokenRequests: number;
  newTokens: number;
  extended: number;
  servedStale: number;
}

/** Shortened token rules, so a 20-second run shows what takes hours in production. */
const iamportRules = { tokenLifetimeMs: 10_000, extensionWindowMs: 4_000, extensionMs: 6_000 };
const vippsLifetimeSeconds = 8;
/** PortOne V2's access tokens (30 minutes) and PayPal's (9 hours), shortened alike. */
const portOneLifetimeSeconds = 8;
const paypalLifetimeSeconds = 8;
/** The policy for shortened tokens: refresh inside i'mport's (shortened) last 4 seconds, like 50 s in its last minute. */
const policy = {
  refreshAheadMs: 3_500,
  refreshAheadJitter: 0.1,
  minValidityMs: 500,
  requestTimeoutMs: 2_000,
  retryBaseDelayMs: 250,
  retryMaxDelayMs: 1_000,
};
// The outage starts 4.5 s before the first extended token expires and ends 2 s before: the refreshes due in between
// fail, and the token still has 1.5 s beyond `minValidityMs` to spare, so a loaded machine's late timers cost nothing.
const outageMs = 2_500;
const workersPerMerchant = 4;
const pauseBetweenCallsMs = 25;
const tickMs = 2_000;
/** When the Vipps merchant's secret is rotated, and when it is offboarded, as fractions of the run. */
const rotateAt = 0.3;
const offboardAt = 0.8;
/** How long the old secret stays valid at the gateway after the rotation. */
const rotationGraceMs = 2_000;
/** The Vipps merchant the demo rotates and then offboards. */
const rotated = 'shop-oslo';

/** Runs the demo and returns the closing table's rows. */
export async function runDemo(options: DemoOptions = {}): Promise<MerchantSummary[]> {
  const durationMs = options.durationMs ?? 20_000;
  const log = options.log ?? console.log;
  const started = performance.now();
  const at = (): string => `[${((performance.now() - started) / 1000).toFixed(2).padStart(6)}s]`;

  // The secrets would come from your secret manager; here they are made up per run, and never printed. The
  // `xcanary` mark lets the repository's leak tests find one that is.
  const secrets = {
    SHOP_SEOUL_IMP_SECRET: `xcanary${randomBytes(24).toString('base64url')}`,
    SHOP_BUSAN_IMP_SECRET: `xcanary${randomBytes(24).toString('base64url')}`,
    SHOP_OSLO_CLIENT_SECRET: `xcanary${randomBytes(16).toString('base64')}`,
    SHOP_OSLO_SUBSCRIPTION_KEY: `xcanary${randomBytes(16).toString('hex')}`,
    SHOP_SEOUL_V2_API_SECRET: `xcanary${randomBytes(32).toString('base64url')}`,
    SHOP_PAYPAL_CLIENT_SECRET: `xcanary-${randomBytes(30).toString('base64url')}`,
  };
  const iamport = await createIamportEmulator({
    ...iamportRules,
    clockOffsetMs: 9 * 3_600_000,
    // Tokens marked `xcanary` too.
    tokenFormat: 'canary',
    merchants: [
      { impKey: 'imp_seoul_key', impSecret: secrets.SHOP_SEOUL_IMP_SECRET },
      { impKey: 'imp_busan_key', impSecret: secrets.SHOP_BUSAN_IMP_SECRET },
    ],
  });
  const vipps = await createVippsEmulator({
    tokenLifetimeMs: vippsLifetimeSeconds * 1000,
    merchants: [
      {
        clientId: vippsEmulatorDefaultMerchant.clientId,
        clientSecret: secrets.SHOP_OSLO_CLIENT_SECRET,
        subscriptionKey: secrets.SHOP_OSLO_SUBSCRIPTION_KEY,
        merchantSerialNumber: '123456',
      },
    ],
  });
  log(
    `i'mport emulator at ${iamport.url} (tokens live ${iamportRules.tokenLifetimeMs / 1000} s, extended by ${iamportRules.extensionMs / 1000} s when asked in their last ${iamportRules.extensionWindowMs / 1000} s; its clock runs 9 h ahead of ours)`,
  );
  const portone = await createPortOneEmulator({
    accessTokenLifetimeMs: portOneLifetimeSeconds * 1000,
    merchants: [{ storeId: 'store-seoul-v2', apiSecret: secrets.SHOP_SEOUL_V2_API_SECRET }],
  });
  const paypal = await createOAuth2Emulator({
    flavor: 'paypal',
    tokenLifetimeMs: paypalLifetimeSeconds * 1000,
    merchants: [{ ...oauth2EmulatorDefaultMerchant, clientSecret: secrets.SHOP_PAYPAL_CLIENT_SECRET }],
  });
  log(`Vipps emulator at ${vipps.url} (tokens live ${vippsLifetimeSeconds} s)`);
  log(
    `PortOne V2 emulator at ${portone.url} (access tokens live ${portOneLifetimeSeconds} s; every refresh spends the last refresh token)`,
  );
  log(`PayPal (OAuth 2.0 client credentials) emulator at ${paypal.url} (tokens live ${paypalLifetimeSeconds} s)`);

  const config = await loadMerchantConfig(new URL('../merchants.json', import.meta.url), {
    env: {
      ...process.env,
      ...secrets,
      IAMPORT_BASE_URL: iamport.url,
      VIPPS_BASE_URL: vipps.url,
      PORTONE_BASE_URL: portone.url,
      PAYPAL_BASE_URL: paypal.url,
    },
  });
  const ids = Object.keys(config.merchants);
  const summaries = new Map<string, MerchantSummary>(
    ids.map((merchant) => [
      merchant,
      {
        merchant,
        gateway: config.merchants[merchant]!.provider,
        calls: 0,
        errors: 0,
        refused: 0,
        tokenRequests: 0,
        gatewayTokenRequests: 0,
        newTokens: 0,
        extended: 0,
        servedStale: 0,
      },
    ]),
  );

  let outage: Promise<void> | undefined;
  const startOutage = (inMs: number): void => {
    outage = new Promise((resolve) => {
      setTimeout(() => {
        iamport.fault({ kind: 'status', status: 503, target: 'token', count: Number.POSITIVE_INFINITY });
        log(`${at()} !! i'mport's token endpoint goes down (503) for ${outageMs / 1000} s`);
        setTimeout(() => {
          iamport.clearFaults();
          log(`${at()} !! i'mport's token endpoint is back`);
          resolve();
        }, outageMs);
      }, inMs);
    });
  };

  const onEvent = (event: MerchantTokenEvent): void => {
    const who = event.merchants.join(', ').padEnd(11);
    for (const merchant of event.merchants) {
      const summary = summaries.get(merchant);
      if (summary === undefined) continue;
      if (event.type === 'token-requested') summary.tokenRequests += 1;
      if (event.type === 'token-refreshed') summary[event.extended ? 'extended' : 'newTokens'] += 1;
      if (event.type === 'token-served-stale') summary.servedStale += 1;
    }
    switch (event.type) {
      case 'token-requested':
        log(`${at()} ${who} token requested (${event.reason})`);
        break;
      case 'token-refreshed': {
        const expires = `expires in ${(event.expiresInMs / 1000).toFixed(1)} s`;
        const skew = Number(event.diagnostics?.clockSkewMs ?? 0);
        const clock =
          Math.abs(skew) >= 60_000
            ? `; gateway clock ${(skew / 3_600_000).toFixed(1)} h off ours, expiry computed from its own difference`
            : '';
        log(
          event.extended
            ? `${at()} ${who} same token ${event.fingerprint}, extended by i'mport: ${expires}`
            : `${at()} ${who} new token ${event.fingerprint}, ${expires}${clock}`,
        );
        // Once the first extension has shown, take i'mport's token endpoint down just before the next refresh.
        if (event.extended && outage === undefined) startOutage(Math.max(0, event.expiresInMs - policy.refreshAheadMs - 1_000));
        break;
      }
      case 'token-unchanged':
        log(`${at()} ${who} same token, same expiry: next attempt in ${(event.nextAttemptInMs / 1000).toFixed(1)} s`);
        break;
      case 'token-served-stale':
        log(
          `${at()} ${who} refresh failed: calls go on with token ${event.fingerprint}, valid ${(event.remainingMs / 1000).toFixed(1)} s more; retry in ${(event.nextAttemptInMs / 1000).toFixed(2)} s`,
        );
        break;
      case 'token-request-failed':
        log(`${at()} ${who} token request failed: ${describeFailure(event.error)}`);
        break;
      default:
        break;
    }
  };

  const registry = createMerchantRegistry({
    providers: {
      iamport: createIamportProvider,
      vipps: createVippsProvider,
      portone: createPortOneProvider,
      oauth2: createClientCredentialsProvider,
    },
    ...config,
    policy,
    onEvent,
  });

  const deadline = performance.now() + durationMs;
  const callsSinceTick = new Map(ids.map((merchant) => [merchant, 0]));
  const errorsSeen = new Set<string>();
  const worker = async (merchant: string, worker: number): Promise<void> => {
    const authFetch = registry.fetch(merchant);
    const summary = summaries.get(merchant)!;
    for (let call = 0; performance.now() < deadline; call += 1) {
      const path = apiPathOf(summary.gateway, worker, call);
      try {
        const response = await authFetch(path);
        await response.arrayBuffer();
        if (!response.ok) throw new Error(`GET ${path} answered ${response.status}`);
        summary.calls += 1;
        callsSinceTick.set(merchant, callsSinceTick.get(merchant)! + 1);
      } catch (error) {
        if (isUnknownMerchantError(error)) {
          // Offboarded: every later call is refused before anything is sent; this worker is done.
          if (summary.refused === 0) log(`${at()} ${merchant} call refused: ${error.message} (${error.code})`);
          summary.refused += 1;
          return;
        }
        summary.errors += 1;
        const message = error instanceof Error ? error.message : String(error);
        if (!errorsSeen.has(message)) log(`${at()} ${merchant} call failed: ${message}`);
        errorsSeen.add(message);
      }
      await new Promise((resolve) => setTimeout(resolve, pauseBetweenCallsMs));
    }
  };

  // The rotation: the gateway takes a new secret beside the old, the registry is told (as a secret manager's hook or
  // a reloaded configuration would), and the old secret is revoked after a grace period. Then the offboarding.
  const oslo = config.merchants[rotated]!;
  const newSecret = `xcanary${randomBytes(16).toString('base64')}`;
  const lifecycle = (async () => {
    await sleep(durationMs * rotateAt);
    vipps.addSecret(String(oslo.clientId), newSecret);
    await registry.update(rotated, { ...oslo, clientSecret: newSecret });
    log(`${at()} !! ${rotated}: secret rotated (added at Vipps, registry.update); calls from now on use the new one`);
    await sleep(rotationGraceMs);
    vipps.revokeSecret(String(oslo.clientId), secrets.SHOP_OSLO_CLIENT_SECRET);
    log(`${at()} !! ${rotated}: old secret revoked at Vipps after a ${rotationGraceMs / 1000} s grace`);
    await sleep(Math.max(0, durationMs * (offboardAt - rotateAt) - rotationGraceMs));
    await registry.remove(rotated);
    log(`${at()} !! ${rotated}: offboarded (registry.remove); its calls are refused from now on, none reach Vipps`);
  })();

  const ticker = setInterval(() => {
    void Promise.all(
      ids
        .filter((merchant) => registry.has(merchant))
        .map(async (merchant) => {
          const token = await registry
            .tokens(merchant)
            .getToken()
            .catch(() => undefined);
          const calls = callsSinceTick.get(merchant)!;
          callsSinceTick.set(merchant, 0);
          return `${merchant} ${calls} calls${token === undefined ? '' : ` on token ${fingerprint(token.accessToken)}`}`;
        }),
    ).then((parts) => log(`${at()} last ${tickMs / 1000} s: ${parts.join(', ')}`));
  }, tickMs);

  try {
    await Promise.all(ids.flatMap((merchant) => Array.from({ length: workersPerMerchant }, (_, index) => worker(merchant, index))));
  } finally {
    clearInterval(ticker);
    await lifecycle;
    await outage;
    await Promise.all([iamport.close(), vipps.close(), portone.close(), paypal.close()]);
  }

  for (const summary of summaries.values()) {
    const settings = config.merchants[summary.merchant]!;
    summary.gatewayTokenRequests = {
      iamport: () => iamport.countersFor(String(settings.impKey)).tokenRequests,
      vipps: () => vipps.counters.tokenRequests,
      portone: () => portone.counters.tokenRequests,
      oauth2: () => paypal.counters.tokenRequests,
    }[summary.gateway]!();
  }
  const rows = [...summaries.values()];
  const [oldCounts, newCounts] = vipps.secretCountersFor(String(oslo.clientId));
  log('');
  log(
    `${rotated}'s secrets at Vipps: the old one in ${oldCounts?.tokenRequests} token requests (${oldCounts?.revokedTokenRequests} after its revocation), the new one in ${newCounts?.tokenRequests}`,
  );
  const { loginRequests, refreshRequests, spentRefreshTokens } = portone.counters;
  log(
    `shop-seoul-v2 at PortOne V2: ${loginRequests} login, ${refreshRequests} refreshes, ${spentRefreshTokens} spent refresh tokens presented`,
  );
  log(table(rows));
  return rows;
}

function table(rows: readonly MerchantSummary[]): string {
  const header = [
    'merchant',
    'gateway',
    'calls',
    'errors',
    'refused',
    'token requests',
    "(gateway's count)",
    'new tokens',
    'extended',
    'served stale',
  ];
  const cells = rows.map((row) =>
    [
      row.merchant,
      row.gateway,
      row.calls,
      row.errors,
      row.refused,
      row.tokenRequests,
      row.gatewayTokenRequests,
      row.newTokens,
      row.extended,
      row.servedStale,
    ].map(String),
  );
  const widths = header.map((title, column) => Math.max(title.length, ...cells.map((row) => row[column]!.length)));
  const line = (values: readonly string[]): string =>
    values.map((value, column) => (column < 2 ? value.padEnd(widths[column]!) : value.padStart(widths[column]!))).join('  ');
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...cells.map(line)].join('\n');
}

/** A token failure in one short line: the status and the gateway's own message (i'mport's is Korean: kept as is). */
function describeFailure(error: unknown): string {
  if (isTokenRequestError(error) && error.status !== undefined) {
    return `HTTP ${error.status}${error.retryable ? ', retryable' : ''}${error.providerMessage === undefined ? '' : ` (${error.providerMessage})`}`;
  }
  return error instanceof Error ? error.message : String(error);
}

function sleep(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

/** A payment (or order) path of each gateway's API, as its emulator serves it. */
function apiPathOf(gateway: string, worker: number, call: number): string {
  switch (gateway) {
    case 'iamport':
      return `/payments/imp_${worker}${call}`;
    case 'portone':
      return `/payments/payment-${worker}-${call}`;
    case 'oauth2':
      return `/v2/checkout/orders/order-${worker}-${call}`;
    default:
      return `/epayment/v1/payments/order-${worker}-${call}`;
  }
}
