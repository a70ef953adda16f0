/**
 * A local Vipps MobilePay: both token endpoints and one API call on 127.0.0.1, with the documented header rules and
 * injectable faults, for tests and examples.
 *
 * @module \@x/vipps/testing
 */
export type {
  VippsEmulator,
  VippsEmulatorMerchant,
  VippsEmulatorOptions,
  VippsEndpointStats,
  VippsFault,
  VippsFaultTarget,
  VippsSeenRequest,
} from './vipps-emulator.js';
export { createVippsEmulator, defaultVippsMerchant } from './vipps-emulator.js';
