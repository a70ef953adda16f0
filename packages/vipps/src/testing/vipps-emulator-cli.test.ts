import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canaryMarker, createCanary } from '@x/core/testing';
import { killEmulatorClis, startEmulatorCli } from '@x/test-support/emulator-cli';
import { afterEach, describe, expect, it } from 'vitest';
import { type VippsEmulatorMerchant, vippsEmulatorDefaultMerchant } from './vipps-emulator.js';

const bin = new URL('./vipps-emulator-cli.ts', import.meta.url);

afterEach(killEmulatorClis);

/** `POST /miami/v1/token` as the guide documents it: Basic credentials and `grant_type=client_credentials`. */
async function getPartnerToken(url: string, merchant: VippsEmulatorMerchant): Promise<Response> {
  return fetch(`${url}/miami/v1/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${merchant.clientId}:${merchant.clientSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });
}

/** `GET /epayment/v1/payments/{reference}` with a token of `/accesstoken/get`. */
async function getPayment(url: string, reference: string): Promise<Response> {
  const token = await getToken(url, vippsEmulatorDefaultMerchant);
  const { access_token: accessToken } = (await token.json()) as { access_token: string };
  return fetch(`${url}/epayment/v1/payments/${reference}`, {
    headers: {
      authorization: `Bearer ${accessToken}`,
      'Ocp-Apim-Subscription-Key': vippsEmulatorDefaultMerchant.subscriptionKey,
      'Merchant-Serial-Number': vippsEmulatorDefaultMerchant.merchantSerialNumber,
    },
  });
}

/** `POST /accesstoken/get` with the merchant's credentials in the headers. */
async function getToken(url: string, merchant: VippsEmulatorMerchant): Promise<Response> {
  return fetch(`${url}/accesstoken/get`, {
    method: 'POST',
    headers: {
      client_id: merchant.clientId,
      client_secret: merchant.clientSecret,
      'Ocp-Apim-Subscription-Key': merchant.subscriptionKey ?? '',
      'Merchant-Serial-Number': merchant.merchantSerialNumber ?? '',
    },
  });
}

describe('x-vipps-emulator', () => {
  it('should serve tokens and payments on the port it prints, and exit 0 on SIGTERM', async () => {
    const emulator = startEmulatorCli(bin, ['--port', '0', '--json']);
    const { url, port } = JSON.parse(await emulator.firstLine) as { url: string; port: number };
    expect(url).toBe(`http://127.0.0.1:${port}`);

    const token = await getToken(url, vippsEmulatorDefaultMerchant);
    expect(token.status).toBe(200);
    const { access_token: accessToken } = (await token.json()) as { access_token: string };
    const payment = await fetch(`${url}/epayment/v1/payments/order-1`, {
      headers: {
        authorization: `Bearer ${accessToken}`,
        'Ocp-Apim-Subscription-Key': vippsEmulatorDefaultMerchant.subscriptionKey,
        'Merchant-Serial-Number': vippsEmulatorDefaultMerchant.merchantSerialNumber,
      },
    });
    expect(payment.status).toBe(200);
    expect(await payment.json()).toMatchObject({ reference: 'order-1' });

    const exit = await emulator.stop('SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null, stdout: `${JSON.stringify({ url, port })}\n`, stderr: '' });
  });

  it('should refuse a bad flag with exit status 2, naming the flag and quoting no secret', async () => {
    const secret = createCanary('client-secret-');
    const exit = await startEmulatorCli(bin, ['--partner-token-lifetime-ms', 'soon', '--merchant', `clientId=shop,clientScret=${secret}`])
      .exited;
    expect(exit.code).toBe(2);
    expect(exit.stdout).toBe('');
    expect(exit.stderr).toContain('x-vipps-emulator: --partner-token-lifetime-ms: must be a finite number of at least 0\n');
    expect(exit.stderr).toContain('x-vipps-emulator: --merchant #1: clientSecret: required\n');
    expect(exit.stderr).not.toContain(canaryMarker);
  });

  it('should take its merchants, token lifetime and faults from a config file, and exit 0 on SIGINT', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'x-vipps-emulator-'));
    try {
      const merchant = {
        clientId: 'shop',
        clientSecret: createCanary('shop-secret-'),
        subscriptionKey: createCanary('shop-key-'),
        merchantSerialNumber: '654321',
      };
      const config = join(directory, 'emulator.json');
      await writeFile(
        config,
        JSON.stringify({
          merchants: [merchant],
          tokenLifetimeMs: 120_000,
          faults: [{ kind: 'status', status: 503, target: 'accesstoken' }],
        }),
      );
      const emulator = startEmulatorCli(bin, ['--config', config]);
      const url = await emulator.firstLine;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

      expect((await getToken(url, merchant)).status).toBe(503);
      const token = await getToken(url, merchant);
      expect(((await token.json()) as { expires_in: string }).expires_in).toBe('120');
      expect((await getToken(url, vippsEmulatorDefaultMerchant)).status).toBe(401);

      const exit = await emulator.stop('SIGINT');
      expect([exit.code, exit.signal, exit.stderr]).toEqual([0, null, '']);
      expect(exit.stdout).not.toContain(canaryMarker);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('should send the partner expires_in as a string and refuse unknown references as set in a config file', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'x-vipps-emulator-'));
    try {
      const config = join(directory, 'emulator.json');
      await writeFile(config, JSON.stringify({ partnerExpiresIn: 'string', unknownPaymentReferences: 'not-found' }));
      const emulator = startEmulatorCli(bin, ['--config', config]);
      const url = await emulator.firstLine;

      const partner = await getPartnerToken(url, vippsEmulatorDefaultMerchant);
      expect(partner.status).toBe(200);
      expect(((await partner.json()) as { expires_in: unknown }).expires_in).toBe('900');

      const payment = await getPayment(url, 'order-never-created');
      expect(payment.status).toBe(404);
      expect(await payment.json()).toMatchObject({ title: 'Reference not found' });
      expect((await emulator.stop('SIGTERM')).code).toBe(0);

      await writeFile(config, JSON.stringify({ partnerExpiresIn: 900, unknownPaymentReferences: createCanary('refs-') }));
      const exit = await startEmulatorCli(bin, ['--config', config]).exited;
      expect([exit.code, exit.stdout]).toEqual([2, '']);
      expect(exit.stderr).toContain(`x-vipps-emulator: ${config}: partnerExpiresIn: must be one of number, string\n`);
      expect(exit.stderr).toContain(`x-vipps-emulator: ${config}: unknownPaymentReferences: must be one of authorized, not-found\n`);
      expect(exit.stderr).not.toContain(canaryMarker);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('should take the partner expires_in type and what an unknown reference is from flags, naming a bad one', async () => {
    const emulator = startEmulatorCli(bin, ['--partner-expires-in', 'string', '--unknown-payment-references', 'not-found']);
    const url = await emulator.firstLine;
    expect(((await (await getPartnerToken(url, vippsEmulatorDefaultMerchant)).json()) as { expires_in: unknown }).expires_in).toBe('900');
    const payment = await getPayment(url, 'order-never-created');
    expect([payment.status, ((await payment.json()) as { title: string }).title]).toEqual([404, 'Reference not found']);
    expect((await emulator.stop('SIGTERM')).code).toBe(0);

    const exit = await startEmulatorCli(bin, ['--partner-expires-in', '900', '--unknown-payment-references', createCanary('refs-')]).exited;
    expect(exit).toMatchObject({ code: 2, stdout: '' });
    expect(exit.stderr).toContain('x-vipps-emulator: --partner-expires-in: must be one of number, string\n');
    expect(exit.stderr).toContain('x-vipps-emulator: --unknown-payment-references: must be one of authorized, not-found\n');
    expect(exit.stderr).not.toContain(canaryMarker);
  });

  it("should show the default credentials in the README's curl session", async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const { clientId, clientSecret, subscriptionKey } = vippsEmulatorDefaultMerchant;
    // Booleans, not `toContain`: a failure would print the README, and with it the secrets.
    for (const header of [`client_id: ${clientId}`, `client_secret: ${clientSecret}`, `Ocp-Apim-Subscription-Key: ${subscriptionKey}`]) {
      expect(readme.includes(`-H '${header}'`), `the curl session sends ${header.split(':')[0]}`).toBe(true);
    }
  });
});
