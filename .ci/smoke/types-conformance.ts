// Installed-package type check of the provider conformance suite: type-checked by .ci/pack-smoke once fast-check is
// installed (its declarations name fast-check's types; vitest's they do not), under `moduleResolution` node10 and
// nodenext, with `skipLibCheck: false` under nodenext. Never run.

import { describeCanaryConformance, type ProviderConformanceGateway, type SettingsConformance } from '@x/core/testing/conformance';

export const describeCanaries: (gateway: ProviderConformanceGateway<{ apiKey: string }, 'token' | 'api'>) => void =
  describeCanaryConformance;
export const settingsRules: SettingsConformance['controlCharacterMessage'] = 'must not contain control characters';
// @ts-expect-error: a gateway description is checked, not `any`
export const notAGateway: ProviderConformanceGateway<{ apiKey: string }, 'token'> = { displayName: 'Acme' };
