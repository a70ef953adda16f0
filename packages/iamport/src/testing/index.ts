/**
 * A local i'mport: token endpoint and payment API on 127.0.0.1, with i'mport's token rules and the `@x/core/testing`
 * emulator kit's faults, for tests and examples.
 *
 * @module \@x/iamport/testing
 */
export type {
  IamportEmulator,
  IamportEmulatorCounters,
  IamportEmulatorMerchant,
  IamportEmulatorOptions,
  IamportEmulatorToken,
  IamportFault,
  IamportFaultTarget,
  IamportTokenFormat,
} from './iamport-emulator.js';
export { createIamportEmulator, iamportEmulatorDefaultMerchant } from './iamport-emulator.js';
export type { IamportTokenDecision, IamportTokenRules } from './iamport-token-rules.js';
export { decideIamportToken, iamportTokenRules } from './iamport-token-rules.js';
