import type { Arbitrary } from 'fast-check';
import type { ConfigurationIssue } from '../errors.js';
import type { ProviderFactory } from '../merchant-registry.js';
import type { TokenProvider } from '../token-provider.js';
import type { EmulatorFault } from './emulator-fault.js';
import type { FastCheck, TokenResponseFuzzGateway, TokenResponseFuzzKit } from './token-response-fuzz.js';

/** What the conformance suite needs of a gateway's emulator: the emulator kit's handle plus `revoke`. */
export interface ConformanceEmulator<Target extends string> {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** The emulator's counters; `tokenRequests` among them. */
  readonly counters: Readonly<Record<string, number>>;
  /** Queues a fault of the emulator kit's vocabulary. */
  fault(fault: EmulatorFault<Target>): void;
  /** Drops every queued fault. */
  clearFaults(): void;
  /** Makes the API refuse every token issued so far; returns how many were revoked. */
  revoke(): number;
  /** The requests received to `target`. */
  seen(target?: Target): readonly unknown[];
  /** Stops the server. */
  close(): Promise<void>;
}

/** A named fault: the name goes into the test's title, so it must never hold a secret. */
export type ConformanceFault<Target extends string> = readonly [name: string, fault: EmulatorFault<Target>];

/** A name for a test's title and the settings it changes (values of any type: hostile ones included). */
export type ConformanceSettingsChange = readonly [name: string, changes: Readonly<Record<string, unknown>>];

/** The gateway's own cases for the canary suite; the suite adds every fault of the emulator kit's vocabulary. */
export interface CanaryConformance<Target extends string> {
  /** Answers of the token endpoint in the gateway's own shapes (error bodies, odd tokens, echoed credentials). */
  tokenFaults: readonly ConformanceFault<Target>[];
  /** Answers of the API in the gateway's own shapes. */
  apiFaults: readonly ConformanceFault<Target>[];
  /** Wrong settings besides a wrong value of each secret setting, e.g. an unregistered client id. */
  wrongSettings: readonly ConformanceSettingsChange[];
  /** Bad configurations besides the suite's (secrets with line breaks, in URLs, repeated, of the wrong type). */
  badSettings: readonly Readonly<Record<string, unknown>>[];
  /** The fewest observed items the whole canary suite must have scanned: its report. */
  minimumScanned: number;
  /**
   * Forms of the secrets that cannot carry the canary marker, which the scanner looks for too: e.g. a Basic
   * credential, whose base64 decodes to the secret. @default []
   */
  encodedSecrets?: readonly string[] | undefined;
}

/** The gateway's own parts of the token-response fuzz. */
export interface TokenResponseConformance<Variant> {
  /** The gateway's cases for the fuzz kit, built with the kit's gateway-neutral arbitraries. */
  fuzzGateway(kit: TokenResponseFuzzKit): TokenResponseFuzzGateway<Variant>;
  /** A valid token response the other origin serves, for redirects to point to. */
  foreignTokenBody: string;
  /** A valid token response as the gateway sends it, for `variant`. */
  tokenBody(variant: Variant, accessToken: string, lifetimeSeconds: number): string;
  /** The path a `TokenResponseError` names for a bad access token, e.g. `response.access_token`. */
  accessTokenField: string;
}

/** The gateway's own parts of the settings rules. */
export interface SettingsConformance {
  /** The issue for a credential with a line break, NUL or C1 control. */
  controlCharacterMessage: string;
  /** The issue for each credential setting when it is empty, e.g. `{ impKey: 'required', impSecret: 'required' }`. */
  emptyCredentialMessages: Readonly<Record<string, string>>;
  /** More hostile credential values: a name, the value and the issue it must raise for every credential. */
  hostileCredentials: ReadonlyArray<readonly [name: string, value: unknown, message: string]>;
  /** Values worth drawing for settings other than credentials and `baseUrl`, e.g. `environment`. */
  settingArbitraries(fc: FastCheck): Readonly<Record<string, Arbitrary<unknown>>>;
}

/**
 * How a gateway describes itself to the conformance suite: its names, its emulator, its provider factory and
 * settings, and the cases only its wire format can make. `Target` is its emulator's fault targets; `Variant` tells
 * apart its token requests (e.g. Vipps' two token endpoints), `undefined` for a gateway with one.
 */
export interface ProviderConformanceGateway<Settings extends object, Target extends string, Variant = undefined> {
  /** The gateway as titles name it, e.g. `i'mport`. */
  displayName: string;
  /** The provider name on its errors, e.g. `iamport`. */
  provider: string;
  /** The test's own fast-check (`import fc from 'fast-check'`). */
  fc: FastCheck;
  /** Starts the gateway's emulator, with its default merchant's credentials holding the canary marker. */
  createEmulator(): Promise<ConformanceEmulator<Target>>;
  /** The gateway's provider factory, e.g. `createIamportProvider`. */
  createProvider: ProviderFactory & ((settings: Settings) => TokenProvider);
  /** The gateway's settings check, e.g. `validateIamportSettings`. */
  validateSettings(settings: unknown): readonly ConfigurationIssue[];
  /** Settings that are valid as they are, without `baseUrl`: the provider then uses `defaultBaseUrl`. */
  validSettings: Settings;
  /** The gateway's host when no `baseUrl` is set, e.g. `https://api.iamport.kr`. */
  defaultBaseUrl: string;
  /** The emulator's default merchant at `baseUrl`, for `variant`. */
  settingsFor(baseUrl: string, variant?: Variant): Settings;
  /** Every credential setting, e.g. `['impKey', 'impSecret']`. */
  credentialSettings: readonly string[];
  /** The credential settings that are secret, e.g. `['impSecret']`; the first is the one the suite gets wrong. */
  secretSettings: readonly string[];
  /** The variants to run the canaries on, e.g. `['accesstoken', 'partner']`; leave out for a gateway with one. */
  variants?: readonly Variant[] | undefined;
  /** The path of an API call the emulator answers with the token, e.g. `/payments/imp_1` for `index` 1. */
  apiPath(index: number): string;
  /** The fault target of the API. */
  apiTarget: Target;
  /** The fault target of the token endpoint, as `seen` counts it. */
  tokenTarget: Target;
  /** The gateway's canary cases. */
  canary: CanaryConformance<Target>;
  /** The gateway's fuzz cases. */
  tokenResponses: TokenResponseConformance<Variant>;
  /** The gateway's settings rules. */
  settings: SettingsConformance;
}

/** The values of the secret settings in the emulator's default merchant's settings. */
export function conformanceSecrets<Settings extends object, Target extends string, Variant>(
  gateway: ProviderConformanceGateway<Settings, Target, Variant>,
): string[] {
  const settings = gateway.settingsFor('http://127.0.0.1:1') as Record<string, unknown>;
  return gateway.secretSettings.map((name) => String(settings[name]));
}
