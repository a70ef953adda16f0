import { isTokenRequestError, TokenRequestError } from '@x/core';
import { createTokenErrorMapper, type TokenRequestErrorOptions } from '@x/core/provider';
import type * as v from 'valibot';
import { vippsTokenErrorSchema } from './vipps-api-types.js';

/**
 * Which of Vipps MobilePay's layers answered a token request with an error:
 * - `api-gateway`: Azure API Management in front of the APIs, about the `Ocp-Apim-Subscription-Key` (missing,
 *   invalid, "Subscription not found.") or a rate limit; its body is `{ statusCode, message }`.
 * - `identity-platform`: the identity service behind the token endpoints, about `client_id` and `client_secret`; its
 *   body is an OAuth error (`error`, `error_description` starting `AADSTS<code>:`, `error_codes`, …).
 */
export type VippsErrorLayer = 'api-gateway' | 'identity-platform';

/** A `TokenRequestError` from a Vipps MobilePay token endpoint's answer, with the layer that gave it. */
export interface VippsTokenRequestError extends TokenRequestError {
  /**
   * The layer whose error body the answer carried: `api-gateway` (check `subscriptionKey`) or `identity-platform`
   * (check `clientId` and `clientSecret`); `undefined` when the body was in neither shape (a proxy's page, a problem
   * document). Shown in `JSON.stringify(error)`: it is not secret.
   */
  readonly refusedBy: VippsErrorLayer | undefined;
}

class VippsTokenRequestFailure extends TokenRequestError implements VippsTokenRequestError {
  readonly refusedBy: VippsErrorLayer | undefined;

  constructor(message: string, options: TokenRequestErrorOptions & { refusedBy: VippsErrorLayer | undefined }) {
    const { refusedBy, ...rest } = options;
    super(message, rest);
    this.refusedBy = refusedBy;
  }
}

/**
 * True for a {@link VippsTokenRequestError}: a `TokenRequestError` made from a Vipps MobilePay token endpoint's
 * answer, which says in `refusedBy` which layer gave it. Works across duplicated package copies (no `instanceof`).
 * Connection failures and timeouts are plain `TokenRequestError`s: no layer answered.
 *
 * @example
 * if (isVippsTokenRequestError(error) && error.refusedBy === 'api-gateway') alert('check the subscription key');
 */
export function isVippsTokenRequestError(value: unknown): value is VippsTokenRequestError {
  return isTokenRequestError(value) && value.provider === 'vipps' && Object.hasOwn(value, 'refusedBy');
}

type VippsErrorBody = v.InferOutput<typeof vippsTokenErrorSchema>;

/** The API gateway's body has `statusCode` and `message`; the identity platform's has `error`. */
function layerOf(body: VippsErrorBody | undefined): VippsErrorLayer | undefined {
  if (body === undefined) return undefined;
  if (body.statusCode !== undefined && body.message !== undefined) return 'api-gateway';
  if (body.error !== undefined) return 'identity-platform';
  return undefined;
}

const settingsToCheck: Record<VippsErrorLayer | 'unknown', readonly string[]> = {
  'api-gateway': ['subscriptionKey'],
  'identity-platform': ['clientId', 'clientSecret'],
  unknown: ['clientId', 'clientSecret', 'subscriptionKey'],
};

/**
 * Vipps MobilePay's failed token answers as {@link VippsTokenRequestError}s, from either layer's error shape (the
 * identity platform's OAuth body, the API gateway's `{ statusCode, message }`) or a problem document. 400, 401 and
 * 403 are rejected credentials or headers: not retryable; the message names the settings of the layer that refused.
 */
export const createVippsRequestError = createTokenErrorMapper({
  provider: 'vipps',
  displayName: 'Vipps MobilePay',
  errorSchema: vippsTokenErrorSchema,
  errorDetails: (body) => ({ code: body.error ?? body.title, message: body.error_description ?? body.message ?? body.detail }),
  isRejected: ({ status }) => status === 400 || status === 401 || status === 403,
  credentialSettings: (body) => settingsToCheck[layerOf(body) ?? 'unknown'],
  endpointSettings: 'baseUrl or environment',
  createError: (message, options, body) => new VippsTokenRequestFailure(message, { ...options, refusedBy: layerOf(body) }),
});
