/**
 * The soak's secret rotations (`--rotate`): every few seconds, one merchant after another has its main secret
 * (i'mport's `impSecret`, Vipps' `clientSecret`) rotated the way an operator does it. The gateway accepts a new
 * secret beside the old one (`addSecret`), the merchant's source of settings switches to it, and after a grace period
 * the gateway refuses the old one (`revokeSecret`). The registry reads its merchants from those sources only: a
 * resolver over an in-memory "database" whose entry changes, and, where the registry can read them, `$file` secrets
 * rewritten by rename. The emulators count, per secret, the token requests that presented it and the API calls
 * whose token it was the last to ask for, so the figures come from the gateway's side.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MerchantSettings } from '@x/core';
import type { IamportEmulator } from '@x/iamport/testing';
import type { VippsEmulator } from '@x/vipps/testing';

/** Timing of the rotations. */
export interface SoakRotationTiming {
  /** Between two rotations of one merchant; the merchants' rotations are spread evenly over it. */
  everyMs: number;
  /** From the source switching to the old secret being revoked at the gateway. */
  graceMs: number;
  /** The registry's `merchantTtlMs`: how stale a merchant's settings may be before it asks the source again. */
  merchantTtlMs: number;
  /** From the first call to the first rotation, so every merchant holds a token first. */
  firstAfterMs: number;
}

/** Where a merchant's settings come from. */
export type SoakSecretSource = 'resolver' | 'file';

/** One merchant's rotations and what the gateway saw of them. */
export interface SoakRotationRow {
  merchant: string;
  gateway: 'iamport' | 'vipps';
  source: SoakSecretSource;
  /** Rotations completed: the new secret added, the source switched, the old secret revoked. */
  rotations: number;
  /** Times the registry asked `resolveMerchant` for the merchant. */
  resolves: number;
  /** Reloads of the configuration file (`watchMerchantConfig`) that changed the merchant. */
  reloads: number;
  /** Token requests the gateway received for the merchant, whichever of its secrets they presented. */
  tokenRequests: number;
  /** Token requests that presented a secret already revoked (refused): the source had not been read again in time. */
  refusedTokenRequests: number;
  /** API calls that carried a token last handed out for a secret, made after that secret was revoked. Must be 0. */
  revokedApiCalls: number;
}

/** The rotations' figures. */
export interface SoakRotationReport extends SoakRotationTiming {
  /** Merchants by source. */
  sources: Record<SoakSecretSource, number>;
  rotations: number;
  tokenRequests: number;
  /** Token requests beyond each merchant's first, ÷ rotations: 1 when each rotation costs exactly one new token. */
  tokenRequestsPerRotation: number;
  refusedTokenRequests: number;
  revokedApiCalls: number;
  /** Rotations the harness could not carry out, configurations the watcher did not apply: the run fails with any. */
  failures: string[];
  merchants: SoakRotationRow[];
}

/** One merchant as the rotations see it. */
export interface RotatingMerchant {
  merchant: string;
  gateway: 'iamport' | 'vipps';
  source: SoakSecretSource;
  /** Its id at the gateway: `impKey` or `clientId`. */
  gatewayId: string;
  /** Its settings as first written to the source. */
  settings: MerchantSettings;
}

/** A source of settings the rotations can change: the resolver's database, or a folder of secret files. */
export interface SoakSettingsSource {
  /** Points the merchant at its new secret; resolves once the source holds it (the registry reads it when it will). */
  switchSecret(merchant: string, field: string, secret: string): Promise<void>;
}

/** The resolver's side: an in-memory database of merchants, each read with a simulated round trip. */
export interface SoakMerchantDatabase extends SoakSettingsSource {
  /** A `resolveMerchant` over the database: a copy of the entry after `latencyMs`, `undefined` for an unknown id. */
  resolve(merchantId: string, context: { signal: AbortSignal }): Promise<MerchantSettings | undefined>;
}

