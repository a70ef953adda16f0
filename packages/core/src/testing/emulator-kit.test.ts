import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createEmulatorKit, type EmulatorOptions } from './emulator-kit.js';
import { listenOnLoopback } from './loopback-server.js';

/** The smallest gateway: one merchant, every request answered `{ ok: true }`. */
function startEcho(options: EmulatorOptions<'api'> = {}) {
  const kit = createEmulatorKit<'api', Record<string, number>, { id: string; secret: string }>(
    {
      name: 'EchoEmulator',
      provider: 'echo',
      defaultTarget: 'api',
      counterNames: [],
      merchants: [{ id: 'shop', secret: 'not-a-secret' }],
      merchantId: (merchant) => merchant.id,
      secretFields: ['secret'],
      faultBodies: { error: () => ({ error: 'server_error' }), sample: '{"ok":true}' },
      route: () => ({ targets: ['api'], answer: () => ({ status: 200, body: { ok: true } }) }),
    },
    options,
  );
  return kit.start({});
}

describe('createEmulatorKit', () => {
  it('should listen on the port and host its options name', async () => {
    const probe = await listenOnLoopback(createServer());
    await probe.close();
    const port = Number(new URL(probe.url).port);
    const emulator = await startEcho({ port, host: '0.0.0.0' });
    try {
      expect(emulator.url).toBe(`http://127.0.0.1:${port}`);
      expect(await (await fetch(emulator.url)).json()).toEqual({ ok: true });
    } finally {
      await emulator.close();
    }
  });
});
