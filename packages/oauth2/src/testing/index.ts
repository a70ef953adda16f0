/**
 * A local OAuth 2.0 authorization server for the client credentials grant, as a generic RFC 6749 server or as PayPal,
 * on the `@x/core/testing` emulator kit, for tests and examples.
 *
 * @categoryDescription Emulator
 * The server and its options: {@link createOAuth2Emulator}, {@link OAuth2Emulator}, {@link OAuth2EmulatorOptions},
 * {@link OAuth2EmulatorFlavor}, {@link OAuth2EmulatorAuthMethod}, {@link OAuth2EmulatorCounters}; its clients:
 * {@link OAuth2EmulatorMerchant}, {@link oauth2EmulatorDefaultMerchant}; its faults: {@link OAuth2Fault},
 * {@link OAuth2FaultTarget}.
 *
 * @module \@x/oauth2/testing
 */
export type {
  OAuth2Emulator,
  OAuth2EmulatorAuthMethod,
  OAuth2EmulatorCounters,
  OAuth2EmulatorFlavor,
  OAuth2EmulatorMerchant,
  OAuth2EmulatorOptions,
  OAuth2Fault,
  OAuth2FaultTarget,
} from './oauth2-emulator.js';
export { createOAuth2Emulator, oauth2EmulatorDefaultMerchant } from './oauth2-emulator.js';
