import { createServer } from 'node:http';
import { listenOnLoopback } from './loopback-server.js';

/** Another origin that redirects point to: whatever reaches it has left the gateway, so no secret may. */
export interface ForeignOrigin {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** Every request it received: method, path, headers and body. */
  received: string[];
  /** Stops the server. */
  close(): Promise<void>;
}

/** Starts the other origin; it answers every request with `body`, a token a provider must not take for its own. */
export async function startForeignOrigin(body: string): Promise<ForeignOrigin> {
  const received: string[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push(`${request.method} ${request.url} ${JSON.stringify(request.headers)} ${Buffer.concat(chunks).toString('utf8')}`);
      response.writeHead(200, { 'content-type': 'application/json' }).end(body);
    });
  });
  const loopback = await listenOnLoopback(server);
  return { url: loopback.url, received, close: () => loopback.close() };
}
