import { readFile } from 'node:fs/promises';
import { ConfigurationError, type ConfigurationIssue } from './errors.js';
import type { MerchantSettings } from './merchant-registry.js';

/** A merchant configuration as `createMerchantRegistry` takes it. */
export interface MerchantConfig {
  merchants: Record<string, MerchantSettings>;
}

export interface LoadMerchantConfigOptions {
  /** Where `{ "$env": "NAME" }` references are looked up. @default process.env */
  env?: Readonly<Record<string, string | undefined>> | undefined;
}

/**
 * Reads a merchant configuration from a JSON file (or takes an object) and resolves every
 * `{ "$env": "NAME" }` reference from the environment, so secrets stay out of files. Every missing variable is
 * reported at once, with the merchant, the path and the variable's name.
 *
 * @example
 * // merchants.json: { "merchants": { "shop-kr": { "provider": "iamport", "impKey": "…",
 * //                   "impSecret": { "$env": "SHOP_KR_IMP_SECRET" } } } }
 * const { merchants } = await loadMerchantConfig('merchants.json');
 */
export async function loadMerchantConfig(
  pathOrObject: string | URL | { merchants: unknown },
  options: LoadMerchantConfigOptions = {},
): Promise<MerchantConfig> {
  const env = options.env ?? process.env;
  let raw: unknown = pathOrObject;
  if (typeof pathOrObject === 'string' || pathOrObject instanceof URL) {
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
    try {
      raw = JSON.parse(text);
    } catch (error) {
      throw new ConfigurationError({ issues: [{ path: where, message: `is not valid JSON: ${(error as Error).message}` }] });
    }
  }
  const merchants = typeof raw === 'object' && raw !== null ? (raw as { merchants?: unknown }).merchants : undefined;
  if (typeof merchants !== 'object' || merchants === null || Array.isArray(merchants)) {
    throw new ConfigurationError({ issues: [{ path: 'merchants', message: 'required: an object of merchant id to settings' }] });
  }
  const issues: ConfigurationIssue[] = [];
  const resolved = resolveReferences(merchants, 'merchants', env, issues) as Record<string, MerchantSettings>;
  if (issues.length > 0) throw new ConfigurationError({ issues });
  return { merchants: resolved };
}

function resolveReferences(
  value: unknown,
  path: string,
  env: LoadMerchantConfigOptions['env'] & object,
  issues: ConfigurationIssue[],
): unknown {
  if (Array.isArray(value)) return value.map((item, index) => resolveReferences(item, `${path}.${index}`, env, issues));
  if (typeof value !== 'object' || value === null) return value;
  const keys = Object.keys(value);
  if (keys.length === 1 && keys[0] === '$env') {
    const name = (value as { $env: unknown }).$env;
    if (typeof name !== 'string' || name === '') {
      issues.push({ path, message: '"$env" must name an environment variable' });
      return undefined;
    }
    const resolved = env[name];
    if (resolved === undefined || resolved === '') {
      issues.push({ path, message: `environment variable ${name} is not set` });
      return undefined;
    }
    return resolved;
  }
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, resolveReferences(item, `${path}.${key}`, env, issues)]));
}
