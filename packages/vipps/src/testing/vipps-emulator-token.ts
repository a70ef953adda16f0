/**
 * The token endpoints' side of the Vipps MobilePay emulator: how a token request presents its credentials (the
 * documented OAuth 2.0 form of the partner endpoint, or the `client_id`/`client_secret` headers), and the answers of
 * the two layers that can refuse it, the API gateway (Azure API Management) and the identity platform (Microsoft
 * Entra ID), in their own shapes. The README's fidelity table names the public source of each.
 */
import { randomUUID } from 'node:crypto';
import type { EmulatorRequest } from '@x/core/testing';
import {
  type VippsApiGatewayErrorResponse,
  VippsHeader,
  type VippsIdentityErrorResponse,
  type VippsTokenEndpoint,
  vippsTokenPaths,
} from '../vipps-api-types.js';

/** How a token request presented its credentials. */
export type VippsTokenRequestForm =
  /** `Authorization: Basic base64(client_id:client_secret)`, the form body `grant_type=client_credentials`: the partner endpoint's documented form. */
  | 'client-credentials'
  /** The `client_id` and `client_secret` headers: `/accesstoken/get`'s form, and the partner endpoint's before. */
  | 'legacy-headers'
  /** Neither. */
  | 'none';

/** The credentials a token request presented, and how. */
export interface PresentedTokenCredentials {
  /** Which form they came in. */
  form: VippsTokenRequestForm;
  /** The `client_id`, when one was presented. */
  clientId: string | undefined;
  /** The `client_secret`, when one was presented. */
  clientSecret: string | undefined;
  /** The form body's `grant_type` (documented form only), when there is one. */
  grantType: string | undefined;
}

/** The token endpoint a path names, compared without regard to case: the official plugins call `/accessToken/get`. */
export function tokenEndpointOf(path: string): VippsTokenEndpoint | undefined {
  const lower = path.toLowerCase();
  return (Object.keys(vippsTokenPaths) as VippsTokenEndpoint[]).find((endpoint) => vippsTokenPaths[endpoint] === lower);
}

/**
 * Reads a token request's credentials. The partner endpoint takes the documented Basic form first, then the legacy
 * headers; `/accesstoken/get` takes the headers only. The Basic credential is decoded as UTF-8 and split at its first
 * colon, the secret compared as it is: one form-encoded before base64 (`%3D%3D` for `==`) is another secret.
 */
export function presentedCredentials(endpoint: VippsTokenEndpoint, request: EmulatorRequest): PresentedTokenCredentials {
  const { headers } = request;
  const basic = endpoint === 'partner' ? /^basic\s+(\S*)\s*$/i.exec(headers.authorization ?? '')?.[1] : undefined;
  if (basic !== undefined) {
    const decoded = Buffer.from(basic, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const contentType = headers['content-type'] ?? '';
    // Only a form body carries grant_type; the published types mark it optional, so its absence is not refused.
    const form = /^application\/x-www-form-urlencoded\b/i.test(contentType)
      ? new URLSearchParams(request.body.toString('utf8'))
      : undefined;
    return {
      form: 'client-credentials',
      clientId: colon === -1 ? decoded : decoded.slice(0, colon),
      clientSecret: colon === -1 ? undefined : decoded.slice(colon + 1),
      grantType: form?.get('grant_type') ?? undefined,
    };
  }
  const clientId = headers[VippsHeader.ClientId];
  const clientSecret = headers[VippsHeader.ClientSecret];
  const form = clientId === undefined && clientSecret === undefined ? 'none' : 'legacy-headers';
  return { form, clientId, clientSecret, grantType: undefined };
}

/** The refusals of the identity platform the emulator gives, by what was wrong. */
export type IdentityRefusal = 'missing-client-id' | 'missing-secret' | 'unknown-client' | 'wrong-secret' | 'unsupported-grant';

/**
 * The identity platform's answer to a refused token request: status, `error`, and an `AADSTS` code and text. An
 * unknown `client_id` is documented (400, AADSTS700016); the others are Entra ID's usual answers, inferred.
 */
const identityRefusals: Record<IdentityRefusal, { status: number; error: string; code: number; text: (detail: string) => string }> = {
  'missing-client-id': {
    status: 400,
    error: 'invalid_request',
    code: 900144,
    text: () => "The request body must contain the following parameter: 'client_id'.",
  },
  'missing-secret': {
    status: 401,
    error: 'invalid_client',
    code: 7000218,
    text: () => "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
  },
  'unknown-client': {
    status: 400,
    error: 'unauthorized_client',
    code: 700016,
    text: (clientId) =>
      `Application with identifier '${clientId}' was not found in the directory 'VIPPS-TEST'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
  },
  'wrong-secret': {
    status: 401,
    error: 'invalid_client',
    code: 7000215,
    text: (clientId) =>
      `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
  },
  'unsupported-grant': {
    status: 400,
    error: 'unsupported_grant_type',
    code: 70003,
    text: (grantType) => `The app requested an unsupported grant type '${grantType}'.`,
  },
};

/**
 * The identity platform's refusal, its full body: `error`, `error_description` (`AADSTS<code>: …` with the trace and
 * correlation ids and the time), `error_codes`, `timestamp`, `trace_id`, `correlation_id`, `error_uri`. `detail` is
 * the client id (or grant type) the text names: a client id is not secret. `now` is the gateway's clock.
 */
export function identityPlatformError(
  refusal: IdentityRefusal,
  detail: string,
  now: number,
): { status: number; body: VippsIdentityErrorResponse } {
  const { status, error, code, text } = identityRefusals[refusal];
  const timestamp = new Date(now)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
  const traceId = randomUUID();
  const correlationId = randomUUID();
  return {
    status,
    body: {
      error,
      error_description: `AADSTS${code}: ${text(detail)}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
      error_codes: [code],
      timestamp,
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: `https://login.windows.net/error?code=${code}`,
    },
  };
}

/** The API gateway's refusals of a subscription key, word for word as Vipps MobilePay's error guide lists them. */
export const apiGatewayMessages = {
  /** No `Ocp-Apim-Subscription-Key`. */
  missingKey: 'Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.',
  /** A key of no active subscription. */
  invalidKey: 'Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.',
  /** A valid key, but not of the client credentials' sales unit (the pairing is inferred; the message is listed). */
  subscriptionNotFound: 'Subscription not found.',
} as const;

/** The API gateway's `401 { statusCode, message }`. */
export function apiGatewayError(message: string): { status: number; body: VippsApiGatewayErrorResponse } {
  return { status: 401, body: { statusCode: 401, message } };
}

/** How long the emulated rate limit asks a client to wait, in whole seconds (`Retry-After`). */
export const rateLimitRetryAfterSeconds = 1;

/** The API gateway's rate limit: `429 { statusCode, message }` with `Retry-After` (Azure API Management's `rate-limit` policy). */
export function rateLimitBody(): VippsApiGatewayErrorResponse {
  return { statusCode: 429, message: `Rate limit is exceeded. Try again in ${rateLimitRetryAfterSeconds} seconds.` };
}
