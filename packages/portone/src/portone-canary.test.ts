/**
 * Secret canaries: the provider conformance suite's every failure path of the PortOne provider, cache, bearer fetch,
 * undici interceptor and registry, against the emulator, with PortOne's own bodies among the faults
 * (`portone-conformance.ts`). The API secret and the refresh tokens hold the canary marker; the access tokens are JWTs,
 * whose base64url JSON cannot, so they are looked for by value.
 */
import { createAuthFetch, createMemoryTokenStore, createTokenCache } from '@x/core';
import { CanaryScanner } from '@x/core/testing';
import { describeCanaryConformance } from '@x/core/testing/conformance';
import { describe, expect, it } from 'vitest';
import { portOneConformance, portOneJwt, portOneTokenBody } from '../test/portone-conformance.js';
import { createPortOneProvider } from './portone-token-provider.js';
import { createPortOneEmulator } from './testing/index.js';

describeCanaryConformance(portOneConformance);

describe('PortOne access tokens, which cannot carry the canary marker', () => {
  it('should show no access token in any event, error or object, through logins, refreshes, 401s and failures', async () => {
    const emulator = await createPortOneEmulator();
    const observed: Array<[label: string, value: unknown]> = [];
    const tokens = new Set<string>();
    try {
      const store = createMemoryTokenStore();
      const policy = { requestTimeoutMs: 300, retryBaseDelayMs: 1, retryMaxDelayMs: 5, failureCooldownMs: 0 };
      const provider = createPortOneProvider({ apiSecret: emulator.defaultMerchant.apiSecret, baseUrl: emulator.url });
      const cache = createTokenCache(provider, { store, policy, onEvent: (event) => observed.push([`event ${event.type}`, event]) });
      const portone = createAuthFetch(cache);
      const settle = async (label: string, promise: Promise<unknown>): Promise<void> => {
        const value = await promise.catch((error: unknown) => error);
        if (value instanceof Response) await value.arrayBuffer();
        else if (typeof value === 'object' && value !== null && 'accessToken' in value) tokens.add(String(value.accessToken));
        else observed.push([label, value]);
      };
      await settle('call', portone('/payments/a'));
      emulator.revoke();
      await settle('call after a 401', portone('/payments/b'));
      emulator.fault({ kind: 'status', status: 500, target: 'refresh' });
      await settle('refresh failing', cache.getToken({ forceRefresh: true }));
      emulator.fault({ kind: 'body', status: 401, body: { type: 'UNAUTHORIZED' }, target: 'token', count: 2 });
      await settle('refused', cache.getToken({ forceRefresh: true }));
      const refused = portOneJwt({ iat: 1_700_000_000, exp: 1_600_000_000 });
      tokens.add(refused);
      emulator.fault({ kind: 'raw', body: portOneTokenBody(refused) });
      await settle('expired before issued', cache.getToken({ forceRefresh: true }));
      await settle('forced at last', cache.getToken({ forceRefresh: true }));
      await settle('call at last', portone('/payments/c'));
      for (const seen of emulator.seen('api')) tokens.add(seen.headers.authorization?.replace(/^Bearer /, '') ?? '');
      const scanner = new CanaryScanner([...tokens].filter((token) => token.length > 20));
      for (const [label, value] of [...observed, ['cache', cache], ['store', store], ['provider', provider]] as const)
        scanner.scan(label, value);
      expect(tokens.size).toBeGreaterThanOrEqual(4);
      expect(observed.filter(([label]) => !label.startsWith('event'))).toHaveLength(3);
      expect(scanner.leaks).toEqual([]);
    } finally {
      await emulator.close();
    }
  });
});
