import { createTokenErrorMapper } from '@x/core/provider';
import { vippsTokenErrorSchema } from './vipps-api-types.js';

/**
 * Vipps MobilePay's failed token answers as `TokenRequestError`s, from either error shape (the identity service's
 * OAuth body, the API gateway's `{ statusCode, message }`, a problem document). 400, 401 and 403 are rejected
 * credentials or headers: not retryable.
 */
export const createVippsRequestError = createTokenErrorMapper({
  provider: 'vipps',
  displayName: 'Vipps MobilePay',
  errorSchema: vippsTokenErrorSchema,
  errorDetails: (body) => ({ code: body.error ?? body.title, message: body.error_description ?? body.message ?? body.detail }),
  isRejected: ({ status }) => status === 400 || status === 401 || status === 403,
  credentialSettings: ['clientId', 'clientSecret', 'subscriptionKey'],
  endpointSettings: 'baseUrl or environment',
});
