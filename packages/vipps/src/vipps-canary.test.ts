/**
 * Secret canaries: the provider conformance suite's every failure path of the Vipps provider (both token endpoints),
 * cache, bearer fetch, undici interceptor and registry, against the emulator, with Vipps' own error bodies and
 * credential echoes among the faults (`vipps-conformance.ts`).
 */
import { describeCanaryConformance } from '@x/core/testing/conformance';
import { vippsConformance } from '../test/vipps-conformance.js';

describeCanaryConformance(vippsConformance);
