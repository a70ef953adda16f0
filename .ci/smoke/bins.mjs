// Installed-package smoke test of the standalone emulators: each command, as npm linked it into node_modules/.bin
// from the tarball's `bin`, starts on a free port, prints its address as one JSON line, answers one token request
// with its default merchant, and exits 0 on SIGTERM. Run by .ci/pack-smoke in the scratch project.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { iamportEmulatorDefaultMerchant } from '@x/iamport/testing';
import { vippsEmulatorDefaultMerchant } from '@x/vipps/testing';

/** Starts `bin`, makes `tokenRequest` against the URL it prints, stops it and checks the exit. */
async function smoke(bin, tokenRequest) {
  const child = spawn(`node_modules/.bin/${bin}`, ['--port', '0', '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  let printed = false;
  try {
    const lines = createInterface({ input: child.stdout });
    const [line] = await Promise.race([
      once(lines, 'line'),
      exited.then(([code, signal]) => {
        if (!printed) throw new Error(`${bin} exited (${code ?? signal}) before printing its address`);
      }),
    ]);
    printed = true;
    const { url, port } = JSON.parse(line);
    assert.equal(url, `http://127.0.0.1:${port}`, `${bin} prints where it listens`);
    const response = await tokenRequest(url);
    assert.equal(response.status, 200, `${bin} answers a token request`);
    const body = await response.json();
    assert.equal(typeof (body.response?.access_token ?? body.access_token), 'string', `${bin} hands out a token`);
  } finally {
    child.kill('SIGTERM');
  }
  const [code, signal] = await exited;
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, `${bin} exits 0 on SIGTERM`);
}

await smoke('x-iamport-emulator', (url) =>
  fetch(`${url}/users/getToken`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ imp_key: iamportEmulatorDefaultMerchant.impKey, imp_secret: iamportEmulatorDefaultMerchant.impSecret }),
  }),
);
await smoke('x-vipps-emulator', (url) =>
  fetch(`${url}/accesstoken/get`, {
    method: 'POST',
    headers: {
      client_id: vippsEmulatorDefaultMerchant.clientId,
      client_secret: vippsEmulatorDefaultMerchant.clientSecret,
      'Ocp-Apim-Subscription-Key': vippsEmulatorDefaultMerchant.subscriptionKey,
      'Merchant-Serial-Number': vippsEmulatorDefaultMerchant.merchantSerialNumber,
    },
  }),
);
console.log(`bins: ok on Node ${process.versions.node}`);
