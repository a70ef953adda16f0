import { type TokenHttpResponse, TokenRequestError } from '@x/core';
import * as v from 'valibot';
import { iamportEnvelopeSchema } from './iamport-api-types.js';

/** i'mport's own `code` and `message` from an error envelope, when the body is one. */
export interface IamportErrorDetails {
  /** i'mport's `code`; `undefined` when the body is not an envelope. */
  code: number | undefined;
  /** i'mport's `message`, often in Korean; `undefined` when there is none. */
  message: string | undefined;
}

/** Reads i'mport's `{ code, message }` from a body, if it is an envelope at all. */
export function readIamportErrorDetails(json: unknown): IamportErrorDetails {
  const result = v.safeParse(iamportEnvelopeSchema, json);
  if (!result.success) return { code: undefined, message: undefined };
  return { code: result.output.code, message: result.output.message ?? undefined };
}

/** True when the token response is an answer this library must not parse as a token. */
export function isIamportTokenFailure(http: Pick<TokenHttpResponse, 'status' | 'json'>): boolean {
  if (http.status < 200 || http.status > 299) return true;
  const { code } = readIamportErrorDetails(http.json);
  return code !== undefined && code !== 0;
}

/**
 * Turns a failed token response into a `TokenRequestError`. Rejected credentials (HTTP 401/403, or a non-zero
 * `code`) are not retryable: asking again with the same secret only hammers i'mport. 5xx, 408 and 429 are.
 * `redact` lists strings that must never appear in the error (the secret), in case a server echoes them.
 */
export function createIamportRequestError(
  http: Pick<TokenHttpResponse, 'status' | 'json' | 'notJsonReason' | 'response'>,
  redact: readonly string[],
): TokenRequestError {
  const details = readIamportErrorDetails(http.json);
  const providerMessage = details.message === undefined ? undefined : scrub(details.message, redact);
  const { status } = http;
  const ok = status >= 200 && status <= 299;
  const retryable = status >= 500 || status === 408 || status === 429;
  const rejected = status === 401 || status === 403 || (ok && details.code !== undefined && details.code !== 0);
  const statusText = `HTTP ${status}${http.response.statusText ? ` ${http.response.statusText}` : ''}`;
  const what =
    details.code !== undefined
      ? `code ${details.code}${providerMessage === undefined ? '' : `: ${providerMessage}`}`
      : http.notJsonReason !== undefined
        ? `body is ${http.notJsonReason}`
        : "no i'mport error envelope";
  const message = rejected
    ? `i'mport rejected the token request (${statusText}, ${what}); check impKey and impSecret`
    : `Token request failed with ${statusText} (${what})`;
  return new TokenRequestError(message, {
    provider: 'iamport',
    reason: rejected ? 'rejected' : 'http',
    retryable: !rejected && retryable,
    status,
    providerCode: details.code,
    providerMessage,
    response: http.response,
  });
}

function scrub(text: string, redact: readonly string[]): string {
  let result = text;
  for (const secret of redact) {
    if (secret !== '') result = result.split(secret).join('[redacted]');
  }
  return result;
}
