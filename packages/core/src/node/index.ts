/**
 * What only Node (or a runtime with Node's file system) can do: reading a merchant configuration from a file, with
 * secrets from files (`{ "$file": "secrets/shop-kr" }`) beside those from the environment. The
 * main entry, `@x/core`, imports no Node built-in, so it also runs on Bun, Deno and Cloudflare Workers.
 *
 * @module \@x/core/node
 */
export type { LoadMerchantConfigOptions } from './load-merchant-config.js';
export { loadMerchantConfig } from './load-merchant-config.js';
