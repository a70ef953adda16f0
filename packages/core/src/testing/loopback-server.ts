import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** A server listening on 127.0.0.1 that closes at once, open keep-alive connections included. */
export interface LoopbackServer {
  /** `http://127.0.0.1:<port>`: the `baseUrl` to give a provider. */
  readonly url: string;
  /** Destroys open connections and stops listening. */
  close(): Promise<void>;
}

/**
 * Starts `server` on 127.0.0.1 with a free port (port 0): the footing of every gateway emulator, so tests never
 * reach beyond the machine and never collide on a port.
 *
 * @example
 * const { url, close } = await listenOnLoopback(createServer(handler));
 */
export async function listenOnLoopback(server: Server): Promise<LoopbackServer> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      for (const socket of sockets) socket.destroy();
      if (!server.listening) return;
      const closed = once(server, 'close');
      server.close();
      await closed;
    },
  };
}
