/**
 * Property-based fuzzing of what the login endpoint answers, by the provider conformance suite with PortOne's own
 * bodies (`portone-conformance.ts`).
 * `FC_NUM_RUNS` overrides the number of cases (500) and `FC_SEED` the seed, which is fixed so a failure replays.
 */
import { describeTokenResponseConformance } from '@x/core/testing/conformance';
import { portOneConformance } from '../test/portone-conformance.js';

describeTokenResponseConformance(portOneConformance);
