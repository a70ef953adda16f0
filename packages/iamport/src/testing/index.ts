/**
 * A local i'mport: token endpoint and payment API on 127.0.0.1, with i'mport's token rules and injectable faults,
 * for tests and examples.
 *
 * @module \@x/iamport/testing
 */
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
