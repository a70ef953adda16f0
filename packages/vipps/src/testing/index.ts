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
