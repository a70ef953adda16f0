import { createTokenErrorMapper } from '@x/core/provider';
import { iamportEnvelopeSchema } from './iamport-api-types.js';
import { iamportDefaultBaseUrl } from './iamport-settings.js';

/**
 * i'mport's failed token answers as `TokenRequestError`s. Rejected credentials are HTTP 401/403, or HTTP 200 with a
 * non-zero `code` (i'mport refuses business requests that way too); a non-zero `code` with another status is an
 * `http` failure, retryable or not by its status.
 */
export const createIamportRequestError = createTokenErrorMapper({
  provider: 'iamport',
  displayName: "i'mport",
  errorSchema: iamportEnvelopeSchema,
  errorDetails: (body) => ({ code: body.code, message: body.message }),
  isRejected: ({ status, code }) =>
    status === 401 || status === 403 || (status >= 200 && status <= 299 && code !== undefined && code !== 0),
  credentialSettings: ['impKey', 'impSecret'],
  endpointSettings: `baseUrl (i'mport's is ${iamportDefaultBaseUrl})`,
});
