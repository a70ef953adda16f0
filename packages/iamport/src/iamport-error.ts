import { redactGatewayText, type TokenHttpResponse, TokenRequestError } from '@x/core';
import * as v from 'valibot';
import { iamportEnvelopeSchema } from './iamport-api-types.js';
import { iamportDefaultBaseUrl } from './iamport-settings.js';

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

/** What {@link createIamportRequestError} needs besides the response. */
export interface IamportRequestErrorOptions {
  /** The token endpoint's URL, named in the message of an answer that says the URL is wrong (404, a redirect). */
  tokenUrl: string;
  /** Strings that must never appear in the error (the secret sent), in case a server echoes them. */
  secrets: readonly string[];
}

/**
 * Turns a failed token response into a `TokenRequestError`. Rejected credentials (HTTP 401/403, or a non-zero
 * `code`) are not retryable: asking again with the same secret only hammers i'mport. 5xx, 408 and 429 are. Every
 * string of the server's that the error carries (status text, content type, i'mport's message) goes through
 * `redactGatewayText` with `options.secrets`.
 */
export function createIamportRequestError(
  http: Pick<TokenHttpResponse, 'status' | 'statusText' | 'json' | 'notJsonReason' | 'response'>,
  options: IamportRequestErrorOptions,
): TokenRequestError {
  const details = readIamportErrorDetails(http.json);
  const providerMessage = details.message === undefined ? undefined : redactGatewayText(details.message, options.secrets);
  const { status } = http;
  const ok = status >= 200 && status <= 299;
  const retryable = status >= 500 || status === 408 || status === 429;
  const rejected = status === 401 || status === 403 || (ok && details.code !== undefined && details.code !== 0);
  // Redacted again: a third party's `http` may not have come from sendTokenRequest with the secrets.
  const statusText = redactGatewayText(http.statusText, options.secrets, 100);
  const line = `HTTP ${status}${statusText === '' ? '' : ` ${statusText}`}`;
  const what =
    details.code !== undefined
      ? `code ${details.code}${providerMessage === undefined ? '' : `: ${providerMessage}`}`
      : http.notJsonReason !== undefined
        ? `body is ${redactGatewayText(http.notJsonReason, options.secrets)}`
        : "no i'mport error envelope";
  const request = `POST ${options.tokenUrl}`;
  const message = rejected
    ? `i'mport rejected the token request (${line}, ${what}): ${request}; check impKey and impSecret`
    : `Token request failed with ${line} (${what}): ${request}${hintFor(status)}`;
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

/** What to check for an answer that says the request went to the wrong place. */
function hintFor(status: number): string {
  if (status === 404 || status === 405) return `; check baseUrl (i'mport's is ${iamportDefaultBaseUrl})`;
  if (status >= 300 && status <= 399) return '; redirects are not followed (they would resend impSecret): check baseUrl';
  return '';
}
