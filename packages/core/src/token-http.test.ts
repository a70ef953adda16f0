import { createServer } from 'node:http';
import { gzipSync } from 'node:zlib';
import * as v from 'valibot';
import { afterEach, describe, expect, it } from 'vitest';
import { isConfigurationError, isTokenRequestError, isTokenResponseError } from './errors.js';
import { type LoopbackServer, listenOnLoopback, type RawResponse, writeRawResponse } from './testing/index.js';
import { defaultMaxTokenResponseBytes, parseTokenBody, sendTokenRequest } from './token-http.js';
import type { TokenRequestContext } from './token-provider.js';

const mebibyte = 1_048_576;
const tokenSchema = v.object({ access_token: v.pipe(v.string(), v.nonEmpty()), expires_in: v.number() });

let server: LoopbackServer | undefined;
/** How many connections the raw server saw closed, to tell a cancelled body from one still being received. */
let closedConnections = 0;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A server answering every request with `raw`. */
async function serve(raw: RawResponse): Promise<string> {
  const timers = new Set<NodeJS.Timeout>();
  closedConnections = 0;
  const http = createServer((request, response) => {
    request.resume();
    request.on('end', () => writeRawResponse(response, request.socket, raw, timers));
  });
  http.on('connection', (socket) => socket.on('close', () => (closedConnections += 1)));
  server = await listenOnLoopback(http);
  return `${server.url}/token`;
}

function contextWith(signal: AbortSignal = AbortSignal.timeout(10_000)): TokenRequestContext {
  return { signal, fetch: globalThis.fetch, now: Date.now };
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => error,
  );
}

