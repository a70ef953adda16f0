import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigurationError, type ConfigurationIssue } from '../errors.js';
import { type MerchantConfig, type ResolveMerchantConfigOptions, resolveReferencesIn } from '../merchant-config.js';
import type { MerchantSettings, ResolveMerchant } from '../merchant-registry.js';
import { readFileSecrets, secretFilePath } from './file-secrets.js';

/** Options of {@link loadMerchantConfig}. */
export interface LoadMerchantConfigOptions extends ResolveMerchantConfigOptions {
  /**
   * The folder that relative `{ "$file": "path" }` references resolve against (a relative `baseDir` against the
   * working directory when the configuration is loaded).
   * @default the configuration file's folder; none for an object, whose relative `$file` references are then refused
   */
  baseDir?: string | URL | undefined;
}

/**
 * Reads a merchant configuration from a JSON file (or takes an object) and resolves it like
 * {@link @x/core!resolveMerchantConfig | resolveMerchantConfig}: every `{ "$env": "NAME" }` reference is replaced by
 * the environment variable's value, so secrets stay out of files, and every problem is reported at once. JSON errors
 * are reported by line and column only (the parser's own message quotes the text, which may hold a secret).
 *
 * Every `{ "$file": "path" }` reference is replaced by that file's content, less one trailing `\n` or `\r\n` (as
 * Kubernetes and Docker secret files end), read when the configuration is loaded. A relative path resolves
 * against the configuration file's folder (not the working directory), or `baseDir`; absolute paths
 * (`/run/secrets/shop-kr`) and paths leaving the folder (`../secrets/shop-kr`) are allowed, as the configuration
 * is trusted to name its own secrets. A missing, unreadable or empty file, a directory, a file over 64 KiB, one that
 * is not UTF-8 or holds control characters is a problem reported with the others; never with the file's content.
 *
 * Loaded from a file, the configuration also has a `resolveMerchant` that reads the file and one merchant's `$file`
 * secrets again: spread into `createMerchantRegistry`'s options, it lets the registry pick up a rotated secret file
 * as soon as the gateway rejects the old secret. The file's path and `baseDir` are made absolute now, so a later
 * change of the working directory changes nothing. {@link watchMerchantConfig} reloads the registry on every change.
 *
 * @example
 * // merchants.json: { "merchants": { "shop-kr": { "provider": "iamport", "impKey": "…",
 * //                   "impSecret": { "$env": "SHOP_KR_IMP_SECRET" } },
 * //                 "shop-no": { "provider": "iamport", "impKey": "…", "impSecret": { "$file": "secrets/shop-no" } } } }
 * const registry = createMerchantRegistry({ providers: { iamport: createIamportProvider },
 *   ...(await loadMerchantConfig('merchants.json')) });
 *
 * @throws {@link @x/core!ConfigurationError | ConfigurationError} when the file cannot be read or is not JSON, or
 * with every problem found in it (bad merchant ids, reserved keys, `$env` variables that are not set, `$file`
 * references that cannot be used), each with its merchant and path; never a value.
 */
export async function loadMerchantConfig(
  pathOrObject: string | URL | { merchants: unknown },
  options: LoadMerchantConfigOptions = {},
): Promise<MerchantConfig> {
  if (typeof pathOrObject !== 'string' && !(pathOrObject instanceof URL)) {
    return resolveWithFiles(pathOrObject, options, absoluteFolder(options.baseDir));
  }
  const source = configSourceOf(pathOrObject, options.baseDir);
  const read = await readConfigFile(source);
  if ('issues' in read) throw new ConfigurationError(read);
  const { merchants } = await resolveWithFiles(read.config, options, source.baseDir);
  return { merchants, resolveMerchant: createResolveMerchant(source, { env: options.env }) };
}

/**
 * A configuration file and the folder its relative `$file` paths resolve against, both absolute: fixed when the file
 * is first loaded, so reading it again later does not depend on the working directory of that moment.
 *
 * @internal
 */
export interface ConfigSource {
  /** The file's absolute path. */
  file: string;
  /** The path as the caller gave it, for messages. */
  shownAs: string;
  /** The absolute folder relative `$file` paths resolve against. */
  baseDir: string;
}

/** @internal */
export function configSourceOf(path: string | URL, baseDir: string | URL | undefined): ConfigSource {
  const file = path instanceof URL ? fileURLToPath(path) : resolve(path);
  return { file, shownAs: String(path), baseDir: absoluteFolder(baseDir) ?? dirname(file) };
}

function absoluteFolder(folder: string | URL | undefined): string | undefined {
  return folder === undefined ? undefined : folder instanceof URL ? fileURLToPath(folder) : resolve(folder);
}

