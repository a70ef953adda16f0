/**
 * What the gateway emulators and leak tests are built on: the emulator kit (a loopback server, one fault vocabulary,
 * counters, credential sets with rotatable secrets, a settable clock), a bounded request body reader, byte-exact raw answers, canary secrets to look for in everything a test can observe, and another origin
 * for redirects to point to. Needs no fast-check: the kit for fuzzing a provider's token responses is
 * `@x/core/testing/fuzz`. For tests only.
 *
 * @categoryDescription Emulator kit
 * The server a gateway emulator is built on, its routes and its token rules: {@link createEmulatorKit},
 * {@link EmulatorKit}, {@link EmulatorDefinition}, {@link Emulator}, {@link EmulatorOptions}, {@link EmulatorRoute},
 * {@link EmulatorRequest}, {@link EmulatorAnswer}, {@link EmulatorSeenRequest}, {@link listenOnLoopback},
 * {@link LoopbackServer}, {@link LoopbackListenOptions}, {@link readRequestBody}, {@link emulatorMaxRequestBytes}; rotating secrets:
 * {@link EmulatorSecretCounters}, {@link EmulatorSecretStatus}.
 *
 * @categoryDescription Standalone emulators
 * A gateway's emulator as a command (`x-iamport-emulator --port 8080`) for tests in any language, with one set of
 * flags, one config file format and one lifecycle for every gateway: {@link runEmulatorCli},
 * {@link EmulatorCliDefinition}, {@link EmulatorCliSetting}, {@link EmulatorCliMerchantField}, {@link EmulatorCliServer}.
 *
 * @categoryDescription Faults
 * One fault vocabulary for every emulator, and byte-exact answers: {@link EmulatorFault}, {@link EmulatorFaultKind},
 * {@link EmulatorFaultOptions}, {@link EmulatorFaultBodies}, {@link answerEmulatorFault},
 * {@link validateEmulatorFault}, {@link RawResponse}, {@link RawResponseEnding}, {@link writeRawResponse},
 * {@link validateRawResponse}.
 *
 * @categoryDescription Leak checks
 * Canary secrets looked for in everything a test can observe, and another origin for redirects to point to:
 * {@link CanaryScanner}, {@link CanaryLeak}, {@link ScanSettledOptions}, {@link createCanary}, {@link canaryMarker},
 * {@link containsCanary}, {@link maskCanaries}, {@link createScannedTokenCache}, {@link startForeignOrigin},
 * {@link ForeignOrigin}.
 *
 * @module \@x/core/testing
 */
export type { CanaryLeak, ScanSettledOptions } from './canary.js';
export { CanaryScanner, canaryMarker, containsCanary, createCanary, maskCanaries } from './canary.js';
export type { EmulatorCliDefinition, EmulatorCliMerchantField, EmulatorCliServer, EmulatorCliSetting } from './emulator-cli.js';
export { runEmulatorCli } from './emulator-cli.js';
export type { EmulatorFault, EmulatorFaultBodies, EmulatorFaultKind, EmulatorFaultOptions } from './emulator-fault.js';
export { answerEmulatorFault, validateEmulatorFault } from './emulator-fault.js';
export type {
  Emulator,
  EmulatorAnswer,
  EmulatorDefinition,
  EmulatorKit,
  EmulatorOptions,
  EmulatorRequest,
  EmulatorRoute,
  EmulatorSecretCounters,
  EmulatorSecretStatus,
  EmulatorSeenRequest,
} from './emulator-kit.js';
export { createEmulatorKit } from './emulator-kit.js';
export type { ForeignOrigin } from './foreign-origin.js';
export { startForeignOrigin } from './foreign-origin.js';
export type { LoopbackListenOptions, LoopbackServer } from './loopback-server.js';
export { listenOnLoopback } from './loopback-server.js';
export type { RawResponse, RawResponseEnding } from './raw-response.js';
export { validateRawResponse, writeRawResponse } from './raw-response.js';
export { emulatorMaxRequestBytes, readRequestBody } from './request-body.js';
export { createScannedTokenCache } from './scanned-token-cache.js';
