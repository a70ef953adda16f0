import { readFile } from 'node:fs/promises';
import { ConfigurationError } from '../errors.js';
import { type MerchantConfig, type ResolveMerchantConfigOptions, resolveMerchantConfig } from '../merchant-config.js';

/**
 * Reads a merchant configuration from a JSON file (or takes an object) and resolves it with
 * {@link @x/core!resolveMerchantConfig | resolveMerchantConfig}: every `{ "$env": "NAME" }` reference is replaced by
 * the environment variable's value, so secrets stay out of files, and every problem is reported at once. JSON errors
 * are reported by line and column only (the parser's own message quotes the text, which may hold a secret).
 *
 * @example
 * // merchants.json: { "merchants": { "shop-kr": { "provider": "iamport", "impKey": "…",
 * //                   "impSecret": { "$env": "SHOP_KR_IMP_SECRET" } } } }
 * const { merchants } = await loadMerchantConfig('merchants.json');
 *
 * @throws {@link @x/core!ConfigurationError | ConfigurationError} when the file cannot be read or is not JSON, or
 * with every problem found in it (bad merchant ids, reserved keys, `$env` variables that are not set), each with its
 * merchant and path; never a value.
 */
export async function loadMerchantConfig(
  pathOrObject: string | URL | { merchants: unknown },
  options: ResolveMerchantConfigOptions = {},
): Promise<MerchantConfig> {
  if (typeof pathOrObject !== 'string' && !(pathOrObject instanceof URL)) return resolveMerchantConfig(pathOrObject, options);
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
  return resolveMerchantConfig(raw, options);
}

/** Where a JSON syntax error is, as ` at line L, column C`; never the parser's message, which quotes the text. */
function jsonErrorPosition(error: unknown, text: string): string {
  const position = /at position (\d+)/.exec(error instanceof Error ? error.message : '')?.[1];
  if (position === undefined) return '';
  const before = text.slice(0, Number(position)).split('\n');
  return ` at line ${before.length}, column ${before[before.length - 1]!.length + 1}`;
}
