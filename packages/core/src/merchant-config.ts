import { ConfigurationError, type ConfigurationIssue } from './errors.js';
import type { MerchantSettings, ResolveMerchant } from './merchant-registry.js';
import {
  hasControlCharacter,
  isReservedKey,
  merchantIdProblem,
  printableName,
  reservedKeyMessage,
  settingLimits,
} from './settings-checks.js';

/** A merchant configuration as `createMerchantRegistry` takes it. */
export interface MerchantConfig {
  /** Merchants by id, every `$env` reference replaced by the variable's value (and every `$file` by the file's). */
  merchants: Record<string, MerchantSettings>;
  /**
   * Reads the configuration again and returns one merchant's entry (`undefined` once the merchant is gone), for
   * `createMerchantRegistry`, which asks after the gateway rejects the merchant's credentials: so a rotated secret is
   * picked up. Rejects with a `ConfigurationError` naming the merchant when its entry has a problem. Only
   * `loadMerchantConfig` from `@x/core/node` sets it, when it reads a file: the file and the merchant's `$file`
   * secrets are read anew at each call.
   */
  resolveMerchant?: ResolveMerchant | undefined;
}

/** Options of {@link resolveMerchantConfig}. */
export interface ResolveMerchantConfigOptions {
  /** Where `{ "$env": "NAME" }` references are looked up. @default process.env (or none where there is no `process`) */
  env?: Readonly<Record<string, string | undefined>> | undefined;
}

/**
 * Resolves a merchant configuration (an object, such as a parsed JSON file) for `createMerchantRegistry`: every
 * `{ "$env": "NAME" }` reference is replaced by the environment variable's value, so secrets stay out of files.
 * Every missing variable is reported at once, with the merchant, the path and the variable's name. Errors never
 * quote a merchant's `provider`: only the registry knows which names are providers, and any other value may be a
 * misplaced secret. To read the configuration from a file, use `loadMerchantConfig` from `@x/core/node`.
 *
 * `{ "$file": "path" }` references are refused here, each as an issue: this entry reads no files (it runs where there
 * is no file system), so `loadMerchantConfig` from `@x/core/node` resolves them.
 *
 * A hostile configuration is a `ConfigurationError`, never a polluted prototype: keys named like
 * `Object.prototype`'s properties (`__proto__`, `constructor`, …) or `prototype` are refused at any depth, as are
 * merchant ids the registry would refuse and nesting deeper than 16 levels.
 *
 * @example
 * const { merchants } = resolveMerchantConfig(
 *   { merchants: { 'shop-kr': { provider: 'iamport', impKey: '…', impSecret: { $env: 'SHOP_KR_IMP_SECRET' } } } },
 *   { env: process.env },
 * );
 *
 * @throws {@link ConfigurationError} with every problem found (bad merchant ids, reserved keys, `$env` variables
 * that are not set, `$file` references), each with its merchant and path; never a value.
 */
export function resolveMerchantConfig(config: unknown, options: ResolveMerchantConfigOptions = {}): MerchantConfig {
  const { merchants, issues } = resolveReferencesIn(config, options, undefined);
  if (issues.length > 0) throw new ConfigurationError({ issues });
  return { merchants };
}

/**
 * What a `{ "$file": "path" }` reference holds: the secret, or what is wrong with it in words that never quote the
 * file's content. Synchronous, so one walk resolves `$env` and `$file` alike and reports every problem in order.
 *
 * @internal
 */
export type FileSecretLookup = (reference: string) => { secret: string } | { problem: string };

/**
 * {@link resolveMerchantConfig} that returns its issues instead of throwing, and resolves `$file` references with
 * `lookUpFile` (none in the main entry, which reads no files): what `loadMerchantConfig` builds on.
 *
 * @internal
 */
