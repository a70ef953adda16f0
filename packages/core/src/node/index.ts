/**
 * What only Node (or a runtime with Node's file system) can do: reading a merchant configuration from a file. The
 * main entry, `@x/core`, imports no Node built-in, so it also runs on Bun, Deno and Cloudflare Workers.
 *
 * @module \@x/core/node
 */
export { loadMerchantConfig } from './load-merchant-config.js';
