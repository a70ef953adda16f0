/**
 * The OAuth 2.0 client credentials grant (RFC 6749 §4.4) on the wire, for every gateway that speaks it: the request
 * (`POST`, `application/x-www-form-urlencoded`, `grant_type=client_credentials`, the client authenticated by
 * `Authorization: Basic` or in the body) and the answer (§5.1 token, §5.2 error). A gateway package builds its
 * request once with {@link createClientCredentialsRequest} and sends it with {@link requestClientCredentialsToken}.
 */
import * as v from 'valibot';
import { ConfigurationError, TokenResponseError } from '../errors.js';
import type { GatewayErrorDetails, TokenErrorMapper } from '../token-error-mapper.js';
import { accessTokenSchema, parseTokenBody, sendTokenRequest } from '../token-http.js';
import type { TokenRequestContext } from '../token-provider.js';

/**
 * How the client proves who it is (RFC 6749 §2.3.1):
 * - `basic`: `Authorization: Basic base64(client_id ":" client_secret)`, the two strings as they are. What Vipps
 *   MobilePay, PayPal and most servers document; a secret ending in `==` is sent with its `=` signs.
 * - `basic-form-encoded`: the same header, each string form-encoded first, as RFC 6749 §2.3.1 says. Differs from
 *   `basic` only for characters such as `+`, `/`, `=`, `:` and spaces, which servers of the first kind then refuse.
 * - `body`: `client_id` and `client_secret` as form parameters of the body, which the RFC allows but does not recommend.
 */
export type ClientAuthentication = 'basic' | 'basic-form-encoded' | 'body';

/** What a client credentials request is made of. */
export interface ClientCredentialsRequestOptions {
  /** The `client_id`. Not secret. */
  clientId: string;
  /** The `client_secret`. Sent only as `authentication` says; the returned request lists it among its `secrets`. */
  clientSecret: string;
  /** How the client authenticates. @default 'basic' */
  authentication?: ClientAuthentication | undefined;
  /** The `scope` form parameter (space-separated scopes), sent when set. @default undefined (not sent) */
  scope?: string | undefined;
  /**
   * The `audience` form parameter, sent when set: not RFC 6749, but servers that issue one token per API (Auth0 and
   * others) require it to name the API. @default undefined (not sent)
   */
  audience?: string | undefined;
  /**
   * More request headers, e.g. a gateway's own system headers. They cannot replace `Authorization` or
   * `Content-Type`, which belong to the grant. @default {}
   */
  headers?: Readonly<Record<string, string>> | undefined;
}

/**
 * A client credentials request, built once and sent for every token. Holds the secret: its fields are getters, so
 * `JSON.stringify` and `util.inspect` show nothing of it, but keep it in a private field all the same.
 */
export interface ClientCredentialsRequest {
  /** The `fetch` init: `POST`, the headers, the form body as a string, `redirect: 'manual'` (a redirect would resend the secret). */
  readonly init: RequestInit;
  /**
   * The secret in every form this request sends it: as it is, and inside the Basic credential (whose base64 decodes
   * to it). Redact these from everything of the server's ({@link sendTokenRequest}, the error mapper).
   */
  readonly secrets: readonly string[];
}

/**
 * `Basic <base64>` for a client id and secret, their UTF-8 bytes encoded (RFC 7617). As they are unless
 * `formEncoded` (RFC 6749 §2.3.1), see {@link ClientAuthentication}.
 *
 * @example
 * basicAuthorization('fb492b5e-…', 'Y8Kteew6GE2ZmeycEt6egg==') // 'Basic ZmI0OTJiNWUt…'
 */
export function basicAuthorization(clientId: string, clientSecret: string, options: { formEncoded?: boolean | undefined } = {}): string {
  const [id, secret] = options.formEncoded === true ? [formEncode(clientId), formEncode(clientSecret)] : [clientId, clientSecret];
  return `Basic ${base64(`${id}:${secret}`)}`;
}

/**
 * Builds the client credentials request of one client. Throws a `ConfigurationError` naming `provider` when a
 * `basic` client id holds a colon: the server splits the credential at the first colon and would read another id.
 *
 * @example
 * const tokenRequest = createClientCredentialsRequest('acme', { clientId, clientSecret });
 * const { body, receivedAt } = await requestClientCredentialsToken('acme', context, tokenUrl, tokenRequest, { mapError });
 */
export function createClientCredentialsRequest(provider: string, options: ClientCredentialsRequestOptions): ClientCredentialsRequest {
  const authentication = options.authentication ?? 'basic';
  if (authentication === 'basic' && options.clientId.includes(':')) {
    throw new ConfigurationError({
      provider,
      issues: [{ path: 'clientId', message: 'must not contain ":" when sent in Basic credentials as it is (RFC 7617)' }],
    });
  }
  const form = new URLSearchParams({ grant_type: 'client_credentials' });
  if (options.scope !== undefined) form.set('scope', options.scope);
  if (options.audience !== undefined) form.set('audience', options.audience);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    const lower = name.toLowerCase();
    if (lower !== 'authorization' && lower !== 'content-type') headers[name] = value;
  }
  const secrets = [options.clientSecret];
  if (authentication === 'body') {
    form.set('client_id', options.clientId);
    form.set('client_secret', options.clientSecret);
  } else {
    const authorization = basicAuthorization(options.clientId, options.clientSecret, {
      formEncoded: authentication === 'basic-form-encoded',
    });
    headers.Authorization = authorization;
    secrets.push(authorization.slice('Basic '.length));
  }
  headers['Content-Type'] = 'application/x-www-form-urlencoded';
  const init: RequestInit = Object.freeze({
    method: 'POST',
    headers: Object.freeze(headers),
    body: form.toString(),
    redirect: 'manual',
  });
  return new SecretRequest(init, Object.freeze(secrets));
}

