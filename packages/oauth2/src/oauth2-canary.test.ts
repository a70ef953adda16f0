/**
 * Secret canaries: the provider conformance suite's every failure path of the provider, cache, bearer fetch, undici
 * interceptor and registry, against the emulator as PayPal and as a generic RFC 6749 server (each client
 * authentication method), with OAuth 2.0 error bodies, debug ids and credential echoes among the faults
 * (`oauth2-conformance.ts`).
 */
import { describeCanaryConformance } from '@x/core/testing/conformance';
import { paypalConformance, rfc6749Conformance } from '../test/oauth2-conformance.js';

describeCanaryConformance(paypalConformance);
describeCanaryConformance(rfc6749Conformance);
