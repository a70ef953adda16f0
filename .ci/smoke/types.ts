// Installed-package type check: a consumer that imports every entry point, type-checked by .ci/pack-smoke with the
// packed tarballs installed and fast-check *not* installed (it is an optional peer of @x/core, needed only by
// @x/core/testing/fuzz), under `moduleResolution` node10 (as CommonJS) and nodenext (as ESM and as CommonJS), with
// `skipLibCheck: false` so that every published declaration file is checked too. Never run, only type-checked.
import { type AuthFetch, type CachePolicy, ConfigurationError, createAuthFetch, type MerchantConfig, maxDurationMs } from '@x/core';
import { loadMerchantConfig } from '@x/core/node';
import { createTokenErrorMapper, durationProblem, type TokenErrorMapper, type TokenHttpResponse } from '@x/core/provider';
import { canaryMarker, type RawResponse } from '@x/core/testing';
import { type AuthInterceptorOptions, createAuthInterceptor } from '@x/core/undici';
import { createIamportProvider, type IamportProviderSettings } from '@x/iamport';
import { createIamportEmulator, type IamportEmulator, type IamportFault } from '@x/iamport/testing';
import { type ClientCredentialsProviderSettings, createClientCredentialsProvider } from '@x/oauth2';
import { createOAuth2Emulator, type OAuth2Emulator, type OAuth2Fault } from '@x/oauth2/testing';
import { type InstrumentTokensOptions, instrumentTokens, resendCountAttributes } from '@x/opentelemetry';
import { createPortOneProvider, type PortOneProviderSettings } from '@x/portone';
import { createPortOneEmulator, type PortOneEmulator, type PortOneFault } from '@x/portone/testing';
import { createRedisTokenStore, type RedisTokenStoreOptions } from '@x/redis';
import { type RedisServer, startRedisServer } from '@x/redis/testing';
import { createVippsProvider, type VippsProviderSettings } from '@x/vipps';
import { createVippsEmulator, type VippsEmulator, type VippsFault } from '@x/vipps/testing';
import * as v from 'valibot';

export const policy: Partial<CachePolicy> = { requestTimeoutMs: 5_000, lockWaitMs: maxDurationMs };
export const timeoutProblem: string | undefined = durationProblem(policy.requestTimeoutMs);
export const iamportSettings: IamportProviderSettings = { impKey: 'key', impSecret: 'secret' };
export const vippsSettings: VippsProviderSettings = { clientId: 'id', clientSecret: 'secret', subscriptionKey: 'key' };
export const iamportFetch: AuthFetch = createAuthFetch(createIamportProvider(iamportSettings), { policy });
export const vippsFetch: AuthFetch = createAuthFetch(createVippsProvider(vippsSettings));
export const portOneSettings: PortOneProviderSettings = { apiSecret: 'secret', mode: 'static' };
export const portOneFetch: AuthFetch = createAuthFetch(createPortOneProvider(portOneSettings));
export const portOneFault: PortOneFault = { kind: 'status', status: 401, target: 'refresh' };
export const portOneEmulator: Promise<PortOneEmulator> = createPortOneEmulator({ refreshTokenLifetimeMs: 60_000 });
export const interceptorOptions: AuthInterceptorOptions = { foreignOrigins: 'pass-through' };
export const interceptor = createAuthInterceptor(createIamportProvider(iamportSettings), interceptorOptions);
export const raw: RawResponse = { status: 503, body: canaryMarker };
export const iamportFault: IamportFault = { kind: 'slow', delayMs: 100 };
export const vippsFault: VippsFault = { kind: 'raw', ...raw };
export const paypalSettings: ClientCredentialsProviderSettings = {
  clientId: 'id',
  clientSecret: 'secret',
  preset: 'paypal',
  environment: 'sandbox',
};
export const paypalFetch: AuthFetch = createAuthFetch(createClientCredentialsProvider(paypalSettings));
export const oauth2Emulator: Promise<OAuth2Emulator> = createOAuth2Emulator({ flavor: 'paypal' });
export const oauth2Fault: OAuth2Fault = { kind: 'status', status: 401, target: 'token' };
export const emulators: Promise<[IamportEmulator, VippsEmulator]> = Promise.all([createIamportEmulator(), createVippsEmulator()]);
export const redis: Promise<RedisServer> = startRedisServer();
export const storeOptions: RedisTokenStoreOptions = { client: { sendCommand: async () => null }, plaintext: true };
export const encryptedStore = createRedisTokenStore({ client: storeOptions.client, encryptionKey: process.env.TOKEN_STORE_KEY });
export const store = createRedisTokenStore(storeOptions);
export const config: Promise<MerchantConfig> = loadMerchantConfig('merchants.json');
export const mapTokenError: TokenErrorMapper = createTokenErrorMapper({
  provider: 'acme',
  displayName: 'Acme',
  errorSchema: v.object({ error: v.string() }),
  errorDetails: (body) => ({ code: body.error }),
  isRejected: ({ status }) => status === 401,
  credentialSettings: ['clientSecret'],
  endpointSettings: 'baseUrl',
});
export const tokenHttp = (http: TokenHttpResponse): number => http.status;
export const isConfigurationError = (error: unknown): boolean => error instanceof ConfigurationError;

// The types are real, not `any`: each of these must be an error.
// @ts-expect-error: not a fault of the i'mport emulator
export const notAnIamportFault: IamportFault = { kind: 'no-such-fault' };
// @ts-expect-error: a Vipps slow fault needs its delay
export const notAVippsFault: VippsFault = { kind: 'slow' };
// @ts-expect-error: a store needs an encryptionKey or plaintext: true
export const notAStore = createRedisTokenStore({ client: storeOptions.client });
// @ts-expect-error: PortOne has two modes, token and static
export const notAPortOneMode: PortOneProviderSettings = { apiSecret: 'secret', mode: 'bearer' };
// @ts-expect-error: a duration is a number
export const notAPolicy: Partial<CachePolicy> = { requestTimeoutMs: '5s' };
export const telemetryOptions: InstrumentTokensOptions = {};
export const stopTelemetry: () => void = instrumentTokens(telemetryOptions);
export const resendAttributes: ReturnType<typeof resendCountAttributes> = resendCountAttributes();
