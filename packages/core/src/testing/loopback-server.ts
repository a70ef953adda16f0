import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** A listening server that closes at once, open keep-alive connections included. */
export interface LoopbackServer {
  /** `http://127.0.0.1:<port>` (or the address it listens on): the `baseUrl` to give a provider. */
  readonly url: string;
  /** Destroys open connections and stops listening. */
  close(): Promise<void>;
}

/** Where {@link listenOnLoopback} listens. */
export interface LoopbackListenOptions {
  /** The port; 0 picks a free one. @default 0 */
  port?: number | undefined;
  /** The address: `0.0.0.0` or `::` listen on every interface (in a container, say). @default '127.0.0.1' */
  host?: string | undefined;
}

/**
 * Starts `server` on 127.0.0.1 with a free port (port 0): the footing of every gateway emulator, so tests never
 * reach beyond the machine and never collide on a port. A standalone emulator may name its port and address instead;
 * a server on every address still gets a loopback `url`, which a provider accepts over plain `http`. Rejects with
 * the system error (`EADDRINUSE`, …) when it cannot listen.
 *
 * @example
 * const { url, close } = await listenOnLoopback(createServer(handler));
 */
export async function listenOnLoopback(server: Server, options: LoopbackListenOptions = {}): Promise<LoopbackServer> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  await once(server, 'listening');
  const { address, family, port } = server.address() as AddressInfo;
  return {
    url: `http://${urlHost(address, family)}:${port}`,
    async close() {
      for (const socket of sockets) socket.destroy();
      if (!server.listening) return;
      const closed = once(server, 'close');
      server.close();
      await closed;
    },
  };
}

/** The host of a URL that reaches a server listening on `address`: loopback for the unspecified addresses. */
function urlHost(address: string, family: string): string {
  if (address === '0.0.0.0') return '127.0.0.1';
  if (address === '::') return '[::1]';
  return family === 'IPv6' ? `[${address}]` : address;
}
