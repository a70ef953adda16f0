/**
 * i'mport's (PortOne V1) wire formats, shared by the token provider (which validates what it receives) and the
 * emulator in `@x/iamport/testing` (which produces it), so the two cannot drift apart.
 */
import { accessTokenSchema } from '@x/core/provider';
import * as v from 'valibot';

/** Path of the token endpoint, relative to the API origin. */
export const iamportTokenPath = '/users/getToken';

/** Path prefix of the single-payment lookup, `GET /payments/{imp_uid}`. */
export const iamportPaymentPathPrefix = '/payments/';

/** Body of `POST /users/getToken`. */
export const iamportTokenRequestSchema = v.object({
  /** The REST API key from i'mport's admin console. */
  imp_key: v.pipe(v.string(), v.nonEmpty()),
  /** The REST API secret. Never logged. */
  imp_secret: v.pipe(v.string(), v.nonEmpty()),
});

/** Body of `POST /users/getToken`, as {@link iamportTokenRequestSchema} checks it. */
export type IamportTokenRequest = v.InferOutput<typeof iamportTokenRequestSchema>;

/** The `response` of a successful token request. `now` and `expired_at` are UNIX seconds on i'mport's clock. */
export const iamportTokenSchema = v.object({
  /** The bearer token: visible ASCII only, so it can go into a header as received. */
  access_token: accessTokenSchema,
  /** i'mport's clock when it answered, so the expiry can be corrected for clock skew. */
  now: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  /** When the token stops working, on i'mport's clock (a UNIX time has no time zone, whatever the docs say about KST). */
  expired_at: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
});

/** The token in a successful token response, as {@link iamportTokenSchema} checks it. */
export type IamportToken = v.InferOutput<typeof iamportTokenSchema>;

/** i'mport's envelope of a success: `code` is 0 and `response` holds what was asked for. */
function successEnvelope<TResponse extends v.GenericSchema>(response: TResponse) {
  return v.object({
    /** Always 0 in a success. */
    code: v.literal(0),
    /** `null` (or absent) in a success. */
    message: v.nullish(v.string()),
    /** What was asked for. */
    response,
  });
}

/** A successful token response: `code` is 0 and `response` holds the token. */
export const iamportTokenResponseSchema = successEnvelope(iamportTokenSchema);

/** A successful token response, as {@link iamportTokenResponseSchema} checks it. */
export type IamportTokenResponse = v.InferOutput<typeof iamportTokenResponseSchema>;

/**
 * The envelope of every i'mport answer, success or failure: a non-zero `code` is a failure and `message` says why,
 * often in Korean.
 */
export const iamportEnvelopeSchema = v.object({
  /** 0 for success; anything else is a failure. */
  code: v.number(),
  /** Why a request failed, often in Korean; `null` on success. */
  message: v.nullish(v.string()),
  /** What was asked for on success; `null` on failure. */
  response: v.unknown(),
});

/** The envelope of every i'mport answer, with `response` typed as the caller expects it. */
export type IamportEnvelope<TResponse = unknown> = {
  /** 0 for success; anything else is a failure. */
  code: number;
  /** Why a request failed, often in Korean; `null` on success. */
  message: string | null;
  /** What was asked for on success; `null` on failure. */
  response: TResponse;
};

/** The fields of a payment (`GET /payments/{imp_uid}`) this library and its emulator use; i'mport sends more. */
export const iamportPaymentSchema = v.looseObject({
  /** i'mport's id of the payment. */
  imp_uid: v.string(),
  /** The merchant's own order id. */
  merchant_uid: v.string(),
  /** How it was paid, e.g. `card`. */
  pay_method: v.string(),
  /** The payment gateway behind i'mport, e.g. `html5_inicis`. */
  pg_provider: v.string(),
  /** The order's name, when one was given. */
  name: v.nullish(v.string()),
  /** Amount in the currency's main unit (KRW has no minor unit). */
  amount: v.number(),
  /** ISO 4217 code, e.g. `KRW`. */
  currency: v.string(),
  /** Where the payment stands. */
  status: v.picklist(['ready', 'paid', 'cancelled', 'failed']),
  /** When it was paid, in UNIX seconds. */
  paid_at: v.number(),
  /** The buyer's name, when one was given. */
  buyer_name: v.nullish(v.string()),
});

/** A payment, as {@link iamportPaymentSchema} checks it. */
export type IamportPayment = v.InferOutput<typeof iamportPaymentSchema>;

/** The answer to `GET /payments/{imp_uid}`. */
export const iamportPaymentResponseSchema = successEnvelope(iamportPaymentSchema);

/** The answer to `GET /payments/{imp_uid}`, as {@link iamportPaymentResponseSchema} checks it. */
export type IamportPaymentResponse = v.InferOutput<typeof iamportPaymentResponseSchema>;

/**
 * The emulator's `message` for wrong `imp_key`/`imp_secret` (HTTP 401, `code` -1). Its own wording: no public source
 * shows the body of i'mport's 401.
 */
export const iamportRejectedCredentialsMessage = 'imp_key, imp_secret 파라미터가 누락되었거나 올바르지 않습니다.';

/**
 * i'mport's `message` for a token request without `imp_key` or `imp_secret` (`code` -1), as iamporter's and
 * iamport-rest-client-modern-php's live tests expect it (note 파라**메**터).
 */
export const iamportMissingCredentialsMessage = 'imp_key, imp_secret 파라메터가 누락되었습니다.';
