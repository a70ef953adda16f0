import { createServer } from 'node:http';
import { inspect } from 'node:util';
import * as v from 'valibot';
import { afterEach, describe, expect, it } from 'vitest';
import { isConfigurationError, isTokenRequestError, isTokenResponseError } from '../errors.js';
import { type LoopbackServer, listenOnLoopback } from '../testing/loopback-server.js';
import { createTokenErrorMapper } from '../token-error-mapper.js';
import type { TokenRequestContext } from '../token-provider.js';
import {
  basicAuthorization,
  clientCredentialsTokenSchema,
  createClientCredentialsRequest,
  oauthErrorDetails,
  oauthErrorSchema,
  requestClientCredentialsToken,
} from './client-credentials.js';

/** Headers Node's fetch adds to every request by itself. */
const transportHeaders = new Set([
  'host',
  'connection',
  'content-length',
  'accept',
  'accept-encoding',
  'accept-language',
  'sec-fetch-mode',
  'user-agent',
]);

/** A secret as Vipps MobilePay issues them: base64 text ending in `==`, with `+` and `/`, which form-encoding changes. */
const clientSecret = 'xcanary+Kt/ew6GE2Zm:ycEt6egg==';
const clientId = 'fb492b5e-7907-4d83-ba20-c7fb60ca35de';

interface Received {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: Buffer;
}

let server: LoopbackServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A token endpoint that records each request's bytes and answers `status` with `body`. */
async function tokenEndpoint(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  server = await listenOnLoopback(
    createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const own = Object.fromEntries(Object.entries(request.headers).filter(([name]) => !transportHeaders.has(name))) as Record<
          string,
          string
        >;
        received.push({ method: request.method ?? '', url: request.url ?? '', headers: own, body: Buffer.concat(chunks) });
        response
          .writeHead(status, { 'content-type': 'application/json', ...headers })
          .end(Buffer.isBuffer(body) ? body : JSON.stringify(body));
      });
    }),
  );
  return { url: `${server.url}/oauth/token`, received };
}

function context(): TokenRequestContext {
  return { signal: AbortSignal.timeout(10_000), fetch: globalThis.fetch, now: () => 1_700_000_000_000 };
}

const mapError = createTokenErrorMapper({
  provider: 'acme',
  displayName: 'Acme',
  errorSchema: oauthErrorSchema,
  errorDetails: oauthErrorDetails,
  isRejected: ({ status }) => status === 400 || status === 401,
  credentialSettings: ['clientId', 'clientSecret'],
  endpointSettings: 'tokenUrl',
});

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => error,
  );
}

describe('basicAuthorization', () => {
  it('should encode client_id:client_secret as it is, the way Vipps MobilePay and most servers document it', () => {
    const expected = `Basic ${Buffer.from(`${clientId}:${clientSecret}`, 'utf8').toString('base64')}`;
    expect(basicAuthorization(clientId, clientSecret)).toBe(expected);
    expect(Buffer.from(basicAuthorization(clientId, clientSecret).slice(6), 'base64').toString('utf8')).toBe(`${clientId}:${clientSecret}`);
  });

  it('should form-encode each part first when asked, as RFC 6749 section 2.3.1 says', () => {
    const decoded = Buffer.from(basicAuthorization(clientId, clientSecret, { formEncoded: true }).slice(6), 'base64').toString('utf8');
    expect(decoded).toBe(`${clientId}:xcanary%2BKt%2Few6GE2Zm%3AycEt6egg%3D%3D`);
  });

  it('should encode characters beyond ASCII as UTF-8 (RFC 7617)', () => {
    const decoded = Buffer.from(basicAuthorization('é', 'ß€').slice(6), 'base64');
    expect(decoded.equals(Buffer.from('é:ß€', 'utf8'))).toBe(true);
  });
});

