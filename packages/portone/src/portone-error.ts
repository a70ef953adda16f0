import { createTokenErrorMapper } from '@x/core/provider';
import { portOneDefaultBaseUrl, portOneErrorSchema } from './portone-api-types.js';

/**
 * PortOne's failed token answers as `TokenRequestError`s, with `type` as the `providerCode`. 400 (`INVALID_REQUEST`),
 * 401 (`UNAUTHORIZED`) and 403 refuse what was sent: not retryable. For a refresh, that is the provider's cue to log in.
 */
export const createPortOneRequestError = createTokenErrorMapper({
  provider: 'portone',
  displayName: 'PortOne',
  errorSchema: portOneErrorSchema,
  errorDetails: (body) => ({ code: body.type, message: body.message }),
  isRejected: ({ status }) => status === 400 || status === 401 || status === 403,
  credentialSettings: ['apiSecret'],
  endpointSettings: `baseUrl (PortOne's is ${portOneDefaultBaseUrl})`,
});
