import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canaryMarker, createCanary } from '@x/core/testing';
import { killEmulatorClis, startEmulatorCli } from '@x/test-support/emulator-cli';
import { afterEach, describe, expect, it } from 'vitest';
import { iamportEmulatorDefaultMerchant } from './iamport-emulator.js';

const bin = new URL('./iamport-emulator-cli.ts', import.meta.url);

afterEach(killEmulatorClis);

async function getToken(url: string, impKey: string, impSecret: string): Promise<Response> {
  return fetch(`${url}/users/getToken`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ imp_key: impKey, imp_secret: impSecret }),
  });
}

/** Asks the emulator at `url` for the default merchant's token, and expects the canary form (never printing it). */
async function expectCanaryToken(url: string): Promise<void> {
  const { impKey, impSecret } = iamportEmulatorDefaultMerchant;
  const token = await getToken(url, impKey, impSecret);
  const { access_token: accessToken } = ((await token.json()) as { response: { access_token: string } }).response;
  expect(/^xcanary[0-9a-f]{33}$/.test(accessToken), 'the token has the canary form').toBe(true);
}

describe('x-iamport-emulator', () => {
  it('should serve tokens and payments on the port it prints, keep it from a second server, and exit 0 on SIGTERM', async () => {
    const emulator = startEmulatorCli(bin, ['--port', '0', '--json']);
    const { url, port } = JSON.parse(await emulator.firstLine) as { url: string; port: number };
    expect(url).toBe(`http://127.0.0.1:${port}`);
    expect(port).toBeGreaterThan(0);

    const { impKey, impSecret } = iamportEmulatorDefaultMerchant;
    const token = await getToken(url, impKey, impSecret);
    expect(token.status).toBe(200);
    const { access_token: accessToken } = ((await token.json()) as { response: { access_token: string } }).response;
    const payment = await fetch(`${url}/payments/imp_448280090638`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(payment.status).toBe(200);
    expect(await payment.json()).toMatchObject({ code: 0, response: { imp_uid: 'imp_448280090638' } });

    const taken = await startEmulatorCli(bin, ['--port', String(port)]).exited;
    expect([taken.code, taken.stderr]).toEqual([1, `x-iamport-emulator: cannot listen on 127.0.0.1:${port}: the port is in use\n`]);

    const exit = await emulator.stop('SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null, stdout: `${JSON.stringify({ url, port })}\n`, stderr: '' });
  });

  it('should refuse a bad flag with exit status 2, naming the flag and quoting no secret', async () => {
    const secret = createCanary('imp-secret-');
    const exit = await startEmulatorCli(bin, ['--port', '99999', '--merchant', `impKey=shop,${secret}`]).exited;
    expect(exit.code).toBe(2);
    expect(exit.stdout).toBe('');
    expect(exit.stderr).toContain('x-iamport-emulator: --port: must be a whole number from 0 to 65535\n');
    expect(exit.stderr).toContain('x-iamport-emulator: --merchant #1: impSecret: required\n');
    expect(exit.stderr).not.toContain(canaryMarker);
  });

  it('should take its merchants, token lifetime and faults from a config file, and exit 0 on SIGINT', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'x-iamport-emulator-'));
    try {
      const merchant = { impKey: 'shop', impSecret: createCanary('shop-secret-') };
      const config = join(directory, 'emulator.json');
      await writeFile(
        config,
        JSON.stringify({ merchants: [merchant], tokenLifetimeMs: 120_000, faults: [{ kind: 'status', status: 503 }] }),
      );
      const emulator = startEmulatorCli(bin, ['--config', config]);
      const url = await emulator.firstLine;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

      expect((await getToken(url, merchant.impKey, merchant.impSecret)).status).toBe(503);
      const token = await getToken(url, merchant.impKey, merchant.impSecret);
      const { now, expired_at: expiredAt } = ((await token.json()) as { response: { now: number; expired_at: number } }).response;
      expect(expiredAt - now).toBe(120);
      const { impKey, impSecret } = iamportEmulatorDefaultMerchant;
      expect((await getToken(url, impKey, impSecret)).status).toBe(401);

      const exit = await emulator.stop('SIGINT');
      expect([exit.code, exit.signal, exit.stderr]).toEqual([0, null, '']);
      expect(exit.stdout).not.toContain(canaryMarker);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('should issue canary-marked tokens with tokenFormat canary from a config file, and refuse another format', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'x-iamport-emulator-'));
    try {
      const config = join(directory, 'emulator.json');
      await writeFile(config, JSON.stringify({ tokenFormat: 'canary' }));
      const emulator = startEmulatorCli(bin, ['--config', config]);
      const url = await emulator.firstLine;
      await expectCanaryToken(url);
      expect((await emulator.stop('SIGTERM')).code).toBe(0);

      await writeFile(config, JSON.stringify({ tokenFormat: createCanary('format-') }));
      const exit = await startEmulatorCli(bin, ['--config', config]).exited;
      expect([exit.code, exit.stdout]).toEqual([2, '']);
      expect(exit.stderr).toContain(`x-iamport-emulator: ${config}: tokenFormat: must be one of hex, canary\n`);
      expect(exit.stderr).not.toContain(canaryMarker);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('should issue canary-marked tokens with --token-format canary, and refuse another format naming the flag', async () => {
    const emulator = startEmulatorCli(bin, ['--token-format', 'canary']);
    const url = await emulator.firstLine;
    await expectCanaryToken(url);
    expect((await emulator.stop('SIGTERM')).code).toBe(0);

    const exit = await startEmulatorCli(bin, ['--token-format', createCanary('format-')]).exited;
    expect(exit).toMatchObject({ code: 2, stdout: '' });
    expect(exit.stderr).toContain('x-iamport-emulator: --token-format: must be one of hex, canary\n');
    expect(exit.stderr).not.toContain(canaryMarker);
  });

  it("should show the default credentials in the README's curl session", async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const { impKey, impSecret } = iamportEmulatorDefaultMerchant;
    // A boolean, not `toContain`: a failure would print the README, and with it the secret.
    expect(readme.includes(`-d '{"imp_key":"${impKey}","imp_secret":"${impSecret}"}'`), 'the curl session uses the default merchant').toBe(
      true,
    );
  });
});
