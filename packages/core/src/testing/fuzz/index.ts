/**
 * A kit for fuzzing a token provider's responses with fast-check: gateway-neutral arbitraries (statuses, content
 * types, bodies cut short) and a runner that serves each case from the gateway's emulator and checks what the token
 * cache makes of it. It takes the test's own fast-check (`createTokenResponseFuzzKit(fc)`); fast-check, an optional
 * peer dependency, is needed to type-check this entry point, and by no other. For tests only.
 *
 * @module \@x/core/testing/fuzz
 */
export type {
  FastCheck,
  TokenResponseFuzzCase,
  TokenResponseFuzzFault,
  TokenResponseFuzzGateway,
  TokenResponseFuzzKit,
  TokenResponseFuzzOptions,
  TokenResponseFuzzTally,
} from '../token-response-fuzz.js';
export { createTokenResponseFuzzKit, createTokenResponseFuzzTally, describeTokenResponseFuzzTally } from '../token-response-fuzz.js';
