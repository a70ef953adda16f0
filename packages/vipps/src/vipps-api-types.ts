/**
 * The Vipps MobilePay access token API on the wire, shared by the provider and the emulator: paths, header names,
 * the response shapes and their valibot schemas. Source: the published OpenAPI description (Access token v2.0.0).
 */
import { accessTokenSchema } from '@x/core/provider';
import * as v from 'valibot';

/** The two documented hosts. */
export const vippsBaseUrls: Readonly<Record<VippsEnvironment, string>> = {
  /** The test environment, where merchants develop against test accounts. */
  test: 'https://apitest.vipps.no',
  /** Production: real money. */
  production: 'https://api.vipps.no',
} as const;

/** Which Vipps MobilePay environment: `test` (apitest.vipps.no) or `production` (api.vipps.no). */
export type VippsEnvironment = 'test' | 'production';

/** Paths of the two token endpoints. */
export const vippsTokenPaths: Readonly<Record<VippsTokenEndpoint, string>> = {
  /** `POST /accesstoken/get`: the merchant endpoint used by most APIs (1-hour test, 24-hour production tokens). */
  accesstoken: '/accesstoken/get',
  /** `POST /miami/v1/token`: the partner endpoint (15-minute tokens, no subscription key). */
  partner: '/miami/v1/token',
} as const;

/** Which token endpoint a provider calls. */
export type VippsTokenEndpoint = 'accesstoken' | 'partner';

/** Path of the ePayment API's "get payment" call, served by the emulator. */
export const vippsPaymentPathPrefix = '/epayment/v1/payments/';

/** Header names exactly as documented. HTTP header names are case-insensitive; Node's fetch sends them lower-cased. */
export const VippsHeader = {
  /** The client id ("the username"); token endpoints only. */
  ClientId: 'client_id',
  /** The client secret ("the password"); token endpoints only. */
  ClientSecret: 'client_secret',
  /** The API gateway's subscription key; sent on the merchant token call and every API call. */
  SubscriptionKey: 'Ocp-Apim-Subscription-Key',
  /** The sales unit, 4 to 6 digits. */
  MerchantSerialNumber: 'Merchant-Serial-Number',
  /** The e-commerce solution making the calls, for Vipps MobilePay's support. */
  SystemName: 'Vipps-System-Name',
  /** Its version. */
  SystemVersion: 'Vipps-System-Version',
  /** The plugin making the calls, if any. */
  SystemPluginName: 'Vipps-System-Plugin-Name',
  /** Its version. */
  SystemPluginVersion: 'Vipps-System-Plugin-Version',
} as const;

/** `Merchant-Serial-Number`: 4 to 6 digits (OpenAPI `pattern: '^[0-9]{4,6}$'`). */
export const merchantSerialNumberPattern = /^[0-9]{4,6}$/;

/** Longest value of a `Vipps-System-*` header (OpenAPI `maxLength: 30`). */
export const vippsSystemHeaderMaxLength = 30;

/** `200` from `POST /accesstoken/get`. Every numeric field is a JSON *string*. */
export interface VippsAccessTokenResponse {
  /** Always `Bearer`. */
  token_type: string;
  /** Lifetime in seconds, e.g. `"86398"`. */
  expires_in: string;
  /** Not used; `"0"`. */
  ext_expires_in: string;
  /** Expiry in epoch seconds on the gateway's clock, e.g. `"1495271273"`. */
  expires_on: string;
  /** Creation time in epoch seconds on the gateway's clock (a few minutes early, to allow for skew). */
  not_before: string;
  /** The product the token was issued for; not used. */
  resource: string;
  /** The JWT. */
  access_token: string;
}

/**
 * The body of `POST /miami/v1/token`: `application/x-www-form-urlencoded`, the OAuth 2.0 client credentials grant. The
 * client authenticates with `Authorization: Basic base64(client_id:client_secret)`, the two as they are (the guide;
 * the official SDK's generated types).
 */
export const vippsPartnerTokenRequestBody = 'grant_type=client_credentials';

