/**
 * Property-based fuzzing of what a token endpoint answers, by the provider conformance suite with OAuth 2.0's own
 * bodies (`oauth2-conformance.ts`), as PayPal and as a generic RFC 6749 server. `FC_NUM_RUNS` overrides the number of
 * cases (500 each) and `FC_SEED` the seed, which is fixed so a failure replays.
 */
import { describeTokenResponseConformance } from '@x/core/testing/conformance';
import { paypalConformance, rfc6749Conformance } from '../test/oauth2-conformance.js';

describeTokenResponseConformance(paypalConformance);
describeTokenResponseConformance(rfc6749Conformance);
