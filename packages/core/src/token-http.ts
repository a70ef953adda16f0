import * as v from 'valibot';
import { ConfigurationError, TokenRequestError, TokenResponseError } from './errors.js';
import { redactGatewayText } from './gateway-text.js';
import type { TokenRequestContext } from './token-provider.js';

/**
 * The most bytes of a token response body that are read: a token answer is a few hundred bytes, a proxy's error page a
 * few kilobytes; a body beyond this is refused unread instead of being held in memory whole.
 */
export const defaultMaxTokenResponseBytes = 1_048_576;

/**
 * An access token as a token response must carry it: non-empty visible ASCII without spaces, so it can go into an
 * `Authorization: Bearer` header as received (a control character or a non-Latin-1 character would make `fetch`
 * throw a `TypeError` on the first API call instead of failing at the token response).
 */
export const accessTokenSchema = v.pipe(v.string(), v.regex(/^[\x21-\x7e]+$/));

/** True when `value` is an access token {@link accessTokenSchema} accepts; the cache checks every provider's with it. */
export function isUsableAccessToken(value: unknown): value is string {
  return v.is(accessTokenSchema, value);
}

/** Longest provider state (a refresh token), in characters: a JWT is well under 2 KiB. */
const maxStateLength = 8 * 1024;

/** True when `value` is a {@link ProviderToken.state} the cache can hold and store: visible ASCII, at most 8 KiB. */
export function isUsableState(value: unknown): value is string {
  return typeof value === 'string' && value.length <= maxStateLength && isUsableAccessToken(value);
}

/** Options of {@link sendTokenRequest}. */
export interface SendTokenRequestOptions {
  /** Largest response body read, in bytes; a larger declared `content-length` is refused before reading. @default 1_048_576 (1 MiB) */
  maxResponseBytes?: number | undefined;
  /**
   * The secrets sent (credentials), redacted from everything of the server's that this function puts into a text:
   * status text, content type, connection errors. Pass the same list to {@link redactGatewayText} for the body's
   * fields. @default [] (nothing redacted; the texts are still escaped and cut)
   */
  secrets?: readonly string[] | undefined;
}

/** A token endpoint's answer, read in full. */
export interface TokenHttpResponse {
  /** The raw response; its body has been read. */
  response: Response;
  /** HTTP status of the response. */
  status: number;
  /** The response's status text, redacted (`secrets`), escaped and cut: safe for an error message. */
  statusText: string;
  /** The body parsed as JSON, or `undefined` when it is not JSON (an HTML error page, a truncated body). */
  json: unknown;
  /** Why the body is not JSON, when it is not; never the body itself, and the content type it names is redacted. */
  notJsonReason: string | undefined;
  /** Local wall-clock time (`context.now()`) when the response headers arrived. */
  receivedAt: number;
}

/**
 * Sends a token request and reads the whole answer, up to `maxResponseBytes`. Connection failures, before or during
 * the body, become retryable `TokenRequestError`s with reason `network`; a body over the limit (declared or
 * streamed) is a `TokenResponseError`, and the connection is cancelled rather than drained; an abort (the cache's
 * timeout) is rethrown as is, for the cache to report. A body that is not UTF-8 counts as not JSON.
 * Used by provider packages; the request's own headers are never copied into an error, and the server's texts that
 * are (status text, content type) are redacted of `options.secrets` with {@link redactGatewayText}.
 */
export async function sendTokenRequest(
  provider: string,
  context: TokenRequestContext,
  url: string,
  init: RequestInit,
  options: SendTokenRequestOptions = {},
): Promise<TokenHttpResponse> {
  const maxResponseBytes = options.maxResponseBytes ?? defaultMaxTokenResponseBytes;
  const secrets = options.secrets ?? [];
  // NaN or a negative limit would compare false against every size and silently switch the limit off.
  if (!Number.isSafeInteger(maxResponseBytes) || maxResponseBytes < 1) {
    throw new ConfigurationError({ provider, issues: [{ path: 'maxResponseBytes', message: 'must be a whole number of at least 1' }] });
  }
  const origin = new URL(url).origin;
  let response: Response;
  let receivedAt: number;
  try {
    response = await context.fetch(url, { ...init, signal: context.signal });
    receivedAt = context.now();
  } catch (error) {
    throw networkFailure(provider, context, `Token request to ${origin} failed`, error, secrets);
  }
  const tooLarge = (detail: string): TokenResponseError =>
    new TokenResponseError(`Token response from ${origin} is larger than the limit of ${maxResponseBytes} bytes (${detail})`, {
      provider,
      field: '',
      status: response.status,
      response,
    });
  const declaredLength = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declaredLength > maxResponseBytes) {
    // Refused unread: cancelling the body closes the connection instead of receiving what was announced.
    response.body?.cancel().catch(ignore);
    throw tooLarge(`content-length ${declaredLength}`);
  }
  let bytes: Uint8Array | undefined;
  try {
    bytes = await readAtMost(response, maxResponseBytes);
  } catch (error) {
    throw networkFailure(provider, context, `Token response body from ${origin} could not be read`, error, secrets, response);
  }
  if (bytes === undefined) throw tooLarge('more bytes received');

  let json: unknown;
  let notJsonReason: string | undefined;
  // Header values are the server's text, which may echo what was sent: redacted, and short in a message.
  const contentType = redactGatewayText(response.headers.get('content-type') ?? 'no content type', secrets, 100);
  const text = decodeUtf8(bytes);
  if (text === undefined) {
    notJsonReason = `not valid UTF-8 (${contentType}, ${bytes.byteLength} bytes)`;
  } else if (text.trim() === '') {
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
  const statusText = redactGatewayText(response.statusText, secrets, 100);
  return { response, status: response.status, statusText, json, notJsonReason, receivedAt };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** JSON is UTF-8 (RFC 8259); a token decoded with replacement characters would not be the token that was sent. */
function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** The body's bytes, or `undefined` (the stream cancelled) as soon as more than `limit` bytes have arrived. */
async function readAtMost(response: Response, limit: number): Promise<Uint8Array | undefined> {
  if (response.body === null) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      reader.cancel().catch(ignore);
      return undefined;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** A failed connection as a retryable `TokenRequestError`; an abort (the cache's timeout) passes through as is. */
function networkFailure(
  provider: string,
  context: TokenRequestContext,
  what: string,
  error: unknown,
  secrets: readonly string[],
  response?: Response,
): unknown {
  if (context.signal.aborted) return context.signal.reason ?? error;
  // A parser's message can quote what the server sent.
  return new TokenRequestError(`${what}: ${redactGatewayText(describe(error), secrets)}`, {
    provider,
    reason: 'network',
    retryable: true,
    status: response?.status,
    cause: error,
    response,
  });
}

function ignore(): void {}

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
