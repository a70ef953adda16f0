import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { isTokenRequestError, TokenRequestError, type TokenRequestErrorOptions } from './errors.js';
import { createTokenErrorMapper } from './token-error-mapper.js';

const secret = 'acme-secret-xcanary-0123456789';
const tokenUrl = 'https://api.acme.test/token';

const mapTokenError = createTokenErrorMapper({
  provider: 'acme',
  displayName: 'Acme',
  errorSchema: v.object({ code: v.number(), message: v.nullish(v.string()) }),
  errorDetails: (body) => ({ code: body.code, message: body.message }),
  isRejected: ({ status, code }) => status === 401 || (status === 200 && code !== undefined && code !== 0),
  credentialSettings: ['acmeKey', 'acmeSecret'],
  endpointSettings: 'baseUrl',
});

function answer(status: number, json: unknown, statusText = '', notJsonReason?: string) {
  return { status, statusText, json, notJsonReason, response: new Response(null, { status: status === 200 ? 200 : 599 }) };
}

function mapped(http: ReturnType<typeof answer>) {
  const error = mapTokenError(http, { tokenUrl, secrets: [secret] });
  if (error === undefined) throw new Error('expected an error');
  return error;
}

describe('createTokenErrorMapper', () => {
  it('should return undefined for a 2xx answer the gateway does not call a rejection', () => {
    expect(mapTokenError(answer(200, { code: 0, message: null }), { tokenUrl, secrets: [] })).toBeUndefined();
    expect(mapTokenError(answer(204, undefined), { tokenUrl, secrets: [] })).toBeUndefined();
  });

  it('should make a rejection not retryable, name the credentials to check and keep the gateway code', () => {
    const error = mapped(answer(401, { code: -1, message: 'bad key' }, 'Unauthorized'));
    expect(isTokenRequestError(error)).toBe(true);
    expect(error).toMatchObject({ provider: 'acme', reason: 'rejected', retryable: false, status: 401, providerCode: -1 });
    expect(error.message).toBe(
      `[acme] Acme rejected the token request with status code 401 Unauthorized: POST ${tokenUrl} (code -1: bad key); check acmeKey and acmeSecret`,
    );
  });

  it('should treat an error code in a 200 answer as a rejection when the gateway says so', () => {
    expect(mapped(answer(200, { code: 1, message: 'disabled' }))).toMatchObject({ reason: 'rejected', retryable: false, status: 200 });
  });

  it.each([
    [500, true],
    [503, true],
    [408, true],
    [429, true],
    [400, false],
    [404, false],
  ])('should decide that status %i is retryable: %s', (status, retryable) => {
    expect(mapped(answer(status, undefined, '', 'empty body (text/plain)'))).toMatchObject({ reason: 'http', retryable, status });
  });

  it('should suggest checking the endpoint settings for a 404 and for a redirect', () => {
    expect(mapped(answer(404, undefined, 'Not Found', 'an HTML or XML page')).message).toBe(
      `[acme] Token request failed with status code 404 Not Found: POST ${tokenUrl} (body is an HTML or XML page); check baseUrl`,
    );
    expect(mapped(answer(307, undefined)).message).toContain('redirects are not followed: check baseUrl');
  });

  it('should redact a secret echoed in the message, the status text or the reason the body is not JSON', () => {
    const error = mapped(answer(401, { code: 7, message: `bad ${secret}` }, `Denied ${secret}`));
    expect(error.providerMessage).toBe('bad [redacted]');
    expect(error.message).not.toContain(secret);
    const notJson = mapped(answer(502, undefined, '', `not JSON (text/html; echo=${secret})`));
    expect(notJson.message).not.toContain(secret);
    expect(notJson.message).toContain('[redacted]');
  });

  it('should redact a string code and say when there is no error body', () => {
    const mapStringCode = createTokenErrorMapper({
      provider: 'acme',
      displayName: 'Acme',
      errorSchema: v.object({ error: v.string() }),
      errorDetails: (body) => ({ code: body.error }),
      isRejected: () => false,
      credentialSettings: [],
      endpointSettings: 'baseUrl',
    });
    const error = mapStringCode(answer(500, { error: `oops ${secret}` }), { tokenUrl, secrets: [secret] });
    expect(error?.providerCode).toBe('oops [redacted]');
    expect(mapStringCode(answer(500, { other: 1 }), { tokenUrl, secrets: [] })?.message).toContain('(no Acme error body)');
  });

  describe('with answers from more than one layer', () => {
    class LayeredError extends TokenRequestError {
      readonly layer: string | undefined;
      constructor(message: string, options: TokenRequestErrorOptions & { layer: string | undefined }) {
        super(message, options);
        this.layer = options.layer;
      }
    }
    const layerSchema = v.union([
      v.object({ statusCode: v.number(), message: v.string() }),
      v.object({ error: v.string(), error_description: v.optional(v.string()) }),
    ]);
    const mapLayered = createTokenErrorMapper({
      provider: 'acme',
      displayName: 'Acme',
      errorSchema: layerSchema,
      errorDetails: (body) => ('error' in body ? { code: body.error, message: body.error_description } : { message: body.message }),
      isRejected: ({ status }) => status === 401,
      credentialSettings: (body) => (body === undefined ? ['acmeKey', 'acmeSecret'] : 'statusCode' in body ? ['acmeKey'] : ['acmeSecret']),
      endpointSettings: 'baseUrl',
      createError: (message, options, body) =>
        new LayeredError(message, { ...options, layer: body === undefined ? undefined : 'statusCode' in body ? 'gateway' : 'identity' }),
    });

    it('should name the settings the body points at, and build the error with the caller class', () => {
      const gateway = mapLayered(answer(401, { statusCode: 401, message: 'Access denied due to invalid subscription key.' }), {
        tokenUrl,
        secrets: [],
      });
      expect(gateway).toBeInstanceOf(LayeredError);
      expect(isTokenRequestError(gateway)).toBe(true);
      expect(gateway).toMatchObject({
        layer: 'gateway',
        reason: 'rejected',
        providerMessage: 'Access denied due to invalid subscription key.',
      });
      expect(gateway?.message).toMatch(/; check acmeKey$/);
      const identity = mapLayered(answer(401, { error: 'invalid_client' }), { tokenUrl, secrets: [] });
      expect(identity).toMatchObject({ layer: 'identity', providerCode: 'invalid_client' });
      expect(identity?.message).toMatch(/; check acmeSecret$/);
      const neither = mapLayered(answer(401, undefined, '', 'empty body'), { tokenUrl, secrets: [] });
      expect(neither).toMatchObject({ layer: undefined });
      expect(neither?.message).toMatch(/; check acmeKey and acmeSecret$/);
    });
  });
});
