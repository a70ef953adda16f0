import { createServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { type LoopbackServer, listenOnLoopback } from './loopback-server.js';

const servers: LoopbackServer[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function listen(options?: Parameters<typeof listenOnLoopback>[1]): Promise<LoopbackServer> {
  const server = await listenOnLoopback(
    createServer((_request, response) => response.end('ok')),
    options,
  );
  servers.push(server);
  return server;
}

/** A port that was free a moment ago: a server's on port 0, closed again. */
async function freePort(): Promise<number> {
  const probe = await listenOnLoopback(createServer());
  await probe.close();
  return Number(new URL(probe.url).port);
}

describe('listenOnLoopback', () => {
  it('should listen on 127.0.0.1 and a free port by default', async () => {
    const server = await listen();
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await (await fetch(server.url)).text()).toBe('ok');
  });

  it('should listen on the port it is given', async () => {
    const port = await freePort();
    const server = await listen({ port });
    expect(server.url).toBe(`http://127.0.0.1:${port}`);
    expect(await (await fetch(server.url)).text()).toBe('ok');
  });

  it('should give a loopback url for a server listening on every address', async () => {
    const server = await listen({ host: '0.0.0.0' });
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await (await fetch(server.url)).text()).toBe('ok');
  });

  it('should reject with the system error when the port is taken', async () => {
    const taken = await listen();
    await expect(listen({ port: Number(new URL(taken.url).port) })).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});
