/**
 * i'mport's (PortOne V1) wire formats, shared by the token provider (which validates what it receives) and the
 * emulator in `@x/iamport/testing` (which produces it), so the two cannot drift apart.
 */
import { accessTokenSchema } from '@x/core';
import * as v from 'valibot';

/** Path of the token endpoint, relative to the API origin. */
export const iamportTokenPath = '/users/getToken';

/** Path prefix of the single-payment lookup, `GET /payments/{imp_uid}`. */
export const iamportPaymentPathPrefix = '/payments/';

/** Body of `POST /users/getToken`. */
export const iamportTokenRequestSchema = v.object({
  imp_key: v.pipe(v.string(), v.nonEmpty()),
  imp_secret: v.pipe(v.string(), v.nonEmpty()),
});

export type IamportTokenRequest = v.InferOutput<typeof iamportTokenRequestSchema>;

/** The `response` of a successful token request. `now` and `expired_at` are UNIX seconds on i'mport's clock. */
export const iamportTokenSchema = v.object({
  access_token: accessTokenSchema,
  now: v.pipe(v.number(), v.integer(), v.minValue(0)),
  expired_at: v.pipe(v.number(), v.integer(), v.minValue(0)),
});

export type IamportToken = v.InferOutput<typeof iamportTokenSchema>;

/** i'mport's envelope of a success: `code` is 0 and `response` holds what was asked for. */
function successEnvelope<TResponse extends v.GenericSchema>(response: TResponse) {
  return v.object({ code: v.literal(0), message: v.nullish(v.string()), response });
}

/** A successful token response: `code` is 0 and `response` holds the token. */
export const iamportTokenResponseSchema = successEnvelope(iamportTokenSchema);

export type IamportTokenResponse = v.InferOutput<typeof iamportTokenResponseSchema>;

/**
 * The envelope of every i'mport answer, success or failure: a non-zero `code` is a failure and `message` says why,
 * often in Korean.
 */
export const iamportEnvelopeSchema = v.object({
  code: v.number(),
  message: v.nullish(v.string()),
  response: v.unknown(),
});

export type IamportEnvelope<TResponse = unknown> = {
  code: number;
  message: string | null;
  response: TResponse;
};

/** The fields of a payment (`GET /payments/{imp_uid}`) this library and its emulator use; i'mport sends more. */
export const iamportPaymentSchema = v.looseObject({
  imp_uid: v.string(),
  merchant_uid: v.string(),
  pay_method: v.string(),
  pg_provider: v.string(),
  name: v.nullish(v.string()),
  amount: v.number(),
  currency: v.string(),
  status: v.picklist(['ready', 'paid', 'cancelled', 'failed']),
  paid_at: v.number(),
  buyer_name: v.nullish(v.string()),
});

export type IamportPayment = v.InferOutput<typeof iamportPaymentSchema>;

/** The answer to `GET /payments/{imp_uid}`. */
export const iamportPaymentResponseSchema = successEnvelope(iamportPaymentSchema);

export type IamportPaymentResponse = v.InferOutput<typeof iamportPaymentResponseSchema>;

/** i'mport's answer to missing or wrong `imp_key`/`imp_secret` (HTTP 401), verbatim. */
export const iamportRejectedCredentialsMessage = 'imp_key, imp_secret 파라미터가 누락되었거나 올바르지 않습니다.';
