import * as v from 'valibot';
import { TokenRequestError, type TokenRequestErrorOptions } from './errors.js';
import { redactGatewayText } from './gateway-text.js';
import type { TokenHttpResponse } from './token-http.js';

/** A gateway's own error code and message, read from its error body (not yet redacted). */
export interface GatewayErrorDetails {
  /** The gateway's error code, e.g. i'mport's `code` or an OAuth `error`. */
  code?: string | number | undefined;
  /** The gateway's error message, e.g. i'mport's `message` or an OAuth `error_description`. */
  message?: string | null | undefined;
}

/** How one gateway's failed token answers read: its error body and its rule for rejected credentials. */
export interface TokenErrorMapperOptions<TSchema extends v.GenericSchema> {
  /** The provider name on every error, e.g. `iamport`. */
  provider: string;
  /** The gateway's name as people write it, used in messages, e.g. `i'mport`. */
  displayName: string;
  /** A valibot schema of the gateway's error body. A body it does not accept carries no code and no message. */
  errorSchema: TSchema;
  /** Reads the code and message from a body that `errorSchema` accepted; the kit redacts them. */
  errorDetails: (body: v.InferOutput<TSchema>) => GatewayErrorDetails;
  /**
   * True when the answer says the credentials are wrong: such an error has reason `rejected` and is never retryable,
   * since asking again with the same secret only hammers the gateway. Called for every answer, 2xx included (a
   * gateway may refuse with HTTP 200 and an error code); `code` is the gateway's code, when the body carried one.
   */
  isRejected: (answer: { status: number; code: string | number | undefined }) => boolean;
  /**
   * The settings a rejection names for the user to check, e.g. `['impKey', 'impSecret']`; or a function of the error
   * body (`undefined` when `errorSchema` did not accept it), for a gateway whose layers refuse different credentials
   * (an API gateway the subscription key, an identity platform the client secret).
   */
  credentialSettings: readonly string[] | ((body: v.InferOutput<TSchema> | undefined) => readonly string[]);
  /** What to check when the token URL is wrong (404, 405, a redirect), e.g. `baseUrl or environment`. */
  endpointSettings: string;
  /**
   * Builds the error from the message and options the kit wrote, and the error body (`undefined` when `errorSchema`
   * did not accept it): for a subclass of `TokenRequestError` with the gateway's own fields, e.g. which layer refused.
   * @default (message, options) => new TokenRequestError(message, options)
   */
  createError?:
    | ((message: string, options: TokenRequestErrorOptions, body: v.InferOutput<TSchema> | undefined) => TokenRequestError)
    | undefined;
}

/** The request a failed answer belongs to, for the message and the redaction. */
export interface TokenErrorRequest {
  /** The token endpoint's URL, named in every message. */
  tokenUrl: string;
  /** Strings that must never appear in the error (the secrets sent), in case a server echoes them. */
  secrets: readonly string[];
  /** The request's method. @default 'POST' */
  method?: string | undefined;
}

/**
 * Turns a token endpoint's answer into the `TokenRequestError` it stands for, or `undefined` when the answer is
 * not a failure (a 2xx that `isRejected` does not refuse: parse it as a token with `parseTokenBody`).
 */
export type TokenErrorMapper = (
  http: Pick<TokenHttpResponse, 'status' | 'statusText' | 'json' | 'notJsonReason' | 'response'>,
  request: TokenErrorRequest,
) => TokenRequestError | undefined;