/** A database of `merchants` (by id) that answers after `latencyMs`, as a query to a real one would. */
export function createMerchantDatabase(merchants: Readonly<Record<string, MerchantSettings>>, latencyMs = 1): SoakMerchantDatabase {
  const entries = new Map(Object.entries(merchants).map(([id, settings]) => [id, { ...settings }]));
  return {
    resolve(merchantId, { signal }) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          signal.removeEventListener('abort', abort);
          const entry = entries.get(merchantId);
          resolve(entry === undefined ? undefined : { ...entry });
        }, latencyMs);
        const abort = (): void => {
          clearTimeout(timer);
          reject(signal.reason);
        };
        signal.addEventListener('abort', abort, { once: true });
      });
    },
    async switchSecret(merchant, field, secret) {
      const entry = entries.get(merchant);
      if (entry === undefined) throw new Error(`rotation: no merchant ${merchant} in the database`);
      entries.set(merchant, { ...entry, [field]: secret });
    },
  };
}

/** A merchant configuration file whose merchants' rotated secrets are `$file` references, in a temporary folder. */
export interface SoakSecretFolder extends SoakSettingsSource {
  /** `merchants.json`, for `loadMerchantConfig` and `watchMerchantConfig`. */
  readonly configPath: string;
  /** Deletes the folder. */
  remove(): Promise<void>;
}

/**
 * Writes `merchants` to `merchants.json` in a new temporary folder, each one's `field` as `{ "$file": "secrets/<id>" }`
 * beside it. A secret is switched as an operator (or Kubernetes) does it: written to a temporary file, then renamed
 * over the old one, so no reader ever sees half a secret.
 */
export async function createSecretFolder(
  merchants: Readonly<Record<string, MerchantSettings>>,
  fieldOf: (settings: MerchantSettings) => string,
): Promise<SoakSecretFolder> {
  const folder = await mkdtemp(join(tmpdir(), 'soak-secrets-'));
  const secrets = join(folder, 'secrets');
  await mkdir(secrets);
  const write = async (merchant: string, secret: string): Promise<void> => {
    const temporary = join(secrets, `.${merchant}.${randomBytes(4).toString('hex')}`);
    await writeFile(temporary, `${secret}\n`, { mode: 0o600 });
    await rename(temporary, join(secrets, merchant));
  };
  const config: Record<string, Record<string, unknown>> = {};
  for (const [merchant, settings] of Object.entries(merchants)) {
    const field = fieldOf(settings);
    await write(merchant, String(settings[field]));
    config[merchant] = { ...settings, [field]: { $file: `secrets/${merchant}` } };
  }
  const configPath = join(folder, 'merchants.json');
  await writeFile(configPath, `${JSON.stringify({ merchants: config }, null, 2)}\n`);
  return {
    configPath,
    switchSecret: (merchant, _field, secret) => write(merchant, secret),
    remove: () => rm(folder, { recursive: true, force: true }),
  };
}

/** The secret field each gateway rotates. */
export const rotatedField = { iamport: 'impSecret', vipps: 'clientSecret' } as const;

/** A secret like the merchant's own: i'mport's are long base64url strings, Vipps' client secrets base64. */
function newSecret(gateway: 'iamport' | 'vipps'): string {
  return gateway === 'iamport' ? randomBytes(24).toString('base64url') : randomBytes(16).toString('base64');
}

/** The rotations of one run: start them with the calls, stop them at the end, then read the report. */
export interface SoakRotations {
  /** Schedules every rotation that can complete (old secret revoked) before `durationMs` from now. */
  start(durationMs: number): void;
  /** Clears every timer; a rotation under way is left as it is. */
  stop(): void;
  /** Counts a failure of the harness (a configuration the watcher did not apply): the run fails. */
  fail(message: string): void;
  /** The figures, read from the emulators' secret counters. */
  report(): SoakRotationReport;
}

