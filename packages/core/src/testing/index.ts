/**
 * What the gateway emulators and leak tests are built on: a loopback server, a bounded request body reader, byte-exact
 * raw answers for fault injection, canary secrets to look for in everything a test can observe, and a kit for fuzzing a provider's token
 * responses (it takes the test's own fast-check). For tests only.
 *
 * @module \@x/core/testing
 */
export type { CanaryLeak, ScanSettledOptions } from './canary.js';
export { CanaryScanner, canaryMarker, containsCanary, createCanary, maskCanaries } from './canary.js';
export type { LoopbackServer } from './loopback-server.js';
export { listenOnLoopback } from './loopback-server.js';
export type { RawResponse, RawResponseEnding } from './raw-response.js';
export { validateRawResponse, writeRawResponse } from './raw-response.js';
export { emulatorMaxRequestBytes, readRequestBody } from './request-body.js';
export { createScannedTokenCache } from './scanned-token-cache.js';
export type {
  FastCheck,
  ForeignOrigin,
  TokenResponseFuzzCase,
  TokenResponseFuzzGateway,
  TokenResponseFuzzKit,
  TokenResponseFuzzOptions,
  TokenResponseFuzzTally,
} from './token-response-fuzz.js';
export {
  createTokenResponseFuzzKit,
  createTokenResponseFuzzTally,
  describeTokenResponseFuzzTally,
  startForeignOrigin,
} from './token-response-fuzz.js';