/** The request's parts live in private fields, behind getters on the prototype: nothing enumerable to log. */
class SecretRequest implements ClientCredentialsRequest {
  readonly #init: RequestInit;
  readonly #secrets: readonly string[];

  constructor(init: RequestInit, secrets: readonly string[]) {
    this.#init = init;
    this.#secrets = secrets;
  }

  get init(): RequestInit {
    return this.#init;
  }

  get secrets(): readonly string[] {
    return this.#secrets;
  }

  toJSON(): Record<string, never> {
    return {};
  }
}

/**
 * A lifetime in whole seconds, sent as a JSON number (`900`, RFC 6749 §5.1) or as a string of digits (`"900"`, as
 * servers built on older identity platforms do). Either reads as a number.
 */
export const expiresInSchema = v.pipe(
  v.union([v.pipe(v.string(), v.regex(/^[0-9]{1,15}$/)), v.pipe(v.number(), v.safeInteger(), v.minValue(0))]),
  v.transform(Number),
);

/** A successful token answer (RFC 6749 §5.1): `access_token`, `token_type` Bearer (any case), optional `expires_in` and `scope`. */
export const clientCredentialsTokenSchema = v.object({
  /** The token: visible ASCII, so it can go into a header as received. */
  access_token: accessTokenSchema,
  /** `Bearer`, in any case. */
  token_type: v.pipe(v.string(), v.regex(/^bearer$/i)),
  /** Lifetime in seconds, at least 1, as a number or a string of digits. */
  expires_in: v.optional(v.pipe(expiresInSchema, v.minValue(1))),
  /** The scopes granted, space-separated. */
  scope: v.optional(v.string()),
});

/** An error answer (RFC 6749 §5.2), for `createTokenErrorMapper`'s `errorSchema`. */
export const oauthErrorSchema = v.object({
  /** `invalid_request`, `invalid_client`, `invalid_grant`, `unauthorized_client`, `unsupported_grant_type`, `invalid_scope`, or the server's own. */
  error: v.string(),
  /** What was wrong, in words. */
  error_description: v.optional(v.string()),
  /** A page about the error. */
  error_uri: v.optional(v.string()),
});

/** The code and message of an {@link oauthErrorSchema} body, for `createTokenErrorMapper`'s `errorDetails`. */
export function oauthErrorDetails(body: v.InferOutput<typeof oauthErrorSchema>): GatewayErrorDetails {
  return { code: body.error, message: body.error_description };
}

/** Options of {@link requestClientCredentialsToken}. */
export interface RequestClientCredentialsTokenOptions<TSchema extends v.GenericSchema> {
  /** The gateway's error mapping (`createTokenErrorMapper`), e.g. with {@link oauthErrorSchema}. */
  mapError: TokenErrorMapper;
  /** The token answer's schema. @default clientCredentialsTokenSchema */
  schema?: TSchema | undefined;
  /** Largest answer read, in bytes. @default 1_048_576 (1 MiB) */
  maxResponseBytes?: number | undefined;
  /**
   * More secrets to redact from the server's texts besides the request's own, e.g. a subscription key the provider
   * holds for its API calls. @default []
   */
  secrets?: readonly string[] | undefined;
}

/** A token answer of {@link requestClientCredentialsToken}, validated. */
export interface ClientCredentialsToken<TOutput> {
  /** The body as the schema output it: `expires_in` a number of seconds. */
  body: TOutput;
  /** Local wall-clock time (`context.now()`) when the answer arrived: count `expires_in` from here. */
  receivedAt: number;
}

/**
 * Sends a client credentials request and reads the answer: a failed answer becomes the `TokenRequestError` that
 * `mapError` makes of it, a token answer is validated with `schema` (a `TokenResponseError` names the wrong field).
 * Every form of the secret, and every one of `options.secrets`, is redacted from the server's texts. Returns the validated body and when it arrived
 * (`context.now()`), to count `expires_in` from.
 */
export async function requestClientCredentialsToken<TSchema extends v.GenericSchema = typeof clientCredentialsTokenSchema>(
  provider: string,
  context: TokenRequestContext,
  tokenUrl: string,
  request: ClientCredentialsRequest,
  options: RequestClientCredentialsTokenOptions<TSchema>,
): Promise<ClientCredentialsToken<v.InferOutput<TSchema>>> {
  const secrets = [...request.secrets, ...(options.secrets ?? [])];
  const http = await sendTokenRequest(provider, context, tokenUrl, request.init, { secrets, maxResponseBytes: options.maxResponseBytes });
  const failure = options.mapError(http, { tokenUrl, secrets });
  if (failure !== undefined) throw failure;
  const schema = options.schema ?? clientCredentialsTokenSchema;
  if (http.status < 200 || http.status > 299) {
    // A mapper that lets a failed answer through would have its error page read as a token.
    throw new TokenResponseError(`Token response has status ${http.status}, not 2xx`, {
      provider,
      field: '',
      status: http.status,
      response: http.response,
    });
  }
  return { body: parseTokenBody(provider, schema as TSchema, http), receivedAt: http.receivedAt };
}

/** `application/x-www-form-urlencoded` of one value, as URLSearchParams writes it (space as `+`). */
function formEncode(value: string): string {
  return new URLSearchParams([['', value]]).toString().slice(1);
}

/** Base64 of a string's UTF-8 bytes, without Node's Buffer: the provider kit runs where fetch runs. */
function base64(text: string): string {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}
