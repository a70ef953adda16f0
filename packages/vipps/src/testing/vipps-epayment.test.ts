import { randomUUID } from 'node:crypto';
import { isConfigurationError } from '@x/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { VippsAccessTokenResponse } from '../vipps-api-types.js';
import { createVippsEmulator, type VippsEmulator, type VippsEmulatorOptions, vippsEmulatorDefaultMerchant } from './index.js';

const { clientId, clientSecret, subscriptionKey, merchantSerialNumber } = vippsEmulatorDefaultMerchant;

let emulator: VippsEmulator;
let clock: number;
let token: string;

async function start(options: VippsEmulatorOptions = {}): Promise<void> {
  emulator = await createVippsEmulator({ now: () => clock, ...options });
  const response = await fetch(`${emulator.url}/accesstoken/get`, {
    method: 'POST',
    headers: { client_id: clientId, client_secret: clientSecret, 'Ocp-Apim-Subscription-Key': subscriptionKey },
  });
  token = ((await response.json()) as VippsAccessTokenResponse).access_token;
}

/** A parsed answer; its body is asserted field by field, so it is not typed per route here. */
// biome-ignore lint/suspicious/noExplicitAny: typing every wire shape again in the test would only repeat the emulator.
type Answer = { status: number; contentType: string | null; body: any };