/** `200` from `POST /miami/v1/token`. */
export interface VippsPartnerTokenResponse {
  /** Always `Bearer`. */
  token_type: string;
  /** Lifetime in seconds: `900` in the guide, `"900"` in the OpenAPI description; both are read. */
  expires_in: string | number;
  /** The JWT. */
  access_token: string;
}

/**
 * The identity platform's error body (Microsoft Entra ID behind the token endpoints), for wrong or unknown client
 * credentials: the shape of the official SDK's `AccessTokenError` (`vippsas/deno-sdk` `src/types_external.ts`) and of
 * the examples in `vippsas/vipps-developers` `faqs/common-errors-faq.md`.
 */
export interface VippsIdentityErrorResponse {
  /** OAuth error code, e.g. `unauthorized_client` (unknown `client_id`) or `invalid_client` (wrong secret). */
  error: string;
  /** `AADSTS<code>: <what was wrong>`, then `Trace ID`, `Correlation ID` and `Timestamp` lines. */
  error_description: string;
  /** The `AADSTS` codes as numbers, e.g. `[700016]`. */
  error_codes: number[];
  /** When, as `YYYY-MM-DD hh:mm:ssZ`. */
  timestamp: string;
  /** A GUID for the identity platform's support. */
  trace_id: string;
  /** A GUID for the identity platform's support. */
  correlation_id: string;
  /** A page about the code, e.g. `https://login.windows.net/error?code=700016`. */
  error_uri: string;
}

/**
 * The API gateway's error body (Azure API Management in front of the APIs), for a missing or wrong subscription key
 * (`vippsas/vipps-developers` `knowledge-base/errors.md`) and for a rate limit.
 */
export interface VippsApiGatewayErrorResponse {
  /** The HTTP status again, e.g. `401`. */
  statusCode: number;
  /** What was wrong, e.g. `Subscription not found.` */
  message: string;
}

/** An error body from a token endpoint, in the shape of whichever layer refused. */
export type VippsTokenErrorResponse = VippsIdentityErrorResponse | VippsApiGatewayErrorResponse;

/** A non-negative whole number sent as a string (`"86398"`) or, leniently, as a JSON number. */
const wholeSeconds = v.pipe(
  v.union([v.pipe(v.string(), v.regex(/^[0-9]{1,15}$/)), v.pipe(v.number(), v.safeInteger(), v.minValue(0))]),
  v.transform(Number),
);

/**
 * Validates either token response. Only what the provider uses is required: `access_token`, `token_type` (Bearer,
 * any case) and `expires_in`; `expires_on` and `not_before`, when present, must be epoch seconds.
 */
export const vippsTokenResponseSchema = v.object({
  /** The JWT: visible ASCII only, so it can go into a header as received. */
  access_token: accessTokenSchema,
  /** `Bearer`, in any case. */
  token_type: v.pipe(v.string(), v.regex(/^bearer$/i)),
  /** Lifetime in seconds, at least 1. */
  expires_in: v.pipe(wholeSeconds, v.minValue(1)),
  /** Expiry in epoch seconds on the gateway's clock, used to measure the clock skew. */
  expires_on: v.optional(wholeSeconds),
  /** Creation time in epoch seconds on the gateway's clock. */
  not_before: v.optional(wholeSeconds),
});

/** A token response after validation: numbers are numbers. */
export type VippsTokenResponse = v.InferOutput<typeof vippsTokenResponseSchema>;

/** The fields of an error body the provider reports, whichever shape it came in. */
export const vippsTokenErrorSchema = v.object({
  /** OAuth error code (identity service shape), e.g. `invalid_client`. */
  error: v.optional(v.string()),
  /** OAuth error description. */
  error_description: v.optional(v.string()),
  /** HTTP status (API gateway shape). */
  statusCode: v.optional(v.number()),
  /** The API gateway's message. */
  message: v.optional(v.string()),
  /** Problem summary (`application/problem+json` shape). */
  title: v.optional(v.string()),
  /** Problem detail (`application/problem+json` shape). */
  detail: v.optional(v.string()),
});
