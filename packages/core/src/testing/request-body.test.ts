import { createServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { type LoopbackServer, listenOnLoopback } from './loopback-server.js';
import { readRequestBody } from './request-body.js';

let server: LoopbackServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A server that reads bodies of at most 10 bytes and answers with the length it read. */
async function serve(): Promise<string> {
  const http = createServer((request, response) => {
    readRequestBody(request, response, (body) => response.end(String(body.length)), 10);
  });
  server = await listenOnLoopback(http);
  return server.url;
}

describe('readRequestBody', () => {
  it('should hand over a body of exactly the limit and refuse one byte more with 413', async () => {
    const url = await serve();
    const exact = await fetch(url, { method: 'POST', body: '0123456789' });
    expect([exact.status, await exact.text()]).toEqual([200, '10']);
    const over = await fetch(url, { method: 'POST', body: '0123456789a' });
    expect(over.status).toBe(413);
    expect(await over.json()).toEqual({ error: 'payload_too_large', maxBytes: 10 });
  });

  it('should refuse a streamed body as soon as it passes the limit, before it ends', async () => {
    const url = await serve();
    let pulls = 0;
    // A body that never ends: only an answer before its end can settle this request.
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulls += 1;
        controller.enqueue(new Uint8Array(4));
        return new Promise((resolve) => setTimeout(resolve, 1));
      },
    });
    const response = await fetch(url, { method: 'POST', body, duplex: 'half' } as RequestInit);
    expect(response.status).toBe(413);
    expect(pulls).toBeGreaterThanOrEqual(3);
  });
});
