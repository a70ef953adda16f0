export type {
  IamportEmulator,
  IamportEmulatorCounters,
  IamportEmulatorOptions,
  IamportEmulatorToken,
  IamportFault,
  IamportFaultKind,
  IamportMerchantCredentials,
} from './iamport-emulator.js';
export { createIamportEmulator, iamportEmulatorDefaultMerchant } from './iamport-emulator.js';