/** Whether asking again can help with an answer that is not a rejection: the gateway failed, timed out or throttled. */
function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/**
 * Builds a gateway's error mapping once: the gateway supplies its error body schema and its rule for rejected
 * credentials; the kit reads the body, redacts every text of the server's (status text, code, message, content
 * type) with `redactGatewayText`, decides retryability (5xx, 408 and 429, never a rejection) and writes one
 * message shape for every gateway.
 *
 * @example
 * const tokenError = createTokenErrorMapper({
 *   provider: 'acme',
 *   displayName: 'Acme',
 *   errorSchema: v.object({ error: v.string(), error_description: v.optional(v.string()) }),
 *   errorDetails: (body) => ({ code: body.error, message: body.error_description }),
 *   isRejected: ({ status }) => status === 401,
 *   credentialSettings: ['clientId', 'clientSecret'],
 *   endpointSettings: 'baseUrl',
 * });
 * const failure = tokenError(http, { tokenUrl, secrets: [clientSecret] });
 * if (failure !== undefined) throw failure;
 */
export function createTokenErrorMapper<TSchema extends v.GenericSchema>(options: TokenErrorMapperOptions<TSchema>): TokenErrorMapper {
  return function mapTokenError(http, request) {
    const { status } = http;
    const parsed = v.safeParse(options.errorSchema, http.json);
    const body: v.InferOutput<TSchema> | undefined = parsed.success ? parsed.output : undefined;
    const details = readDetails(options, body, request.secrets);
    const rejected = options.isRejected({ status, code: details.code });
    if (!rejected && status >= 200 && status <= 299) return undefined;
    // Redacted again: a third party's `http` may not have come from sendTokenRequest with the secrets.
    const statusText = redactGatewayText(http.statusText, request.secrets, 100);
    const line = `status code ${status}${statusText === '' ? '' : ` ${statusText}`}: ${request.method ?? 'POST'} ${request.tokenUrl}`;
    const said = describeBody(options.displayName, details, http.notJsonReason, request.secrets);
    const credentialSettings =
      typeof options.credentialSettings === 'function' ? options.credentialSettings(body) : options.credentialSettings;
    const message = rejected
      ? `${options.displayName} rejected the token request with ${line} (${said}); check ${listOf(credentialSettings)}`
      : `Token request failed with ${line} (${said})${hintFor(status, options.endpointSettings)}`;
    const errorOptions: TokenRequestErrorOptions = {
      provider: options.provider,
      reason: rejected ? 'rejected' : 'http',
      retryable: !rejected && isRetryableStatus(status),
      status,
      providerCode: details.code,
      providerMessage: details.message,
      response: http.response,
    };
    return options.createError === undefined
      ? new TokenRequestError(message, errorOptions)
      : options.createError(message, errorOptions, body);
  };
}

function readDetails<TSchema extends v.GenericSchema>(
  options: TokenErrorMapperOptions<TSchema>,
  body: v.InferOutput<TSchema> | undefined,
  secrets: readonly string[],
): { code: string | number | undefined; message: string | undefined } {
  if (body === undefined) return { code: undefined, message: undefined };
  const { code, message } = options.errorDetails(body);
  return {
    code: typeof code === 'string' ? redactGatewayText(code, secrets, 100) : code,
    message: typeof message === 'string' ? redactGatewayText(message, secrets) : undefined,
  };
}

function describeBody(
  displayName: string,
  details: { code: string | number | undefined; message: string | undefined },
  notJsonReason: string | undefined,
  secrets: readonly string[],
): string {
  if (details.code !== undefined) return `code ${details.code}${details.message === undefined ? '' : `: ${details.message}`}`;
  if (details.message !== undefined) return details.message;
  if (notJsonReason !== undefined) return `body is ${redactGatewayText(notJsonReason, secrets)}`;
  return `no ${displayName} error body`;
}

/** What to check for an answer that says the request went to the wrong place. */
function hintFor(status: number, endpointSettings: string): string {
  if (status === 404 || status === 405) return `; check ${endpointSettings}`;
  // Following a redirect would resend the credentials to wherever it points.
  if (status >= 300 && status <= 399) return `; redirects are not followed: check ${endpointSettings}`;
  return '';
}

function listOf(names: readonly string[]): string {
  return names.length <= 1 ? (names[0] ?? 'the credentials') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}
