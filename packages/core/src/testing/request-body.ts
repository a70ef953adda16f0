import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The largest request body an emulator reads, in bytes. A token request is a few hundred bytes; a test that sends
 * more is probing the limit, and an emulator that buffered it whole would grow by its size (a 300 MB body cost
 * 850 MB of RSS) in the test's own process.
 */
export const emulatorMaxRequestBytes = 1_048_576;

/**
 * Reads a request's body, at most `maxBytes` of it, and hands it to `onBody` once complete. A body that declares a
 * larger `content-length` is answered `413 Payload Too Large` at once, unread; one that streams past the limit is
 * answered 413 as soon as it does, and what came so far is dropped. Either way the connection is closed after the
 * answer, so the rest is never received, let alone held in memory.
 *
 * @example
 * createServer((request, response) => readRequestBody(request, response, (body) => answer(request, response, body)));
 */
export function readRequestBody(
  request: IncomingMessage,
  response: ServerResponse,
  onBody: (body: Buffer) => void,
  maxBytes: number = emulatorMaxRequestBytes,
): void {
  let refused = false;
  const refuse = (): void => {
    refused = true;
    request.removeAllListeners('data');
    request.pause();
    const text = JSON.stringify({ error: 'payload_too_large', maxBytes });
    response
      .writeHead(413, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), connection: 'close' })
      .end(text);
  };
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > maxBytes) {
    refuse();
    return;
  }
  const chunks: Buffer[] = [];
  let received = 0;
  request.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (received > maxBytes) {
      chunks.length = 0;
      refuse();
      return;
    }
    chunks.push(chunk);
  });
  request.on('end', () => {
    if (!refused) onBody(Buffer.concat(chunks));
  });
}