/** One ePayment call as the API reference shows it: bearer token, subscription key, MSN, and a fresh key unless given. */
async function call(
  method: 'GET' | 'POST',
  path: string,
  options: { body?: unknown; idempotencyKey?: string | null; merchantSerialNumber?: string } = {},
): Promise<Answer> {
  const key = options.idempotencyKey === undefined ? randomUUID() : options.idempotencyKey;
  const response = await fetch(`${emulator.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      'Ocp-Apim-Subscription-Key': subscriptionKey,
      'Merchant-Serial-Number': options.merchantSerialNumber ?? merchantSerialNumber,
      'content-type': 'application/json',
      ...(key === null || method === 'GET' ? {} : { 'Idempotency-Key': key }),
    },
    ...(options.body === undefined ? {} : { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) }),
  });
  const text = await response.text();
  return { status: response.status, contentType: response.headers.get('content-type'), body: text === '' ? undefined : JSON.parse(text) };
}

const nok = (value: number) => ({ currency: 'NOK', value });

function createBody(reference: string, value = 49_900): Record<string, unknown> {
  return {
    amount: nok(value),
    paymentMethod: { type: 'WALLET' },
    reference,
    returnUrl: 'https://example.com/redirect?orderId=1512202',
    userFlow: 'WEB_REDIRECT',
    paymentDescription: 'One pair of socks',
  };
}

/** Creates a payment and has the user approve it in the app. */
async function authorized(reference: string, value = 49_900): Promise<void> {
  expect((await call('POST', '/epayment/v1/payments', { body: createBody(reference, value) })).status).toBe(201);
  emulator.actAsUser(reference, 'approve');
}

const aggregate = (authorized: number, cancelled: number, captured: number, refunded: number) => ({
  authorizedAmount: nok(authorized),
  cancelledAmount: nok(cancelled),
  capturedAmount: nok(captured),
  refundedAmount: nok(refunded),
});

/** The shape of the published error body: RFC 7807 plus `traceId`, and the error code in `extraDetails`. */
function problem(status: number, title: string, errorCode?: string): Record<string, unknown> {
  return {
    type: `https://httpstatuses.io/${status}`,
    title,
    status,
    detail: expect.any(String),
    instance: expect.stringMatching(/^\/v1\//),
    traceId: expect.stringMatching(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/),
    ...(errorCode === undefined ? {} : { extraDetails: [{ name: 'ErrorCode', reason: errorCode }] }),
  };
}

beforeEach(async () => {
  clock = Date.parse('2026-11-02T10:00:00.000Z');
  await start();
});

afterEach(async () => {
  await emulator.close();
});

describe('createVippsEmulator ePayment create and get', () => {
  it('should create a payment that awaits the user, with every field the published GetPaymentResponse requires', async () => {
    const created = await call('POST', '/epayment/v1/payments', {
      body: { ...createBody('acme-shop-123-order1'), metadata: { order: '1' } },
    });
    expect(created).toMatchObject({
      status: 201,
      body: { reference: 'acme-shop-123-order1', redirectUrl: expect.stringMatching(/^http/) },
    });

    const payment = await call('GET', '/epayment/v1/payments/acme-shop-123-order1');
    expect(payment.status).toBe(200);
    expect(payment.body).toEqual({
      reference: 'acme-shop-123-order1',
      state: 'CREATED',
      amount: nok(49_900),
      aggregate: aggregate(0, 0, 0, 0),
      paymentMethod: { type: 'WALLET' },
      profile: {},
      pspReference: expect.any(String),
      redirectUrl: created.body.redirectUrl,
      metadata: { order: '1' },
      merchantSerialNumber,
    });
  });

  it('should authorize the whole amount when the user approves, and share the profile subject when a scope was asked', async () => {
    await call('POST', '/epayment/v1/payments', { body: { ...createBody('acme-shop-123-order2'), profile: { scope: 'name' } } });
    expect(emulator.actAsUser('acme-shop-123-order2', 'approve')).toBe('AUTHORIZED');
    const { body } = await call('GET', '/epayment/v1/payments/acme-shop-123-order2');
    expect(body).toMatchObject({ state: 'AUTHORIZED', aggregate: aggregate(49_900, 0, 0, 0), profile: { sub: expect.any(String) } });
  });

  it('should end a payment the user aborts or lets expire, and refuse to act on a payment that no longer awaits the user', async () => {
    await call('POST', '/epayment/v1/payments', { body: createBody('acme-shop-aborted') });
    await call('POST', '/epayment/v1/payments', { body: createBody('acme-shop-expired') });
    expect(emulator.actAsUser('acme-shop-aborted', 'abort')).toBe('ABORTED');
    expect(emulator.actAsUser('acme-shop-expired', 'expire')).toBe('EXPIRED');
    expect((await call('GET', '/epayment/v1/payments/acme-shop-expired')).body.state).toBe('EXPIRED');
    const refused = (() => {
      try {
        emulator.actAsUser('acme-shop-aborted', 'approve');
      } catch (error) {
        return error;
      }
    })();
    expect(isConfigurationError(refused) && refused.path).toBe('action');
    expect(() => emulator.actAsUser('acme-shop-never-made', 'approve')).toThrow(/no payment/);
  });

  it('should refuse a malformed create with 400 and name each bad field in extraDetails', async () => {
    const response = await call('POST', '/epayment/v1/payments', {
      body: { amount: { currency: 'SEK', value: 10.5 }, paymentMethod: { type: 'CASH' }, reference: 'short', userFlow: 'WEB_REDIRECT' },
    });
    expect(response.status).toBe(400);
    expect(response.contentType).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({ ...problem(400, 'Bad Request'), extraDetails: expect.any(Array) });
    expect(response.body.extraDetails.map((detail: { name: string }) => detail.name).sort()).toEqual([
      'amount.currency',
      'amount.value',
      'paymentMethod.type',
      'reference',
    ]);
    expect((await call('POST', '/epayment/v1/payments', { body: 'not json' })).status).toBe(400);
    const { returnUrl, ...withoutReturnUrl } = createBody('acme-shop-no-return');
    const missing = await call('POST', '/epayment/v1/payments', { body: withoutReturnUrl });
    expect(missing).toMatchObject({ status: 400, body: problem(400, 'Missing required parameter', '4140') });
    expect(missing.body.detail).toBe('The parameter returnUrl is required.');
  });

  it('should refuse an amount under the minimum as a domain error', async () => {
    const response = await call('POST', '/epayment/v1/payments', { body: createBody('acme-shop-tiny', 99) });
    expect(response).toMatchObject({ status: 400, body: problem(400, 'Amount too small', '6010') });
  });

  it('should refuse a second payment with a reference the sales unit already used, but not another sales unit', async () => {
    await call('POST', '/epayment/v1/payments', { body: createBody('acme-shop-123-dup') });
    const again = await call('POST', '/epayment/v1/payments', { body: createBody('acme-shop-123-dup') });
    expect(again).toMatchObject({ status: 409, body: problem(409, 'Idempotency error', '4150') });
    expect(again.body.detail).toContain('acme-shop-123-dup');
    const elsewhere = await call('POST', '/epayment/v1/payments', {
      body: createBody('acme-shop-123-dup'),
      merchantSerialNumber: '654321',
    });
    expect(elsewhere.status).toBe(201);
    emulator.actAsUser('acme-shop-123-dup', 'approve', { merchantSerialNumber: '654321' });
    expect((await call('GET', '/epayment/v1/payments/acme-shop-123-dup')).body.state).toBe('CREATED');
    expect((await call('GET', '/epayment/v1/payments/acme-shop-123-dup', { merchantSerialNumber: '654321' })).body.state).toBe(
      'AUTHORIZED',
    );
  });
});

describe('createVippsEmulator ePayment modifications', () => {
  it('should capture in part, refund, then cancel the rest, with the aggregate the guide shows at each step', async () => {
    await authorized('acme-shop-123-order3', 1000);
    const capture = await call('POST', '/epayment/v1/payments/acme-shop-123-order3/capture', { body: { modificationAmount: nok(250) } });
    expect(capture).toMatchObject({
      status: 200,
      body: { reference: 'acme-shop-123-order3', state: 'AUTHORIZED', amount: nok(1000), aggregate: aggregate(1000, 0, 250, 0) },
    });
    const refund = await call('POST', '/epayment/v1/payments/acme-shop-123-order3/refund', { body: { modificationAmount: nok(100) } });
    expect(refund.body.aggregate).toEqual(aggregate(1000, 0, 250, 100));
    const cancel = await call('POST', '/epayment/v1/payments/acme-shop-123-order3/cancel');
    expect(cancel.body).toMatchObject({ state: 'AUTHORIZED', aggregate: aggregate(1000, 750, 250, 100) });
    expect((await call('GET', '/epayment/v1/payments/acme-shop-123-order3')).body.aggregate).toEqual(aggregate(1000, 750, 250, 100));
  });

  it('should terminate a payment cancelled before the user approved it, cancelling the whole amount', async () => {
    await call('POST', '/epayment/v1/payments', { body: createBody('acme-shop-123-order4', 1000) });
    const cancel = await call('POST', '/epayment/v1/payments/acme-shop-123-order4/cancel');
    expect(cancel).toMatchObject({ status: 200, body: { state: 'TERMINATED', aggregate: aggregate(0, 1000, 0, 0) } });
    const capture = await call('POST', '/epayment/v1/payments/acme-shop-123-order4/capture', { body: { modificationAmount: nok(1000) } });
    expect(capture).toMatchObject({ status: 400, body: problem(400, 'Cannot capture a cancelled payment', '6070') });
  });

  it('should refuse what the payment does not allow, each with its documented title and error code', async () => {
    await call('POST', '/epayment/v1/payments', { body: createBody('acme-shop-pending', 1000) });
    const early = await call('POST', '/epayment/v1/payments/acme-shop-pending/capture', { body: { modificationAmount: nok(1000) } });
    expect(early).toMatchObject({ status: 400, body: problem(400, 'Cannot capture before reservation', '6080') });
    expect(early.body.detail).toBe(
      'The amount you tried to capture is not reserved. The user must accept the payment before capture can be done.',
    );
    const refundEarly = await call('POST', '/epayment/v1/payments/acme-shop-pending/refund', { body: { modificationAmount: nok(100) } });
    expect(refundEarly.body.title).toBe('Attempted refund before reservation');

    await authorized('acme-shop-full', 1000);
    const tooHigh = await call('POST', '/epayment/v1/payments/acme-shop-full/capture', { body: { modificationAmount: nok(1001) } });
    expect(tooHigh).toMatchObject({ status: 400, body: problem(400, 'Capture amount too high', '6090') });
    expect((await call('POST', '/epayment/v1/payments/acme-shop-full/capture', { body: { modificationAmount: nok(1000) } })).status).toBe(
      200,
    );
    const refundTooMuch = await call('POST', '/epayment/v1/payments/acme-shop-full/refund', { body: { modificationAmount: nok(1001) } });
    expect(refundTooMuch).toMatchObject({ status: 400, body: problem(400, 'Not enough refundable', '6150') });
    const cancelCaptured = await call('POST', '/epayment/v1/payments/acme-shop-full/cancel');
    expect(cancelCaptured).toMatchObject({ status: 400, body: problem(400, 'Cannot cancel a captured payment', '6040') });

    const otherCurrency = await call('POST', '/epayment/v1/payments/acme-shop-full/refund', {
      body: { modificationAmount: { currency: 'DKK', value: 100 } },
    });
    expect(otherCurrency).toMatchObject({
      status: 400,
      body: { title: 'Bad Request', extraDetails: [{ name: 'modificationAmount.currency' }] },
    });
    expect((await call('POST', '/epayment/v1/payments/acme-shop-full/capture')).status).toBe(400);

    await call('POST', '/epayment/v1/payments', { body: createBody('acme-shop-aborted') });
    emulator.actAsUser('acme-shop-aborted', 'abort');
    const aborted = await call('POST', '/epayment/v1/payments/acme-shop-aborted/cancel');
    expect(aborted).toMatchObject({ status: 400, body: problem(400, 'Payment cannot be cancelled', '6190') });
    expect(aborted.body.detail).toBe('Reference acme-shop-aborted cannot be cancelled. Invalid state: ABORTED.');
  });

  it('should answer 404 with Reference not found for a payment the sales unit never created', async () => {
    await emulator.close();
    await start({ unknownPaymentReferences: 'not-found' });
    for (const [method, path] of [
      ['GET', '/epayment/v1/payments/acme-shop-missing'],
      ['GET', '/epayment/v1/payments/acme-shop-missing/events'],
      ['POST', '/epayment/v1/payments/acme-shop-missing/cancel'],
    ] as const) {
      const response = await call(method, path);
      expect(response).toMatchObject({ status: 404, body: problem(404, 'Reference not found', '5090') });
    }
  });

  it('should treat a reference never created as an approved 10 NOK payment by default, which can then be modified', async () => {
    expect((await call('GET', '/epayment/v1/payments/acme-shop-made-up')).body).toMatchObject({
      state: 'AUTHORIZED',
      aggregate: aggregate(1000, 0, 0, 0),
    });
    await call('POST', '/epayment/v1/payments/acme-shop-made-up/capture', { body: { modificationAmount: nok(400) } });
    expect((await call('GET', '/epayment/v1/payments/acme-shop-made-up')).body.aggregate).toEqual(aggregate(1000, 0, 400, 0));
    const events = await call('GET', '/epayment/v1/payments/acme-shop-made-up/events');
    expect(events.body.map((event: { name: string }) => event.name)).toEqual(['CREATED', 'AUTHORIZED', 'CAPTURED']);
  });

  it('should approve a payment through the test environment force-approve endpoint', async () => {
    await call('POST', '/epayment/v1/payments', { body: createBody('acme-shop-forced') });
    expect((await call('POST', '/epayment/v1/test/payments/acme-shop-forced/approve', { body: {} })).status).toBe(200);
    expect((await call('GET', '/epayment/v1/payments/acme-shop-forced')).body.state).toBe('AUTHORIZED');
    const again = await call('POST', '/epayment/v1/test/payments/acme-shop-forced/approve', { body: {} });
    expect(again).toMatchObject({ status: 400, body: { title: 'Payment is already reserved' } });
  });

  it('should answer 405 to a method a route does not take and 404 to a path the API does not have', async () => {
    expect((await call('POST', '/epayment/v1/payments/acme-shop-123-order5')).status).toBe(405);
    expect((await call('GET', '/epayment/v1/payments/acme-shop-123-order5/capture')).status).toBe(405);
    expect((await call('GET', '/epayment/v1/payments/acme-shop-123-order5/elsewhere')).status).toBe(404);
  });
});

describe('createVippsEmulator ePayment history', () => {
  it('should list every event in order, each with its amount, pspReference and the Idempotency-Key that caused it', async () => {
    await call('POST', '/epayment/v1/payments', { body: createBody('acme-shop-123-order6', 1000), idempotencyKey: 'create-key-1' });
    emulator.actAsUser('acme-shop-123-order6', 'approve');
    clock += 8_000;
    await call('POST', '/epayment/v1/payments/acme-shop-123-order6/capture', {
      body: { modificationAmount: nok(250) },
      idempotencyKey: 'capture-key-1',
    });
    await call('POST', '/epayment/v1/payments/acme-shop-123-order6/cancel', { idempotencyKey: 'cancel-key-1' });
    const history = await call('GET', '/epayment/v1/payments/acme-shop-123-order6/events');
    expect(history.status).toBe(200);
    const event = (name: string, value: number, idempotencyKey: string, timestamp: string) => ({
      reference: 'acme-shop-123-order6',
      pspReference: expect.any(String),
      name,
      amount: nok(value),
      timestamp,
      idempotencyKey,
      success: true,
    });
    expect(history.body).toEqual([
      event('CREATED', 1000, 'create-key-1', '2026-11-02T10:00:00.000Z'),
      event('AUTHORIZED', 1000, 'create-key-1', '2026-11-02T10:00:00.000Z'),
      event('CAPTURED', 250, 'capture-key-1', '2026-11-02T10:00:08.000Z'),
      event('CANCELLED', 750, 'cancel-key-1', '2026-11-02T10:00:08.000Z'),
    ]);
    expect(new Set(history.body.map((entry: { pspReference: string }) => entry.pspReference)).size).toBe(4);
  });
});

describe('createVippsEmulator ePayment Idempotency-Key', () => {
  it('should answer a repeated request with the same key as the first time, and capture only once', async () => {
    await authorized('acme-shop-123-order7', 1000);
    const request = { body: { modificationAmount: nok(300) }, idempotencyKey: 'capture-once' };
    const first = await call('POST', '/epayment/v1/payments/acme-shop-123-order7/capture', request);
    const second = await call('POST', '/epayment/v1/payments/acme-shop-123-order7/capture', request);
    expect(second).toEqual(first);
    expect((await call('GET', '/epayment/v1/payments/acme-shop-123-order7')).body.aggregate).toEqual(aggregate(1000, 0, 300, 0));
    const events = await call('GET', '/epayment/v1/payments/acme-shop-123-order7/events');
    expect(events.body.filter((event: { name: string }) => event.name === 'CAPTURED')).toHaveLength(1);
  });

  it('should create once for a create repeated with its key, and repeat a refusal for a refused request', async () => {
    const create = { body: createBody('acme-shop-123-order8'), idempotencyKey: 'create-once' };
    const first = await call('POST', '/epayment/v1/payments', create);
    expect(await call('POST', '/epayment/v1/payments', create)).toEqual(first);
    const early = { body: { modificationAmount: nok(100) }, idempotencyKey: 'capture-too-early' };
    const refused = await call('POST', '/epayment/v1/payments/acme-shop-123-order8/capture', early);
    emulator.actAsUser('acme-shop-123-order8', 'approve');
    expect(await call('POST', '/epayment/v1/payments/acme-shop-123-order8/capture', early)).toEqual(refused);
  });

  it('should refuse a key reused for a different request with 409', async () => {
    await authorized('acme-shop-123-order9', 1000);
    await call('POST', '/epayment/v1/payments/acme-shop-123-order9/capture', {
      body: { modificationAmount: nok(100) },
      idempotencyKey: 'k1',
    });
    const changed = await call('POST', '/epayment/v1/payments/acme-shop-123-order9/capture', {
      body: { modificationAmount: nok(200) },
      idempotencyKey: 'k1',
    });
    expect(changed).toMatchObject({ status: 409, body: problem(409, 'Capture idempotency conflict', '4010') });
    const otherOperation = await call('POST', '/epayment/v1/payments/acme-shop-123-order9/refund', {
      body: { modificationAmount: nok(100) },
      idempotencyKey: 'k1',
    });
    expect(otherOperation).toMatchObject({ status: 409, body: problem(409, 'Idempotency error', '4020') });
    expect((await call('GET', '/epayment/v1/payments/acme-shop-123-order9')).body.aggregate).toEqual(aggregate(1000, 0, 100, 0));
  });

  it('should require the Idempotency-Key on every POST the published API lists it for', async () => {
    await authorized('acme-shop-123-order10', 1000);
    for (const path of ['/epayment/v1/payments', '/epayment/v1/payments/acme-shop-123-order10/capture']) {
      const response = await call('POST', path, { body: { modificationAmount: nok(100) }, idempotencyKey: null });
      expect(response).toMatchObject({ status: 400, body: { title: 'Bad Request', extraDetails: [{ name: 'Idempotency-Key' }] } });
    }
    const tooLong = await call('POST', '/epayment/v1/payments/acme-shop-123-order10/cancel', { idempotencyKey: 'k'.repeat(51) });
    expect(tooLong.status).toBe(400);
    expect((await call('GET', '/epayment/v1/payments/acme-shop-123-order10')).body.aggregate).toEqual(aggregate(1000, 0, 0, 0));
  });

  it('should leave no effect behind a request a fault answered, so its retry with the same key acts once', async () => {
    await authorized('acme-shop-123-order11', 1000);
    const request = { body: { modificationAmount: nok(500) }, idempotencyKey: 'retried-capture' };
    emulator.fault({ kind: 'status', status: 503, target: 'payments' });
    expect((await call('POST', '/epayment/v1/payments/acme-shop-123-order11/capture', request)).status).toBe(503);
    emulator.fault({ kind: 'reset', target: 'payments' });
    await expect(call('POST', '/epayment/v1/payments/acme-shop-123-order11/capture', request)).rejects.toThrow();
    expect((await call('POST', '/epayment/v1/payments/acme-shop-123-order11/capture', request)).status).toBe(200);
    expect((await call('POST', '/epayment/v1/payments/acme-shop-123-order11/capture', request)).status).toBe(200);
    expect((await call('GET', '/epayment/v1/payments/acme-shop-123-order11')).body.aggregate).toEqual(aggregate(1000, 0, 500, 0));
    expect(emulator.counters.faults).toBe(2);
  });
});