export function resolveReferencesIn(
  config: unknown,
  options: ResolveMerchantConfigOptions,
  lookUpFile: FileSecretLookup | undefined,
): { merchants: Record<string, MerchantSettings>; issues: ConfigurationIssue[] } {
  // `process` is absent on Cloudflare Workers without Node compatibility: there, pass `env` explicitly.
  const env = options.env ?? globalThis.process?.env ?? {};
  const merchants =
    typeof config === 'object' && config !== null && Object.hasOwn(config, 'merchants')
      ? (config as { merchants: unknown }).merchants
      : undefined;
  if (typeof merchants !== 'object' || merchants === null || Array.isArray(merchants)) {
    return { merchants: {}, issues: [{ path: 'merchants', message: 'required: an object of merchant id to settings' }] };
  }
  const issues: ConfigurationIssue[] = [];
  const resolved: Record<string, MerchantSettings> = {};
  for (const merchantId of Object.keys(merchants)) {
    const path = `merchants.${printableName(merchantId)}`;
    const idProblem = merchantIdProblem(merchantId);
    if (idProblem !== undefined) {
      issues.push({ path, message: idProblem });
      continue;
    }
    const entry: unknown = (merchants as Record<string, unknown>)[merchantId];
    // The merchant only: which provider names are real is the registry's to know, and an unknown one may be a
    // misplaced secret, so it is never quoted.
    const walk: Walk = { env, lookUpFile, issues, about: { merchant: merchantId } };
    resolved[merchantId] = resolveReferences(entry, path, 0, walk) as MerchantSettings;
  }
  return { merchants: resolved, issues };
}

interface Walk {
  env: ResolveMerchantConfigOptions['env'] & object;
  lookUpFile: FileSecretLookup | undefined;
  issues: ConfigurationIssue[];
  /** The merchant every issue found on this walk concerns. */
  about: Pick<ConfigurationIssue, 'merchant'>;
}

const envNamePattern = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Longest `$file` path, in characters: Linux's PATH_MAX; anything longer is a pasted value, not a path. */
const filePathMaxLength = 4096;

/** What is wrong with a `$file` reference's path, or `undefined` when it can be looked up. Never quotes it. */
function filePathProblem(reference: unknown): string | undefined {
  if (typeof reference === 'string' && reference !== '' && reference.length <= filePathMaxLength && !hasControlCharacter(reference)) {
    return undefined;
  }
  return `"$file" must be a path to a file (at most ${filePathMaxLength} characters, no control characters)`;
}

function resolveReferences(value: unknown, path: string, depth: number, walk: Walk): unknown {
  const report = (message: string): undefined => {
    walk.issues.push({ path, message, ...walk.about });
    return undefined;
  };
  if (typeof value !== 'object' || value === null) return value;
  // Recursion is bounded, so a hostile file gets an issue and not a stack overflow.
  if (depth >= settingLimits.configMaxDepth) return report(`nested more than ${settingLimits.configMaxDepth} levels deep`);
  if (Array.isArray(value)) return value.map((item, index) => resolveReferences(item, `${path}.${index}`, depth + 1, walk));
  const keys = Object.keys(value);
  const reference = keys.find((key) => key === '$env' || key === '$file');
  // `{ "$file": "…", "other": … }` is a typo or a merge gone wrong, not a setting named `$file`: refuse it.
  if (reference !== undefined && keys.length > 1) return report(`"${reference}" must be the only key of its object`);
  if (reference === '$file') {
    const filePath = (value as { $file: unknown }).$file;
    const problem = filePathProblem(filePath);
    if (problem !== undefined) return report(problem);
    if (walk.lookUpFile === undefined) {
      return report('"$file" is read by loadMerchantConfig from @x/core/node; resolveMerchantConfig reads no files');
    }
    const found = walk.lookUpFile(filePath as string);
    return 'secret' in found ? found.secret : report(found.problem);
  }
  if (reference === '$env') {
    const name = (value as { $env: unknown }).$env;
    if (typeof name !== 'string' || name.length > settingLimits.envNameMaxLength || !envNamePattern.test(name)) {
      return report(
        `"$env" must name an environment variable (letters, digits and _, at most ${settingLimits.envNameMaxLength} characters)`,
      );
    }
    // Own properties only: `{ "$env": "constructor" }` must not resolve to Object.
    const resolved = Object.hasOwn(walk.env, name) ? walk.env[name] : undefined;
    if (typeof resolved !== 'string' || resolved === '') return report(`environment variable ${name} is not set`);
    return resolved;
  }
  const copy: Record<string, unknown> = {};
  for (const key of keys) {
    const keyPath = `${path}.${printableName(key, 64)}`;
    if (isReservedKey(key)) walk.issues.push({ path: keyPath, message: reservedKeyMessage, ...walk.about });
    else copy[key] = resolveReferences((value as Record<string, unknown>)[key], keyPath, depth + 1, walk);
  }
  return copy;
}