describe('createClientCredentialsRequest', () => {
  it('should send the documented bytes: Basic credentials as they are, a form content type and grant_type alone', async () => {
    const endpoint = await tokenEndpoint(200, { access_token: 'xcanary-token', token_type: 'Bearer', expires_in: 900 });
    const request = createClientCredentialsRequest('acme', { clientId, clientSecret });
    await requestClientCredentialsToken('acme', context(), endpoint.url, request, { mapError });
    expect(endpoint.received).toHaveLength(1);
    const [received] = endpoint.received;
    expect(received?.method).toBe('POST');
    expect(received?.url).toBe('/oauth/token');
    expect(received?.headers).toEqual({
      authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(received?.body.equals(Buffer.from('grant_type=client_credentials', 'ascii'))).toBe(true);
  });

  it('should add scope and the caller headers, and put the credentials in the body when asked', async () => {
    const endpoint = await tokenEndpoint(200, { access_token: 'xcanary-token', token_type: 'bearer' });
    const request = createClientCredentialsRequest('acme', {
      clientId,
      clientSecret,
      authentication: 'body',
      scope: 'payments:read payments:write',
      headers: { 'X-Acme-Tenant': 'shop-1', authorization: 'Bearer forged', 'Content-Type': 'text/plain' },
    });
    await requestClientCredentialsToken('acme', context(), endpoint.url, request, { mapError });
    const [received] = endpoint.received;
    expect(received?.headers).toEqual({ 'x-acme-tenant': 'shop-1', 'content-type': 'application/x-www-form-urlencoded' });
    expect(received?.body.toString('ascii')).toBe(
      `grant_type=client_credentials&scope=payments%3Aread+payments%3Awrite&client_id=${clientId}&client_secret=xcanary%2BKt%2Few6GE2Zm%3AycEt6egg%3D%3D`,
    );
  });

  it('should send audience after scope, for servers that issue a token per API (Auth0 and others)', async () => {
    const endpoint = await tokenEndpoint(200, { access_token: 'xcanary-token', token_type: 'Bearer' });
    const request = createClientCredentialsRequest('acme', { clientId, clientSecret, scope: 'read', audience: 'https://api.acme.test/' });
    await requestClientCredentialsToken('acme', context(), endpoint.url, request, { mapError });
    expect(endpoint.received[0]?.body.toString('ascii')).toBe(
      'grant_type=client_credentials&scope=read&audience=https%3A%2F%2Fapi.acme.test%2F',
    );
  });

  it('should refuse a client id with a colon for Basic credentials as they are, where the server would split it wrongly', () => {
    let error: unknown;
    try {
      createClientCredentialsRequest('acme', { clientId: 'a:b', clientSecret });
    } catch (thrown) {
      error = thrown;
    }
    expect(isConfigurationError(error)).toBe(true);
    expect(error).toMatchObject({ provider: 'acme', issues: [{ path: 'clientId', message: expect.stringContaining(':') }] });
    expect(() =>
      createClientCredentialsRequest('acme', { clientId: 'a:b', clientSecret, authentication: 'basic-form-encoded' }),
    ).not.toThrow();
  });

  it('should list the secret in every form it is sent in, and show none of them in JSON or inspect output', () => {
    const request = createClientCredentialsRequest('acme', { clientId, clientSecret });
    const basic = basicAuthorization(clientId, clientSecret);
    expect(request.secrets).toEqual([clientSecret, basic.slice('Basic '.length)]);
    for (const text of [JSON.stringify(request), inspect(request, { showHidden: true, depth: 5 }), String(Object.keys(request))]) {
      expect(text).not.toContain(clientSecret);
      expect(text).not.toContain(basic.slice(6));
    }
    expect(request.init).toMatchObject({ method: 'POST', redirect: 'manual', body: 'grant_type=client_credentials' });
  });
});

describe('requestClientCredentialsToken', () => {
  it('should read expires_in sent as a number or as a string of digits', async () => {
    for (const expiresIn of [900, '900']) {
      const endpoint = await tokenEndpoint(200, { access_token: 'xcanary-token', token_type: 'Bearer', expires_in: expiresIn });
      const request = createClientCredentialsRequest('acme', { clientId, clientSecret });
      const { body, receivedAt } = await requestClientCredentialsToken('acme', context(), endpoint.url, request, { mapError });
      expect(body).toEqual({ access_token: 'xcanary-token', token_type: 'Bearer', expires_in: 900 });
      expect(receivedAt).toBe(1_700_000_000_000);
      await server?.close();
    }
  });

  it.each([
    ['a negative lifetime', { access_token: 'xcanary-token', token_type: 'Bearer', expires_in: -1 }, 'expires_in'],
    ['a lifetime that is not whole seconds', { access_token: 'xcanary-token', token_type: 'Bearer', expires_in: '90.5' }, 'expires_in'],
    ['another token type', { access_token: 'xcanary-token', token_type: 'MAC' }, 'token_type'],
    ['no token', { token_type: 'Bearer', expires_in: 900 }, 'access_token'],
  ])('should refuse a token response with %s, naming the field', async (_, body, field) => {
    const endpoint = await tokenEndpoint(200, body);
    const request = createClientCredentialsRequest('acme', { clientId, clientSecret });
    const error = await failure(requestClientCredentialsToken('acme', context(), endpoint.url, request, { mapError }));
    expect(isTokenResponseError(error)).toBe(true);
    expect(error).toMatchObject({ field });
  });

  it('should parse with a schema of the caller', async () => {
    const endpoint = await tokenEndpoint(200, { access_token: 'xcanary-token', token_type: 'Bearer', expires_in: 60, app_id: 'APP-1' });
    const schema = v.object({ ...clientCredentialsTokenSchema.entries, app_id: v.string() });
    const request = createClientCredentialsRequest('acme', { clientId, clientSecret });
    const { body } = await requestClientCredentialsToken('acme', context(), endpoint.url, request, { mapError, schema });
    expect(body.app_id).toBe('APP-1');
  });

  it('should not read a failed answer as a token when the mapper lets it through', async () => {
    const endpoint = await tokenEndpoint(500, { access_token: 'xcanary-token', token_type: 'Bearer', expires_in: 60 });
    const request = createClientCredentialsRequest('acme', { clientId, clientSecret });
    const error = await failure(requestClientCredentialsToken('acme', context(), endpoint.url, request, { mapError: () => undefined }));
    expect(isTokenResponseError(error)).toBe(true);
    expect(error).toMatchObject({ status: 500 });
  });

  it('should redact the secrets it is given besides its own from the server texts', async () => {
    const apiKey = 'xcanary-api-key-0123456789';
    const endpoint = await tokenEndpoint(200, Buffer.from('<html></html>'), { 'content-type': `text/html; echo="${apiKey}"` });
    const request = createClientCredentialsRequest('acme', { clientId, clientSecret });
    const error = await failure(requestClientCredentialsToken('acme', context(), endpoint.url, request, { mapError, secrets: [apiKey] }));
    expect(isTokenResponseError(error)).toBe(true);
    expect((error as Error).message).toContain('[redacted]');
    expect((error as Error).message).not.toContain(apiKey);
  });

  it('should map an RFC 6749 error answer to a rejection that quotes no form of the secret', async () => {
    const basic = basicAuthorization(clientId, clientSecret).slice(6);
    const endpoint = await tokenEndpoint(401, {
      error: 'invalid_client',
      error_description: `Client authentication failed for ${basic} (${clientSecret})`,
      error_uri: 'https://acme.test/errors/invalid_client',
    });
    const request = createClientCredentialsRequest('acme', { clientId, clientSecret });
    const error = await failure(requestClientCredentialsToken('acme', context(), endpoint.url, request, { mapError }));
    expect(isTokenRequestError(error)).toBe(true);
    expect(error).toMatchObject({ reason: 'rejected', retryable: false, status: 401, providerCode: 'invalid_client' });
    for (const text of [(error as Error).message, JSON.stringify(error), inspect(error, { showHidden: true, depth: 5 })]) {
      expect(text).not.toContain(clientSecret);
      expect(text).not.toContain(basic);
    }
  });
});
