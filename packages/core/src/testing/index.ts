/**
 * What the gateway emulators and leak tests are built on: a loopback server, a bounded request body reader, byte-exact
 * raw answers for fault injection, canary secrets to look for in everything a test can observe, and another origin
 * for redirects to point to. Needs no fast-check: the kit for fuzzing a provider's token responses is
 * `@x/core/testing/fuzz`. For tests only.
 *
 * @module \@x/core/testing
 */
export type { CanaryLeak, ScanSettledOptions } from './canary.js';
export { CanaryScanner, canaryMarker, containsCanary, createCanary, maskCanaries } from './canary.js';
export type { ForeignOrigin } from './foreign-origin.js';
export { startForeignOrigin } from './foreign-origin.js';
export type { LoopbackServer } from './loopback-server.js';
export { listenOnLoopback } from './loopback-server.js';
export type { RawResponse, RawResponseEnding } from './raw-response.js';
export { validateRawResponse, writeRawResponse } from './raw-response.js';
export { emulatorMaxRequestBytes, readRequestBody } from './request-body.js';
export { createScannedTokenCache } from './scanned-token-cache.js';