export function createSoakRotations(options: {
  merchants: readonly RotatingMerchant[];
  sources: Readonly<Record<SoakSecretSource, SoakSettingsSource | undefined>>;
  /** Counts of `resolveMerchant` calls and of reloads that changed a merchant, by merchant. */
  resolves: ReadonlyMap<string, number>;
  reloads: ReadonlyMap<string, number>;
  emulators: { iamport: IamportEmulator; vipps: VippsEmulator };
  timing: SoakRotationTiming;
  log: (line: string) => void;
}): SoakRotations {
  const { merchants, timing, emulators, log } = options;
  const timers = new Set<NodeJS.Timeout>();
  const rotations = new Map(merchants.map(({ merchant }) => [merchant, 0]));
  const secrets = new Map(merchants.map(({ merchant, gateway, settings }) => [merchant, String(settings[rotatedField[gateway]])]));
  const failures: string[] = [];
  let stopped = false;

  const later = (delayMs: number, run: () => void | Promise<void>): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (stopped) return;
      Promise.resolve(run()).catch((error: unknown) => {
        // A rotation that cannot be carried out is a broken harness, not a figure: the run fails.
        const message = error instanceof Error ? error.message : String(error);
        failures.push(message);
        log(`rotation failed: ${message}`);
      });
    }, delayMs);
    timers.add(timer);
  };

  const rotate = async (rotating: RotatingMerchant): Promise<void> => {
    const { merchant, gateway, gatewayId, source } = rotating;
    const field = rotatedField[gateway];
    const emulator = emulators[gateway];
    const old = secrets.get(merchant)!;
    const fresh = newSecret(gateway);
    // Each emulator's first secret field is the one rotated: `impSecret`, `clientSecret`.
    emulator.addSecret(gatewayId, fresh);
    await options.sources[source]!.switchSecret(merchant, field, fresh);
    secrets.set(merchant, fresh);
    later(timing.graceMs, () => {
      emulator.revokeSecret(gatewayId, old);
      rotations.set(merchant, rotations.get(merchant)! + 1);
    });
  };

  return {
    start(durationMs) {
      merchants.forEach((rotating, index) => {
        const offset = timing.firstAfterMs + (index * timing.everyMs) / merchants.length;
        for (let at = offset; at + timing.graceMs < durationMs; at += timing.everyMs) later(at, () => rotate(rotating));
      });
      log(
        `rotating ${merchants.length} merchants' secrets every ${timing.everyMs / 1000} s, grace ${timing.graceMs / 1000} s, ` +
          `merchantTtlMs ${timing.merchantTtlMs}`,
      );
    },
    fail(message) {
      failures.push(message);
      log(message);
    },
    stop() {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
    report() {
      const rows = merchants.map(({ merchant, gateway, source, gatewayId }): SoakRotationRow => {
        const counters = emulators[gateway].secretCountersFor(gatewayId);
        const main = counters.filter((secret) => secret.field === rotatedField[gateway]);
        return {
          merchant,
          gateway,
          source,
          rotations: rotations.get(merchant)!,
          resolves: options.resolves.get(merchant) ?? 0,
          reloads: options.reloads.get(merchant) ?? 0,
          tokenRequests: main.reduce((sum, secret) => sum + secret.tokenRequests, 0),
          refusedTokenRequests: main.reduce((sum, secret) => sum + secret.revokedTokenRequests, 0),
          revokedApiCalls: counters.reduce((sum, secret) => sum + secret.revokedApiCalls, 0),
        };
      });
      const sum = (field: 'rotations' | 'tokenRequests' | 'refusedTokenRequests' | 'revokedApiCalls'): number =>
        rows.reduce((total, row) => total + row[field], 0);
      const rotationCount = sum('rotations');
      return {
        ...timing,
        sources: {
          resolver: rows.filter((row) => row.source === 'resolver').length,
          file: rows.filter((row) => row.source === 'file').length,
        },
        rotations: rotationCount,
        tokenRequests: sum('tokenRequests'),
        // Each merchant's first token request is its start, not a rotation's.
        tokenRequestsPerRotation: rotationCount === 0 ? 0 : (sum('tokenRequests') - rows.length) / rotationCount,
        refusedTokenRequests: sum('refusedTokenRequests'),
        revokedApiCalls: sum('revokedApiCalls'),
        failures: [...failures],
        merchants: rows,
      };
    },
  };
}
