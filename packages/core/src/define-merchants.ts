import type { CachePolicy } from './cache-policy.js';
import type { ProviderFactory } from './merchant-registry.js';
import type { TokenProvider } from './token-provider.js';

/**
 * The settings a provider factory takes: its first parameter's type (`IamportProviderSettings` for
 * `createIamportProvider`). `any` for a factory typed only as {@link ProviderFactory}: its merchants are checked by the
 * registry alone.
 */
export type ProviderSettingsOf<Factory> = Factory extends (settings: infer Settings) => TokenProvider ? Settings : unknown;

/**
 * One merchant's entry for the given provider factories, with the settings of the factory its `provider` names: a
 * union over the provider names, so `{ provider: 'iamport', impSecert }` is a compile error (an unknown key, and a
 * missing `impSecret`), as is a `provider` that is not one of the names. The registry's own keys, `provider` and
 * `policy`, are not passed to the factory.
 *
 * Use it with `satisfies` where an entry is written without {@link defineMerchants}:
 * `registry.update('shop-kr', { … } satisfies MerchantSettingsFor<typeof providers>)`.
 */
export type MerchantSettingsFor<Providers extends Readonly<Record<string, ProviderFactory>>> = {
  // `Omit` also makes an interface's settings a mapped type, which (unlike the interface) is assignable to
  // `MerchantSettings`' index signature.
  [Name in keyof Providers & string]: {
    /** Name of the provider in the registry's `providers`. */
    provider: Name;
    /** This merchant's cache policy, over the registry's `policy` and `policies` and the provider's own tuning. */
    policy?: Partial<CachePolicy> | undefined;
  } & Omit<ProviderSettingsOf<Providers[Name]>, 'provider' | 'policy'>;
}[keyof Providers & string];

/**
 * A setting's value as `resolveMerchantConfig` and `loadMerchantConfig` (`@x/core/node`) take it: the value itself, or
 * a reference to an environment variable or a file that holds it.
 */
export type MerchantConfigValue<Value> =
  | Value
  | {
      /** Name of the environment variable that holds the value. */
      $env: string;
    }
  | {
      /** Path of the file that holds the value (read by `loadMerchantConfig` only). */
      $file: string;
    };

/**
 * A merchant configuration with `{ "$env": "NAME" }` and `{ "$file": "path" }` references, as `resolveMerchantConfig`
 * takes it, typed by the provider factories: every setting may be a reference; `provider` is a provider's name.
 *
 * For a configuration written in TypeScript: `const config = { merchants: { … } } satisfies
 * MerchantConfigFor<typeof providers>`. A `.json` file cannot be checked so: TypeScript reads its strings as `string`,
 * not as provider names; the registry checks such a file when it starts.
 */
export interface MerchantConfigFor<Providers extends Readonly<Record<string, ProviderFactory>>> {
  /** Merchants by id. */
  merchants: Record<
    string,
    {
      [Name in keyof Providers & string]: {
        /** Name of the provider in the registry's `providers`. */
        provider: Name;
        /** This merchant's cache policy, over the registry's `policy` and `policies` and the provider's own tuning. */
        policy?: Partial<CachePolicy> | undefined;
      } & {
        [Setting in keyof Omit<ProviderSettingsOf<Providers[Name]>, 'provider' | 'policy'>]: MerchantConfigValue<
          Omit<ProviderSettingsOf<Providers[Name]>, 'provider' | 'policy'>[Setting]
        >;
      };
    }[keyof Providers & string]
  >;
}

/**
 * Types a merchants object for `createMerchantRegistry` by the provider factories it will be given: each entry's
 * settings are those of the factory its `provider` names, so a misspelt setting, a missing required one or an unknown
 * provider is a compile error. At run time it returns `merchants` as it is: the registry checks the settings when it
 * is created (and reports every problem at once), as it does for merchants from a file.
 *
 * @param providers The same provider factories the registry gets; only their types are used.
 * @param merchants Merchants by id, each with its `provider`, its settings and optionally its own `policy`.
 * @returns `merchants`, unchanged.
 *
 * @example
 * const providers = { iamport: createIamportProvider, vipps: createVippsProvider };
 * const merchants = defineMerchants(providers, {
 *   'shop-kr': { provider: 'iamport', impKey: 'imp_apikey', impSecret: process.env.IMP_SECRET! },
 *   'shop-no': { provider: 'vipps', clientId, clientSecret, subscriptionKey, environment: 'production' },
 * });
 * const registry = createMerchantRegistry({ providers, merchants });
 */
export function defineMerchants<Providers extends Readonly<Record<string, ProviderFactory>>, const Id extends string>(
  providers: Providers,
  merchants: { readonly [MerchantId in Id]: MerchantSettingsFor<Providers> },
): { readonly [MerchantId in Id]: MerchantSettingsFor<Providers> } {
  // Only the types of `providers` matter; the registry validates the factories and the settings.
  void providers;
  return merchants;
}