describe('sendTokenRequest', () => {
  it('should read a JSON body and note when it arrived', async () => {
    const url = await serve({ body: '{"access_token":"abc","expires_in":60}' });
    const http = await sendTokenRequest('acme', contextWith(), url, { method: 'POST' });
    expect(http.status).toBe(200);
    expect(http.notJsonReason).toBeUndefined();
    expect(parseTokenBody('acme', tokenSchema, http)).toEqual({ access_token: 'abc', expires_in: 60 });
  });

  it('should refuse a declared content-length over the limit without waiting for the body', async () => {
    // The 100 MiB never come and the connection stays open: only refusing on the header can settle this.
    const url = await serve({ body: '{', declaredLength: 100 * mebibyte, ending: 'stall' });
    const error = await failure(sendTokenRequest('acme', contextWith(), url, { method: 'POST' }));
    expect(isTokenResponseError(error)).toBe(true);
    expect(String(error)).toBe(
      `TokenResponseError: [acme] Token response from ${server!.url} is larger than the limit of ${defaultMaxTokenResponseBytes} bytes (content-length ${100 * mebibyte})`,
    );
    expect(error).toMatchObject({ provider: 'acme', field: '', status: 200 });
    await expect.poll(() => closedConnections).toBe(1);
  });

  it('should stop reading a chunked body as soon as it passes the limit', async () => {
    // 1 MiB and one more chunk, then nothing: reading to the end would wait forever.
    const url = await serve({ body: 'x'.repeat(mebibyte + 65_536), chunkSize: 65_536, ending: 'stall' });
    const error = await failure(sendTokenRequest('acme', contextWith(), url, { method: 'POST' }));
    expect(isTokenResponseError(error)).toBe(true);
    expect((error as Error).message).toContain(`larger than the limit of ${mebibyte} bytes (more bytes received)`);
    expect((error as Error).message).not.toContain('xxx');
    await expect.poll(() => closedConnections).toBe(1);
  });

  it('should count the decoded bytes of a compressed body, so a small gzip bomb is refused too', async () => {
    const bomb = gzipSync(Buffer.alloc(20 * mebibyte, 0x20));
    expect(bomb.length).toBeLessThan(mebibyte);
    const url = await serve({ headers: { 'content-encoding': 'gzip' }, body: bomb });
    const error = await failure(sendTokenRequest('acme', contextWith(), url, { method: 'POST' }));
    expect(isTokenResponseError(error)).toBe(true);
    expect((error as Error).message).toContain(`larger than the limit of ${mebibyte} bytes (more bytes received)`);
  });

  it('should read a gzip body, and report one that does not decompress as a network failure', async () => {
    const good = await serve({ headers: { 'content-encoding': 'gzip' }, body: gzipSync('{"access_token":"abc","expires_in":60}') });
    expect((await sendTokenRequest('acme', contextWith(), good, { method: 'POST' })).json).toEqual({ access_token: 'abc', expires_in: 60 });
    await server!.close();
    const broken = await serve({ headers: { 'content-encoding': 'gzip' }, body: 'not gzip at all' });
    const error = await failure(sendTokenRequest('acme', contextWith(), broken, { method: 'POST' }));
    expect(error).toMatchObject({ reason: 'network', status: 200 });
    expect((error as Error).message).toContain('could not be read: terminated (Z_DATA_ERROR)');
  });

  it('should accept a body of exactly the limit and refuse one byte more, with a custom limit', async () => {
    const exact = await serve({ body: `"${'a'.repeat(98)}"`, chunkSize: 7 });
    const http = await sendTokenRequest('acme', contextWith(), exact, { method: 'POST' }, { maxResponseBytes: 100 });
    expect(http.json).toBe('a'.repeat(98));
    await server!.close();
    const over = await serve({ body: `"${'a'.repeat(99)}"`, chunkSize: 7 });
    const error = await failure(sendTokenRequest('acme', contextWith(), over, { method: 'POST' }, { maxResponseBytes: 100 }));
    expect(isTokenResponseError(error)).toBe(true);
    expect((error as Error).message).toContain('limit of 100 bytes');
  });

  it('should refuse a limit that would switch the limit off', async () => {
    const url = await serve({ body: '{}' });
    for (const maxResponseBytes of [Number.NaN, 0, -1, 1.5, Number.POSITIVE_INFINITY]) {
      const error = await failure(sendTokenRequest('acme', contextWith(), url, { method: 'POST' }, { maxResponseBytes }));
      expect(isConfigurationError(error), String(maxResponseBytes)).toBe(true);
      expect(error).toMatchObject({ provider: 'acme', path: 'maxResponseBytes' });
    }
  });

  it('should report a body cut short by a closed or reset connection as a retryable network failure', async () => {
    for (const ending of ['close', 'reset'] as const) {
      const url = await serve({ body: '{"access_token":"secret-token-bytes', chunkSize: 8, declaredLength: 1_000, ending });
      const error = await failure(sendTokenRequest('acme', contextWith(), url, { method: 'POST' }));
      expect(isTokenRequestError(error)).toBe(true);
      expect(error).toMatchObject({ reason: 'network', retryable: true });
      expect(String(error)).not.toContain('secret-token-bytes');
      await server!.close();
    }
  });

  it('should report a chunked body that never finishes as a network failure when the connection closes', async () => {
    const url = await serve({ body: '{"access_token":"abc"', chunkSize: 4, ending: 'close' });
    const error = await failure(sendTokenRequest('acme', contextWith(), url, { method: 'POST' }));
    expect(error).toMatchObject({ reason: 'network', status: 200 });
    expect((error as Error).message).toMatch(/^\[acme\] Token response body from http:\/\/127\.0\.0\.1:\d+ could not be read: /);
  });

  it('should pass the abort reason on when the signal fires while the body is read', async () => {
    const url = await serve({ body: '{"access', declaredLength: 500, ending: 'stall' });
    const controller = new AbortController();
    const pending = failure(sendTokenRequest('acme', contextWith(controller.signal), url, { method: 'POST' }));
    setTimeout(() => controller.abort(new Error('timed out')), 50);
    expect(await pending).toEqual(new Error('timed out'));
  });

  it('should treat a body that is not UTF-8 as not JSON', async () => {
    const url = await serve({ body: new Uint8Array([0x22, 0xc3, 0x28, 0x22]) });
    const http = await sendTokenRequest('acme', contextWith(), url, { method: 'POST' });
    expect(http.json).toBeUndefined();
    expect(http.notJsonReason).toBe('not valid UTF-8 (application/json; charset=utf-8, 4 bytes)');
    expect(() => parseTokenBody('acme', tokenSchema, http)).toThrow('[acme] Token response is not valid UTF-8');
  });

  it('should cut a long content type short in the reason', async () => {
    const url = await serve({ contentType: `text/${'z'.repeat(500)}`, body: 'nope' });
    const http = await sendTokenRequest('acme', contextWith(), url, { method: 'POST' });
    expect(http.notJsonReason).toBe(`malformed or truncated JSON (text/${'z'.repeat(95)}… (505 characters), 4 characters)`);
  });

  it('should redact the secrets sent from the status text and content type it reports', async () => {
    const secret = 'xcanary-sent-in-the-request-0123';
    const url = await serve({
      status: 401,
      statusText: `No ${secret}`,
      contentType: `text/plain; echo=${encodeURIComponent(secret)}`,
      body: 'x',
    });
    const http = await sendTokenRequest('acme', contextWith(), url, { method: 'POST' }, { secrets: [secret] });
    expect(http.statusText).toBe('No [redacted]');
    expect(http.notJsonReason).toBe('malformed or truncated JSON (text/plain; echo=[redacted], 1 characters)');
    const error = (await failure(Promise.resolve().then(() => parseTokenBody('acme', tokenSchema, http)))) as Error;
    expect(error.message).not.toContain(secret);
  });

  it('should turn JSON of the wrong shape, half a million levels deep included, into a TokenResponseError', async () => {
    const deep = `${'['.repeat(500_000)}${']'.repeat(500_000)}`;
    for (const body of ['null', '42', '[1,2]', '"text"', 'true', '{}', deep, '{"access_token":{"a":[[[]]]},"expires_in":1}']) {
      const url = await serve({ body });
      const http = await sendTokenRequest('acme', contextWith(), url, { method: 'POST' });
      expect(http.notJsonReason).toBeUndefined();
      const error = (() => {
        try {
          parseTokenBody('acme', tokenSchema, http);
        } catch (caught) {
          return caught;
        }
        return undefined;
      })();
      expect(isTokenResponseError(error)).toBe(true);
      await server!.close();
    }
  });
});
