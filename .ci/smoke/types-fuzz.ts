// Installed-package type check of the fuzz kit: type-checked by .ci/pack-smoke once fast-check is installed (the
// kit's optional peer), under `moduleResolution` node10 and nodenext, with `skipLibCheck: false`. Never run.

import { createTokenResponseFuzzKit, type TokenResponseFuzzKit } from '@x/core/testing/fuzz';
import fc from 'fast-check';

export const kit: TokenResponseFuzzKit = createTokenResponseFuzzKit(fc);
export const status: fc.Arbitrary<number> = kit.status;
// @ts-expect-error: the kit's arbitraries are fast-check's, not `any`
export const notAStatus: fc.Arbitrary<string> = kit.status;
