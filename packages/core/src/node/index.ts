/**
 * What only Node (or a runtime with Node's file system) can do: reading a merchant configuration from a file, with
 * secrets from files (`{ "$file": "secrets/shop-kr" }`) beside those from the environment, and watching it. The
 * main entry, `@x/core`, imports no Node built-in, so it also runs on Bun, Deno and Cloudflare Workers.
 *
 * @categoryDescription Merchants
 * A merchant configuration from a JSON file, its `$file` secrets read again when the gateway rejects one, and a
 * watcher that reloads the registry when the file or a secret file changes: {@link loadMerchantConfig},
 * {@link LoadMerchantConfigOptions}, {@link watchMerchantConfig}, {@link WatchMerchantConfigOptions},
 * {@link MerchantConfigWatcher}, {@link ReloadableMerchantRegistry}.
 *
 * @module \@x/core/node
 */
export type { LoadMerchantConfigOptions } from './load-merchant-config.js';
export { loadMerchantConfig } from './load-merchant-config.js';
export type {
  MerchantConfigWatcher,
  ReloadableMerchantRegistry,
  WatchMerchantConfigOptions,
} from './watch-merchant-config.js';
export { watchMerchantConfig } from './watch-merchant-config.js';
