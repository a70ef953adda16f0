// Installed-package smoke test, CommonJS side: the same checks as smoke.mjs through require().
const assert = require('node:assert/strict');
const core = require('@x/core');
const { loadMerchantConfig } = require('@x/core/node');
const coreProvider = require('@x/core/provider');
const coreTesting = require('@x/core/testing');
const coreFuzz = require('@x/core/testing/fuzz');
const { createAuthInterceptor } = require('@x/core/undici');
const { createIamportProvider } = require('@x/iamport');
const { createIamportEmulator } = require('@x/iamport/testing');
const { createPortOneProvider } = require('@x/portone');
const { createPortOneEmulator, portOneEmulatorDefaultMerchant } = require('@x/portone/testing');
const { createClientCredentialsProvider } = require('@x/oauth2');
const { createOAuth2Emulator, oauth2EmulatorDefaultMerchant } = require('@x/oauth2/testing');
const { instrumentTokens, resendCountAttributes } = require('@x/opentelemetry');
const { createRedisTokenStore } = require('@x/redis');
const { isRedisServerAvailable } = require('@x/redis/testing');
const { createVippsProvider } = require('@x/vipps');
const { createVippsEmulator, vippsEmulatorDefaultMerchant } = require('@x/vipps/testing');
const { Agent, request } = require('undici');

async function main() {
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

  const stopTelemetry = instrumentTokens();
  assert.deepEqual(resendCountAttributes(), {});
  const iamportEmulator = await createIamportEmulator();
  const vippsEmulator = await createVippsEmulator();
  const portOneEmulator = await createPortOneEmulator();
  const oauth2Emulator = await createOAuth2Emulator();
  try {
    const iamportProvider = createIamportProvider({ ...iamportEmulator.defaultMerchant, baseUrl: iamportEmulator.url });
    const agent = new Agent().compose(createAuthInterceptor(iamportProvider));
    const viaInterceptor = await request(new URL('/payments/imp_448280090638', iamportEmulator.url), { dispatcher: agent });
    assert.equal(viaInterceptor.statusCode, 200);
    assert.equal((await viaInterceptor.body.json()).code, 0);
    await agent.close();

    const vipps = core.createAuthFetch(createVippsProvider({ ...vippsEmulatorDefaultMerchant, baseUrl: vippsEmulator.url }));
    const payment = await vipps('/epayment/v1/payments/order-1');
    assert.equal(payment.status, 200);
    await payment.json();

    const { apiSecret } = portOneEmulatorDefaultMerchant;
    const portoneStatic = core.createAuthFetch(createPortOneProvider({ apiSecret, baseUrl: portOneEmulator.url, mode: 'static' }));
    assert.equal((await portoneStatic('/payments/payment-1')).status, 200);
    const portone = core.createAuthFetch(createPortOneProvider({ apiSecret, baseUrl: portOneEmulator.url }));
    assert.equal((await portone('/payments/payment-2')).status, 200);
    assert.equal(portOneEmulator.counters.loginRequests, 1);

    const error = await core
      .createTokenCache(createVippsProvider({ ...vippsEmulatorDefaultMerchant, clientSecret: 'wrong', baseUrl: vippsEmulator.url }))
      .getToken()
      .catch((caught) => caught);
    assert.ok(core.isTokenRequestError(error), 'a rejected credential is a TokenRequestError');

    const { clientId, clientSecret } = oauth2EmulatorDefaultMerchant;
    const settings = { clientId, clientSecret, tokenUrl: oauth2Emulator.tokenUrl, baseUrl: oauth2Emulator.url };
    const partner = core.createAuthFetch(createClientCredentialsProvider(settings));
    assert.equal((await partner('/api/orders/1')).status, 200);
  } finally {
    stopTelemetry();
    await Promise.all([iamportEmulator.close(), vippsEmulator.close(), portOneEmulator.close(), oauth2Emulator.close()]);
  }
  console.log(`cjs: ok on Node ${process.versions.node}`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
