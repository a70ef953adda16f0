/**
 * Secret canaries: the provider conformance suite's every failure path of the i'mport provider, cache, bearer fetch,
 * undici interceptor and registry, against the emulator, with i'mport's own envelopes among the faults
 * (`iamport-conformance.ts`).
 */
import { describeCanaryConformance } from '@x/core/testing/conformance';
import { iamportConformance } from '../test/iamport-conformance.js';

describeCanaryConformance(iamportConformance);
