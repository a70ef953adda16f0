// Installed-package smoke test, ESM side: every entry point imports, and each gateway makes one authenticated call
// against its emulator, through the bearer fetch and through the undici interceptor. Run by .ci/pack-smoke in a
// scratch project that installed the packed tarballs with plain npm.
import assert from 'node:assert/strict';
import * as core from '@x/core';
import { loadMerchantConfig } from '@x/core/node';
import * as coreProvider from '@x/core/provider';
import * as coreTesting from '@x/core/testing';
import * as coreFuzz from '@x/core/testing/fuzz';
import { createAuthInterceptor } from '@x/core/undici';
import { createIamportProvider } from '@x/iamport';
import { createIamportEmulator } from '@x/iamport/testing';
import { createClientCredentialsProvider } from '@x/oauth2';
import { createOAuth2Emulator, oauth2EmulatorDefaultMerchant } from '@x/oauth2/testing';
import { instrumentTokens, resendCountAttributes } from '@x/opentelemetry';
import { createPortOneProvider } from '@x/portone';
import { createPortOneEmulator, portOneEmulatorDefaultMerchant } from '@x/portone/testing';
import { createRedisTokenStore } from '@x/redis';
import { isRedisServerAvailable } from '@x/redis/testing';
import { createVippsProvider } from '@x/vipps';
import { createVippsEmulator, vippsEmulatorDefaultMerchant } from '@x/vipps/testing';
import { Agent, request } from 'undici';

assert.equal(typeof core.createTokenCache, 'function');
assert.equal(typeof coreProvider.createTokenErrorMapper, 'function');
const config = await loadMerchantConfig({ merchants: { shop: { provider: 'iamport', impSecret: { $env: 'S' } } } }, { env: { S: 's' } });
assert.equal(config.merchants.shop.impSecret, 's');
assert.equal(typeof coreTesting.listenOnLoopback, 'function');
// The fuzz kit loads without fast-check (it is handed the test's own): the scratch project has none.
assert.equal(typeof coreFuzz.createTokenResponseFuzzKit, 'function');
const redisClient = { sendCommand: async () => null };
assert.throws(
  () => createRedisTokenStore({ client: redisClient, encryptionKey: process.env.X_SMOKE_UNSET_KEY }),
  (error) => core.isConfigurationError(error) && error.message.includes('plaintext: true'),
  'an unset encryption key is refused, naming the plaintext opt-in',
);
assert.equal(typeof createRedisTokenStore({ client: redisClient, plaintext: true }).get, 'function');
assert.equal(typeof isRedisServerAvailable, 'function');

// Subscribed through every call below, on the global (no-op) providers: the channels of the installed @x/core.
const stopTelemetry = instrumentTokens();
assert.deepEqual(resendCountAttributes(), {});
const iamportEmulator = await createIamportEmulator();
const vippsEmulator = await createVippsEmulator();
const portOneEmulator = await createPortOneEmulator();
const oauth2Emulator = await createOAuth2Emulator({ flavor: 'paypal' });
try {
  const iamport = core.createAuthFetch(createIamportProvider({ ...iamportEmulator.defaultMerchant, baseUrl: iamportEmulator.url }));
  const payment = await iamport('/payments/imp_448280090638');
  assert.equal(payment.status, 200);
  assert.equal((await payment.json()).code, 0);

  const vippsProvider = createVippsProvider({ ...vippsEmulatorDefaultMerchant, baseUrl: vippsEmulator.url });
  const agent = new Agent().compose(createAuthInterceptor(vippsProvider));
  const viaInterceptor = await request(new URL('/epayment/v1/payments/order-1', vippsEmulator.url), { dispatcher: agent });
  assert.equal(viaInterceptor.statusCode, 200);
  await viaInterceptor.body.json();
  await agent.close();

  // PortOne in both modes: a login then a refresh after a 401, and the API secret on every call.
  const { apiSecret } = portOneEmulatorDefaultMerchant;
  const portone = core.createAuthFetch(createPortOneProvider({ apiSecret, baseUrl: portOneEmulator.url }));
  assert.equal((await portone('/payments/payment-1')).status, 200);
  portOneEmulator.revoke();
  assert.equal((await portone('/payments/payment-2')).status, 200);
  const portoneStatic = core.createAuthFetch(createPortOneProvider({ apiSecret, baseUrl: portOneEmulator.url, mode: 'static' }));
  assert.equal((await portoneStatic('/payments/payment-3')).status, 200);
  assert.deepEqual(
    [portOneEmulator.counters.loginRequests, portOneEmulator.counters.refreshRequests, portOneEmulator.counters.staticApiCalls],
    [1, 1, 1],
  );

  const error = await core
    .createTokenCache(createIamportProvider({ impKey: 'wrong', impSecret: 'wrong', baseUrl: iamportEmulator.url }))
    .getToken()
    .catch((caught) => caught);
  assert.ok(core.isTokenRequestError(error), 'a rejected credential is a TokenRequestError');

  const { clientId, clientSecret } = oauth2EmulatorDefaultMerchant;
  const paypal = core.createAuthFetch(
    createClientCredentialsProvider({ clientId, clientSecret, preset: 'paypal', baseUrl: oauth2Emulator.url }),
  );
  assert.equal((await paypal('/v2/checkout/orders/1')).status, 200);
} finally {
  stopTelemetry();
  await Promise.all([iamportEmulator.close(), vippsEmulator.close(), portOneEmulator.close(), oauth2Emulator.close()]);
}
console.log(`esm: ok on Node ${process.versions.node}`);
