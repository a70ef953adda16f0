/**
 * The provider conformance suite: one call per part builds the `describe`/`it` blocks every gateway runs against its
 * emulator — the secret canaries ({@link describeCanaryConformance}), the token-response fuzz
 * ({@link describeTokenResponseConformance}) and the settings rules ({@link describeSettingsConformance}). A gateway
 * describes itself once ({@link ProviderConformanceGateway}) and keeps only its truly own cases next to the calls.
 * Needs vitest, fast-check and undici (optional peers of `@x/core`, needed by no other entry point). For tests only.
 *
 * @example
 * import { describeCanaryConformance } from '@x/core/testing/conformance';
 * import { iamportConformance } from './iamport-conformance.js';
 *
 * describeCanaryConformance(iamportConformance);
 *
 * @module \@x/core/testing/conformance
 */
export { describeCanaryConformance } from '../conformance-canaries.js';
export { describeSettingsConformance } from '../conformance-settings.js';
export { describeTokenResponseConformance } from '../conformance-token-responses.js';
export type {
  CanaryConformance,
  ConformanceEmulator,
  ConformanceFault,
  ConformanceSettingsChange,
  ProviderConformanceGateway,
  SettingsConformance,
  TokenResponseConformance,
} from '../provider-conformance.js';
