/**
 * i'mport (PortOne V1) access tokens: the provider, its settings, the wire schemas and the error mapping.
 *
 * @module \@x/iamport
 */
export type {
  IamportEnvelope,
  IamportPayment,
  IamportPaymentResponse,
  IamportToken,
  IamportTokenRequest,
  IamportTokenResponse,
} from './iamport-api-types.js';
export {
  iamportEnvelopeSchema,
  iamportPaymentPathPrefix,
  iamportPaymentResponseSchema,
  iamportPaymentSchema,
  iamportRejectedCredentialsMessage,
  iamportTokenPath,
  iamportTokenRequestSchema,
  iamportTokenResponseSchema,
  iamportTokenSchema,
} from './iamport-api-types.js';
export type { IamportErrorDetails, IamportRequestErrorOptions } from './iamport-error.js';
export { createIamportRequestError, readIamportErrorDetails } from './iamport-error.js';
export type { IamportProviderSettings } from './iamport-settings.js';
export { iamportDefaultBaseUrl, iamportSettingsSchema, validateIamportSettings } from './iamport-settings.js';
export type { IamportProvider } from './iamport-token-provider.js';
export { createIamportProvider, iamportCachePolicy } from './iamport-token-provider.js';
