import * as v from 'valibot';
import { TokenRequestError, TokenResponseError } from './errors.js';
import type { TokenRequestContext } from './token-provider.js';

/** A token endpoint's answer, read in full. */
export interface TokenHttpResponse {
  /** The raw response; its body has been read. */
  response: Response;
  status: number;
  /** The body parsed as JSON, or `undefined` when it is not JSON (an HTML error page, a truncated body). */
  json: unknown;
  /** Why the body is not JSON, when it is not; never the body itself. */
  notJsonReason: string | undefined;
  /** Local wall-clock time (`context.now()`) when the response headers arrived. */
  receivedAt: number;
}

/**
 * Sends a token request and reads the whole answer. Connection failures become retryable `TokenRequestError`s
 * with reason `network`; an abort (the cache's timeout) is rethrown as is, for the cache to report.
 * Used by provider packages; the request's own headers are never copied into an error.
 */
export async function sendTokenRequest(
  provider: string,
  context: TokenRequestContext,
  url: string,
  init: RequestInit,
): Promise<TokenHttpResponse> {
  let response: Response;
  let text: string;
  let receivedAt: number;
  try {
    response = await context.fetch(url, { ...init, signal: context.signal });
    receivedAt = context.now();
    text = await response.text();
  } catch (error) {
    if (context.signal.aborted) throw context.signal.reason ?? error;
    throw new TokenRequestError(`Token request to ${new URL(url).origin} failed: ${describe(error)}`, {
      provider,
      reason: 'network',
      retryable: true,
      cause: error,
    });
  }
  let json: unknown;
  let notJsonReason: string | undefined;
  const contentType = response.headers.get('content-type') ?? 'no content type';
  if (text.trim() === '') {
    notJsonReason = `empty body (${contentType})`;
  } else {
    try {
      json = JSON.parse(text);
    } catch {
      notJsonReason = /^\s*</.test(text)
        ? `an HTML or XML page, not JSON (${contentType}, ${text.length} characters)`
        : `malformed or truncated JSON (${contentType}, ${text.length} characters)`;
    }
  }
  return { response, status: response.status, json, notJsonReason, receivedAt };
}

/**
 * Validates a token response body with a valibot schema. On failure throws a `TokenResponseError` naming the first
 * wrong field and what was expected, never the received value (it could be a token).
 */
export function parseTokenBody<TSchema extends v.GenericSchema>(
  provider: string,
  schema: TSchema,
  http: Pick<TokenHttpResponse, 'json' | 'notJsonReason' | 'status' | 'response'>,
): v.InferOutput<TSchema> {
  if (http.notJsonReason !== undefined) {
    throw new TokenResponseError(`Token response is ${http.notJsonReason}`, {
      provider,
      field: '',
      status: http.status,
      response: http.response,
    });
  }
  const result = v.safeParse(schema, http.json);
  if (result.success) return result.output;
  const issue = result.issues[0];
  const field = v.getDotPath(issue) ?? '';
  const expected = issue.expected === null ? issue.kind : `expected ${issue.expected}`;
  const received = issue.input === undefined ? 'missing' : `got ${describeType(issue.input)}`;
  throw new TokenResponseError(`Token response field ${field === '' ? '(body)' : `"${field}"`} is invalid: ${expected}, ${received}`, {
    provider,
    field,
    status: http.status,
    response: http.response,
  });
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return value === '' ? 'an empty string' : 'a string';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return `a ${typeof value}`;
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? ` (${(error.cause as NodeJS.ErrnoException).code ?? error.cause.message})` : '';
  return `${error.message}${cause}`;
}
