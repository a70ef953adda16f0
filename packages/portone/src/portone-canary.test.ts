/**
 * Secret canaries: the provider conformance suite's every failure path of the PortOne provider, cache, bearer fetch,
 * undici interceptor and registry, against the emulator, with PortOne's own bodies among the faults
 * (`portone-conformance.ts`).
 */
import { describeCanaryConformance } from '@x/core/testing/conformance';
import { portOneConformance } from '../test/portone-conformance.js';

describeCanaryConformance(portOneConformance);
