/**
 * A cache policy meant for one gateway, given to a registry of merchants on two: an i'mport merchant and a Vipps
 * merchant on their emulators, one manual clock for the registry and both emulators, an hour of calls, and the token
 * requests each gateway received.
 */
import {
  type Clock,
  createMerchantRegistry,
  defineMerchants,
  type MerchantRegistryOptions,
  type MerchantTokenEvent,
  maxDurationMs,
} from '@x/core';
import { createIamportProvider } from '@x/iamport';
import { createIamportEmulator, type IamportEmulator } from '@x/iamport/testing';
import { createVippsProvider } from '@x/vipps';
import { createVippsEmulator, type VippsEmulator, vippsEmulatorDefaultMerchant } from '@x/vipps/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';

const minute = 60_000;
const providers = { iamport: createIamportProvider, vipps: createVippsProvider };
const vippsPolicy = { refreshAheadMs: 300_000 };

const emulators: Array<IamportEmulator | VippsEmulator> = [];

afterEach(async () => {
  await Promise.all(emulators.splice(0).map((emulator) => emulator.close()));
});

type PolicyOptions = Pick<MerchantRegistryOptions, 'policy' | 'policies'> & { iamportMerchantPolicy?: typeof vippsPolicy };

/**
 * Runs 62 minutes in 10-second steps: both merchants ask for their token at every step and call their API every
 * minute. i'mport's 30-minute token is extended in each of its last minutes (about 29, 34, …, 59 minutes in: one token
 * request, then seven); Vipps' 1-hour token is replaced once, 4 to 5 minutes before it expires.
 */
async function runHour(options: PolicyOptions) {
  let wall = Date.UTC(2026, 0, 1);
  let monotonic = 0;
  const clock: Clock = { now: () => wall, monotonic: () => monotonic };
  const iamport = await createIamportEmulator({ now: clock.now, tokenFormat: 'canary' });
  const vipps = await createVippsEmulator({ now: clock.now });
  emulators.push(iamport, vipps);
  const events: MerchantTokenEvent[] = [];
  const { iamportMerchantPolicy, ...policies } = options;
  const merchants = defineMerchants(providers, {
    'shop-kr': {
      provider: 'iamport',
      ...iamport.defaultMerchant,
      baseUrl: iamport.url,
      ...(iamportMerchantPolicy === undefined ? {} : { policy: iamportMerchantPolicy }),
    },
    'shop-no': { provider: 'vipps', ...vippsEmulatorDefaultMerchant, baseUrl: vipps.url },
  });
  const registry = createMerchantRegistry({ providers, merchants, ...policies, clock, onEvent: (event) => events.push(event) });
  const settle = async (): Promise<void> => {
    await new Promise((resolve) => setImmediate(resolve));
    await vi.waitFor(
      () => {
        const ended = events.filter(
          (event) =>
            (event.type === 'token-refreshed' && event.source === 'provider') ||
            event.type === 'token-unchanged' ||
            event.type === 'token-request-failed',
        ).length;
        expect(ended).toBe(events.filter((event) => event.type === 'token-requested').length);
      },
      { timeout: 5_000, interval: 5 },
    );
  };

  const stepMs = 10_000;
  for (let elapsed = 0; elapsed <= 62 * minute; elapsed += stepMs) {
    if (elapsed % minute === 0) {
      const korea = await registry.fetch('shop-kr')('/payments/imp_448280090638');
      const norway = await registry.fetch('shop-no')('/epayment/v1/payments/order-1');
      expect([korea.status, norway.status]).toEqual([200, 200]);
      await Promise.all([korea.arrayBuffer(), norway.arrayBuffer()]);
    } else {
      await Promise.all([registry.tokens('shop-kr').getToken(), registry.tokens('shop-no').getToken()]);
    }
    await settle();
    wall += stepMs;
    monotonic += stepMs;
  }
  await registry.close();
  return { iamport: iamport.counters, vipps: vipps.counters };
}

describe("createMerchantRegistry with a policy meant for Vipps and an i'mport merchant", () => {
  it.each<[string, PolicyOptions]>([
    ['policy: { refreshAheadMs: 300_000 } for every merchant', { policy: vippsPolicy }],
    ['policies: { vipps: { refreshAheadMs: 300_000 } }', { policies: { vipps: vippsPolicy } }],
    ["the i'mport merchant's own policy: { refreshAheadMs: 300_000 }", { iamportMerchantPolicy: vippsPolicy }],
  ])(
    "should ask i'mport only in its last minutes and Vipps ahead, given %s",
    async (_, options) => {
      const counters = await runHour(options);

      expect(counters.iamport).toMatchObject({ tokenRequests: 8, tokensIssued: 1, tokensExtended: 7, tokensReused: 0 });
      expect(counters.vipps.tokenRequests).toBe(2);
    },
    30_000,
  );

  it("should poll i'mport for the same token when a policy lifts its maxRefreshAheadMs on purpose", async () => {
    const counters = await runHour({ policy: { ...vippsPolicy, maxRefreshAheadMs: maxDurationMs } });

    // Every 10-second step in the four minutes before each last minute may ask, backing off to at most 15 s.
    expect(counters.iamport.tokensReused).toBeGreaterThan(30);
    expect(counters.iamport).toMatchObject({ tokensIssued: 1, tokensExtended: 7 });
    expect(counters.vipps.tokenRequests).toBe(2);
  }, 30_000);
});
