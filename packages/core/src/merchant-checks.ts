import { type CachePolicy, cachePolicyFieldIssues, defaultCachePolicy } from './cache-policy.js';
import { type ConfigurationIssue, isAuthError } from './errors.js';
import type { MerchantSettings, ProviderFactory } from './merchant-registry.js';
import { isReservedKey, merchantIdProblem, ownSettings, printableName, reservedKeyIssues } from './settings-checks.js';

/** A merchant's entry taken apart: the provider's name, the merchant's own cache policy, the gateway's settings. */
export interface MerchantEntry {
  readonly name: string;
  readonly policy: Partial<CachePolicy> | undefined;
  readonly settings: Record<string, unknown>;
}

/**
 * A checked entry taken apart. `provider` and `policy` are the registry's keys, never passed to the gateway's factory;
 * only own properties are read, so a polluted `Object.prototype` cannot add a setting.
 */
export function splitEntry(entry: MerchantSettings): MerchantEntry {
  const { provider: name, policy, ...settings } = ownSettings(entry) as MerchantSettings;
  return { name, policy: policy as Partial<CachePolicy> | undefined, settings };
}

/** Every problem of a registry's `providers` and `merchants`, each naming the merchant and the path of the setting. */
export function merchantsIssues(
  providers: Readonly<Record<string, ProviderFactory>>,
  known: readonly string[],
  merchants: unknown,
  path = 'merchants',
): ConfigurationIssue[] {
  const issues: ConfigurationIssue[] = [];
  if (typeof merchants !== 'object' || merchants === null || Array.isArray(merchants)) {
    issues.push({ path, message: 'must be an object of merchant id to settings' });
    return issues;
  }
  for (const merchantId of Object.keys(merchants)) {
    issues.push(...merchantIssues(providers, known, merchantId, (merchants as Record<string, unknown>)[merchantId]));
  }
  return issues;
}

/** What is wrong with `providers` itself: none at all, or a name that is not a factory. */
export function providersIssues(providers: Readonly<Record<string, ProviderFactory>>, known: readonly string[]): ConfigurationIssue[] {
  const issues: ConfigurationIssue[] = [];
  if (known.length === 0) issues.push({ path: 'providers', message: 'at least one provider factory is required' });
  for (const name of known) {
    if (typeof providers[name] !== 'function') {
      issues.push({ path: `providers.${printableName(name)}`, message: 'must be a provider factory (a function)' });
    }
  }
  return issues;
}

/** What is wrong with one merchant's id and entry; `known` are the provider names (empty when `providers` is not an object). */
export function merchantIssues(
  providers: Readonly<Record<string, ProviderFactory>>,
  known: readonly string[],
  merchantId: string,
  entry: unknown,
): ConfigurationIssue[] {
  const path = `merchants.${printableName(merchantId)}`;
  const idProblem = merchantIdProblem(merchantId);
  if (idProblem !== undefined) return [{ path, message: idProblem }];
  const own = ownSettings(entry);
  if (own === undefined) return [{ path, message: 'must be an object with a "provider" and its settings', merchant: merchantId }];
  const { provider: name, policy, ...settings } = own;
  if (typeof name !== 'string' || name === '') {
    return [{ path: `${path}.provider`, message: `required; one of: ${known.join(', ')}`, merchant: merchantId }];
  }
  // `known` is empty when `providers` is not an object (reported by the caller), and `Object.hasOwn(null, …)` would throw.
  const factory = known.length > 0 && Object.hasOwn(providers, name) && !isReservedKey(name) ? providers[name] : undefined;
  if (typeof factory !== 'function') {
    // Not quoted: the name may come from an `$env` variable that holds a secret instead.
    return [
      {
        path: `${path}.provider`,
        message: `unknown provider; known: ${known.length === 0 ? 'none' : known.join(', ')}`,
        merchant: merchantId,
      },
    ];
  }
  const about = { merchant: merchantId, provider: name };
  // The reserved keys were left out of `settings`, so the provider's validation cannot see them: reported here.
  return [...reservedKeyIssues(entry), ...policyIssues(policy), ...settingsIssues(factory, settings)].map((issue) => ({
    path: issue.path === '' ? path : `${path}.${issue.path}`,
    message: issue.message,
    ...about,
  }));
}

/** A merchant's own `policy`: absent, or an object of known cache policy fields, each valid. */
function policyIssues(policy: unknown): ConfigurationIssue[] {
  if (policy === undefined) return [];
  if (typeof policy !== 'object' || policy === null || Array.isArray(policy)) {
    return [{ path: 'policy', message: 'must be an object of cache policy fields (refreshAheadMs, …)' }];
  }
  const unknown = Object.keys(policy)
    .filter((key) => !Object.hasOwn(defaultCachePolicy, key))
    .map((key) => ({ path: `policy.${printableName(key, 64)}`, message: 'is not a cache policy field' }));
  return [...unknown, ...cachePolicyFieldIssues(policy as Partial<CachePolicy>)];
}

function settingsIssues(factory: ProviderFactory, settings: Record<string, unknown>): readonly ConfigurationIssue[] {
  try {
    if (factory.validateSettings !== undefined) return factory.validateSettings(settings);
    // A factory without a validator is checked by creating its provider once.
    factory(settings);
    return [];
  } catch (error) {
    if (isAuthError(error) && 'issues' in error) return (error as { issues: readonly ConfigurationIssue[] }).issues;
    // Only the error's name: a third-party factory's message may quote the value it refused.
    return [{ path: '', message: `the provider's validation threw ${error instanceof Error ? error.name : typeof error}` }];
  }
}

/**
 * Whether two entries say the same: the same keys with the same values, compared deeply (settings are JSON-like). An
 * entry read again from a database or a file is a new object, and only a real change may cost a token.
 */
export function sameSettings(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every(
    (key) => Object.hasOwn(b, key) && sameSettings((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]),
  );
}
