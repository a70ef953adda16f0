import { createServer, type IncomingHttpHeaders } from 'node:http';
import { inspect } from 'node:util';
import { Agent, request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigurationError, createAuthFetch, isForeignOriginError, type TokenProvider } from './index.js';
import { listenOnLoopback } from './testing/index.js';
import { createAuthDispatcher, createAuthInterceptor } from './undici/index.js';

const secret = 'portone-api-secret-xcanary';

interface Api {
  url: string;
  calls: IncomingHttpHeaders[];
  close(): Promise<void>;
}

/** An API that answers 200 to `PortOne <secret>` and 401 to anything else, recording what it received. */
async function startApi(): Promise<Api> {
  const calls: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    calls.push(req.headers);
    const ok = req.headers.authorization === `PortOne ${secret}`;
    res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' }).end(JSON.stringify(ok ? { ok } : { type: 'UNAUTHORIZED' }));
  });
  const loopback = await listenOnLoopback(server);
  return { url: loopback.url, calls, close: loopback.close };
}

let api: Api;
let foreign: Api;
let tokenRequests: number;
beforeEach(async () => {
  api = await startApi();
  foreign = await startApi();
  tokenRequests = 0;
});
afterEach(async () => {
  await api.close();
  await foreign.close();
});

function staticProvider(credential = secret): TokenProvider {
  return {
    provider: 'portone',
    cacheKey: 'portone:static',
    baseUrl: api.url,
    apiHeaders: { 'x-portone-platform': 'shop' },
    staticAuthorization: () => `PortOne ${credential}`,
    async requestToken() {
      tokenRequests += 1;
      throw new ConfigurationError({ provider: 'portone', issues: [{ path: 'mode', message: 'static: no token' }] });
    },
  };
}

describe('a provider that needs no token (staticAuthorization)', () => {
  it('should send the fixed credential and the API headers through the fetch, never asking for a token', async () => {
    const portone = createAuthFetch(staticProvider());
    for (let call = 0; call < 3; call += 1) expect((await portone('/payments/p1')).status).toBe(200);
    expect(api.calls.map((headers) => [headers.authorization, headers['x-portone-platform']])).toEqual(
      Array.from({ length: 3 }, () => [`PortOne ${secret}`, 'shop']),
    );
    expect(tokenRequests).toBe(0);
  });

  it('should hand a 401 back as it is, sent once, and refuse another origin with nothing sent there', async () => {
    const portone = createAuthFetch(staticProvider('wrong-xcanary'));
    expect((await portone('/payments/p1')).status).toBe(401);
    expect(api.calls).toHaveLength(1);
    const refused = await portone(`${foreign.url}/payments/p1`).catch((error: unknown) => error);
    expect(isForeignOriginError(refused)).toBe(true);
    expect(foreign.calls).toHaveLength(0);
    expect(tokenRequests).toBe(0);
  });

  it('should send it through the interceptor and the dispatcher alike, to its own origin only', async () => {
    const agent = new Agent();
    try {
      for (const dispatcher of [
        agent.compose(createAuthInterceptor(staticProvider())),
        createAuthDispatcher(staticProvider(), { dispatcher: agent }),
      ]) {
        const response = await request(`${api.url}/payments/p1`, { dispatcher });
        await response.body.dump();
        expect(response.statusCode).toBe(200);
        await expect(request(`${foreign.url}/payments/p1`, { dispatcher })).rejects.toSatisfy(isForeignOriginError);
      }
      expect(api.calls.map((headers) => headers.authorization)).toEqual([`PortOne ${secret}`, `PortOne ${secret}`]);
      expect(foreign.calls).toHaveLength(0);
      expect(tokenRequests).toBe(0);
    } finally {
      await agent.close();
    }
  });

  it('should keep the credential out of the provider as inspected or serialised', () => {
    const provider = staticProvider();
    expect(inspect(provider, { depth: 5, showHidden: true })).not.toContain('xcanary');
    expect(JSON.stringify(provider)).not.toContain('xcanary');
  });
});