/** What reading a configuration file gave: the parsed JSON, or what an error about it is made of. */
type ConfigRead = { config: unknown } | { issues: ConfigurationIssue[]; cause?: unknown };

/**
 * Reads and parses a configuration file. Returns its problem instead of throwing, so callers that share one read
 * each make their own error (naming their merchant).
 *
 * @internal
 */
export async function readConfigFile(source: ConfigSource): Promise<ConfigRead> {
  let text: string;
  try {
    text = await readFile(source.file, 'utf8');
  } catch (error) {
    return {
      issues: [{ path: source.shownAs, message: `cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})` }],
      cause: error,
    };
  }
  try {
    return { config: JSON.parse(text) };
  } catch (error) {
    return { issues: [{ path: source.shownAs, message: `is not valid JSON${jsonErrorPosition(error, text)}` }] };
  }
}

/** @internal */
export interface ResolveWithFilesHooks {
  /** Stops reading secret files. */
  signal?: AbortSignal | undefined;
  /** Told the absolute paths of every `$file` reference, before any of them is read. */
  onSecretFiles?: ((files: readonly string[]) => Promise<void>) | undefined;
}

/**
 * Resolves `config` in two walks of the shared resolver: the first collects the `$file` references (a placeholder
 * stands for each), then the files are read, and the second resolves with their contents, so problems of every kind
 * come out in one error, in the configuration's order. Without a `$file`, the first walk is the answer.
 *
 * @internal
 */
export async function resolveWithFiles(
  config: unknown,
  options: ResolveMerchantConfigOptions,
  baseDir: string | undefined,
  hooks: ResolveWithFilesHooks = {},
): Promise<{ merchants: Record<string, MerchantSettings> }> {
  const references = new Set<string>();
  const first = resolveReferencesIn(config, options, (reference) => {
    references.add(reference);
    return { secret: '' };
  });
  if (hooks.onSecretFiles !== undefined) {
    const files = [...references].map((reference) => secretFilePath(reference, baseDir));
    await hooks.onSecretFiles(files.filter((file) => file !== undefined));
  }
  const { merchants, issues } =
    references.size === 0 ? first : resolveReferencesIn(config, options, await readFileSecrets(references, baseDir, hooks.signal));
  if (issues.length > 0) throw new ConfigurationError({ issues });
  return { merchants };
}

/**
 * The `resolveMerchant` of a configuration loaded from `source`. Merchants asked for at once share one read of the
 * configuration file (after a rotation, every merchant of a secret is rejected at once, and a file of 100,000
 * merchants is worth parsing once); each reads its own secret files, and makes its own error.
 */
function createResolveMerchant(source: ConfigSource, options: ResolveMerchantConfigOptions): ResolveMerchant {
  let reading: Promise<ConfigRead> | undefined;
  const readShared = (): Promise<ConfigRead> => {
    reading ??= readConfigFile(source).finally(() => {
      reading = undefined;
    });
    return reading;
  };
  return async function resolveMerchant(merchantId, context) {
    const signal = context?.signal;
    const read = await abortable(readShared(), signal);
    if ('issues' in read) throw new ConfigurationError({ ...read, merchant: merchantId });
    const { config } = read;
    const merchants =
      typeof config === 'object' && config !== null && Object.hasOwn(config, 'merchants')
        ? (config as { merchants: unknown }).merchants
        : undefined;
    if (typeof merchants !== 'object' || merchants === null || Array.isArray(merchants)) {
      const { issues } = resolveReferencesIn(config, options, undefined);
      throw new ConfigurationError({ issues, merchant: merchantId });
    }
    if (typeof merchantId !== 'string' || !Object.hasOwn(merchants, merchantId)) return undefined;
    // `fromEntries` defines the key as the configuration's own, `__proto__` included, for the resolver to refuse.
    const one = Object.fromEntries([[merchantId, (merchants as Record<string, unknown>)[merchantId]]]);
    const resolved = await resolveWithFiles({ merchants: one }, options, source.baseDir, { signal });
    signal?.throwIfAborted();
    return resolved.merchants[merchantId];
  };
}

/** `promise`, or a rejection with the signal's reason as soon as it is aborted. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolvePromise, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolvePromise, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Where a JSON syntax error is, as ` at line L, column C`; never the parser's message, which quotes the text. */
function jsonErrorPosition(error: unknown, text: string): string {
  const position = /at position (\d+)/.exec(error instanceof Error ? error.message : '')?.[1];
  if (position === undefined) return '';
  const before = text.slice(0, Number(position)).split('\n');
  return ` at line ${before.length}, column ${before[before.length - 1]!.length + 1}`;
}
