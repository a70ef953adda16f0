import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigurationError } from '../errors.js';
import { type MerchantConfig, type ResolveMerchantConfigOptions, resolveReferencesIn } from '../merchant-config.js';
import { readFileSecrets } from './file-secrets.js';

/** Options of {@link loadMerchantConfig}. */
export interface LoadMerchantConfigOptions extends ResolveMerchantConfigOptions {
  /**
   * The folder that relative `{ "$file": "path" }` references resolve against.
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
 * Kubernetes and Docker secret files end), read once, when the configuration is loaded. A relative path resolves
 * against the configuration file's folder (not the working directory), or `baseDir`; absolute paths
 * (`/run/secrets/shop-kr`) and paths leaving the folder (`../secrets/shop-kr`) are allowed, as the configuration
 * is trusted to name its own secrets. A missing, unreadable or empty file, a directory, a file over 64 KiB, one that
 * is not UTF-8 or holds control characters is a problem reported with the others; never with the file's content.
 *
 * @example
 * // merchants.json: { "merchants": { "shop-kr": { "provider": "iamport", "impKey": "…",
 * //                   "impSecret": { "$env": "SHOP_KR_IMP_SECRET" } },
 * //                 "shop-no": { "provider": "iamport", "impKey": "…", "impSecret": { "$file": "secrets/shop-no" } } } }
 * const { merchants } = await loadMerchantConfig('merchants.json');
 *
 * @throws {@link @x/core!ConfigurationError | ConfigurationError} when the file cannot be read or is not JSON, or
 * with every problem found in it (bad merchant ids, reserved keys, `$env` variables that are not set, `$file`
 * references that cannot be used), each with its merchant and path; never a value.
 */
export async function loadMerchantConfig(
  pathOrObject: string | URL | { merchants: unknown },
  options: LoadMerchantConfigOptions = {},
): Promise<MerchantConfig> {
  if (typeof pathOrObject !== 'string' && !(pathOrObject instanceof URL)) return resolveWithFiles(pathOrObject, options, options.baseDir);
  const where = String(pathOrObject);
  let text: string;
  try {
    text = await readFile(pathOrObject, 'utf8');
  } catch (error) {
    throw new ConfigurationError({
      issues: [{ path: where, message: `cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})` }],
      cause: error,
    });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConfigurationError({ issues: [{ path: where, message: `is not valid JSON${jsonErrorPosition(error, text)}` }] });
  }
  const file = pathOrObject instanceof URL ? fileURLToPath(pathOrObject) : resolve(pathOrObject);
  return resolveWithFiles(raw, options, options.baseDir ?? dirname(file));
}

/**
 * Resolves `config` in two walks of the shared resolver: the first collects the `$file` references (a placeholder
 * stands for each), then the files are read, and the second resolves with their contents, so problems of every kind
 * come out in one error, in the configuration's order. Without a `$file`, the first walk is the answer.
 */
async function resolveWithFiles(
  config: unknown,
  options: ResolveMerchantConfigOptions,
  baseDir: string | URL | undefined,
): Promise<MerchantConfig> {
  const references = new Set<string>();
  const first = resolveReferencesIn(config, options, (reference) => {
    references.add(reference);
    return { secret: '' };
  });
  const { merchants, issues } =
    references.size === 0 ? first : resolveReferencesIn(config, options, await readFileSecrets(references, baseDir));
  if (issues.length > 0) throw new ConfigurationError({ issues });
  return { merchants };
}

/** Where a JSON syntax error is, as ` at line L, column C`; never the parser's message, which quotes the text. */
function jsonErrorPosition(error: unknown, text: string): string {
  const position = /at position (\d+)/.exec(error instanceof Error ? error.message : '')?.[1];
  if (position === undefined) return '';
  const before = text.slice(0, Number(position)).split('\n');
  return ` at line ${before.length}, column ${before[before.length - 1]!.length + 1}`;
}
