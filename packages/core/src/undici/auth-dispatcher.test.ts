import { startTestTokenServer, type TestTokenServer, testProvider } from '@x/test-support/token-server';
import { Agent, errors, request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAuthDispatcher } from './auth-dispatcher.js';

describe('createAuthDispatcher', () => {
  let server: TestTokenServer;

  beforeEach(async () => {
    server = await startTestTokenServer();
  });

  afterEach(async () => {
    await server.close();
  });

  it('should send through an Agent of its own, closed by close()', async () => {
    const dispatcher = createAuthDispatcher(testProvider(server));

    const response = await dispatcher.request({ origin: server.url, path: '/api/payments', method: 'GET' });
    await response.body.dump();
    await dispatcher.close();

    expect(response.statusCode).toBe(200);
    await expect(request(`${server.url}/api/payments`, { dispatcher })).rejects.toBeInstanceOf(errors.ClientDestroyedError);
    expect(server.apiCalls).toHaveLength(1);
  });

  it('should close the dispatcher it was given with close(), and destroy it with destroy()', async () => {
    const closed = new Agent();
    const destroyed = new Agent();

    await createAuthDispatcher(testProvider(server), { dispatcher: closed }).close();
    await new Promise<void>((resolve) => createAuthDispatcher(testProvider(server), { dispatcher: destroyed }).destroy(resolve));

    expect(closed.closed).toBe(true);
    expect(destroyed.destroyed).toBe(true);
  });

  it('should refuse a maxRedirections that is not a non-negative integer with a ConfigurationError', () => {
    expect(() => createAuthDispatcher(testProvider(server), { maxRedirections: -1 })).toThrowError(
      expect.objectContaining({
        code: 'X_CONFIGURATION_INVALID',
        issues: [{ path: 'maxRedirections', message: 'must be a non-negative integer' }],
      }),
    );
  });
});
