/**
 * A local Vipps MobilePay: both token endpoints and the ePayment flow on 127.0.0.1, with the documented header rules
 * and the `@x/core/testing` emulator kit's faults, for tests and examples.
 *
 * @module \@x/vipps/testing
 */
export type {
  VippsEmulator,
  VippsEmulatorCounters,
  VippsEmulatorMerchant,
  VippsEmulatorOptions,
  VippsFault,
  VippsFaultTarget,
} from './vipps-emulator.js';
export { createVippsEmulator, vippsEmulatorDefaultMerchant } from './vipps-emulator.js';
export type { VippsPaymentState, VippsUnknownPaymentReferences, VippsUserAction, VippsUserActionOptions } from './vipps-epayment.js';
