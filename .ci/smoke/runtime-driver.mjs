// The runtime smoke's driver, on Node: starts the four gateways' emulators and another origin on 127.0.0.1, serves
// runtime-worker.mjs under each runtime named on the command line (`bun`, `deno`, `workerd`: a Worker without Node
// compatibility, `workerd-nodejs-compat`: with it), sends each the scenarios' requests and checks what the emulators
// saw. Run by .ci/runtime-smoke in a scratch project that installed the packed tarballs, with bun, deno and workerd
// on PATH and the Worker bundled to worker.bundle.mjs.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startForeignOrigin } from '@x/core/testing';
import { createIamportEmulator, iamportEmulatorDefaultMerchant } from '@x/iamport/testing';
import { createOAuth2Emulator, oauth2EmulatorDefaultMerchant } from '@x/oauth2/testing';
import { createPortOneEmulator, portOneEmulatorDefaultMerchant } from '@x/portone/testing';
import { createVippsEmulator, vippsEmulatorDefaultMerchant } from '@x/vipps/testing';

/**
 * The timed scenario's tokens: refreshed ahead from 2 s, stale from 3.5 s, expired at 4 s. Its calls are spaced at
 * least 500 ms from each edge: a loaded CI machine adds latency.
 */
const timedLifetimeMs = 4_000;
const timedPolicy = { refreshAheadMs: 2_000, refreshAheadJitter: 0, minValidityMs: 500 };
/** No request of the smoke may take longer: a hung one fails the smoke instead of holding CI. */
const requestTimeoutMs = 10_000;

/** Starts a runtime serving the worker; resolves to its URL and a `stop`. */
const runtimes = {
  bun: (smokeEnv) => spawnListening('bun', ['runtime-serve.mjs'], smokeEnv),
  deno: (smokeEnv) =>
    spawnListening(
      'deno',
      ['run', '--quiet', '--allow-net=127.0.0.1', '--allow-env=X_SMOKE_ENV', '--allow-read=.', 'runtime-serve.mjs'],
      smokeEnv,
    ),
  // Node compatibility is on by default from compatibility date 2026-08-04: one run turns it off.
  workerd: (smokeEnv) => startWorkerd(smokeEnv, ['no_nodejs_compat']),
  'workerd-nodejs-compat': (smokeEnv) => startWorkerd(smokeEnv, []),
};

function spawnListening(command, args, smokeEnv) {
  const child = spawn(command, args, {
    env: { ...process.env, X_SMOKE_ENV: JSON.stringify(smokeEnv) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolvePromise, reject) => {
    let output = '';
    child.once('exit', (code) => reject(new Error(`${command} exited (${code}) before listening: ${output}`)));
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      output += chunk;
      const match = /listening (\S+)/.exec(output);
      if (match) resolvePromise({ url: match[1], stop: () => stopChild(child) });
    });
  });
}

async function startWorkerd(smokeEnv, compatibilityFlags) {
  const port = await freePort();
  const directory = mkdtempSync(join(tmpdir(), 'x-workerd-'));
  // The Worker reaches 127.0.0.1 only: the emulators and the other origin. workerd's default network allows public
  // addresses alone, so without this every fetch would fail.
  const config = `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "loopback", network = (allow = ["127.0.0.1/32"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [(name = "worker.mjs", esModule = embed "worker.bundle.mjs")],
  compatibilityDate = "2026-11-01",
  compatibilityFlags = ${JSON.stringify(compatibilityFlags)},
  bindings = [(name = "SMOKE_ENV", text = ${JSON.stringify(JSON.stringify(smokeEnv))})],
  globalOutbound = "loopback",
);
`;
  // `embed` reads files beside the configuration.
  copyFileSync('worker.bundle.mjs', join(directory, 'worker.bundle.mjs'));
  writeFileSync(join(directory, 'config.capnp'), config);
  const child = spawn('workerd', ['serve', join(directory, 'config.capnp'), '--verbose'], { stdio: ['ignore', 'inherit', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  for (let attempt = 0; ; attempt += 1) {
    if (child.exitCode !== null) throw new Error(`workerd exited (${child.exitCode})`);
    try {
      await fetch(url, { signal: AbortSignal.timeout(1_000) });
      break;
    } catch (error) {
      if (attempt >= 100) throw error;
      await sleep(100);
    }
  }
  return {
    url,
    stop: async () => {
      await stopChild(child);
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

function freePort() {
  const server = createServer();
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePromise(port));
    });
  });
}

function stopChild(child) {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolvePromise) => {
    child.once('exit', resolvePromise);
    child.kill();
  });
}

async function ask(runtime, path) {
  const response = await fetch(new URL(path, runtime.url), { signal: AbortSignal.timeout(requestTimeoutMs) });
  const text = await response.text();
  assert.equal(response.status, 200, `${path}: ${text}`);
  return JSON.parse(text);
}

/** The bearer token of each API call the Vipps emulator received, in order. */
function apiTokens(emulator) {
  return emulator.seen('payments').map((request) => request.headers.authorization);
}

async function check(runtimeName, checkName, body) {
  return body().catch((error) => {
    throw new Error(`${runtimeName}: "${checkName}" failed`, { cause: error });
  });
}

async function smoke(name) {
  const iamport = await createIamportEmulator();
  const vipps = await createVippsEmulator({ tokenLifetimeMs: timedLifetimeMs });
  const portone = await createPortOneEmulator();
  const oauth2 = await createOAuth2Emulator({ flavor: 'paypal' });
  const foreign = await startForeignOrigin('{"access_token":"foreign"}');
  const { clientId, clientSecret } = oauth2EmulatorDefaultMerchant;
  const smokeEnv = {
    iamport: { url: iamport.url, merchant: iamportEmulatorDefaultMerchant },
    vipps: { url: vipps.url, merchant: vippsEmulatorDefaultMerchant, policy: timedPolicy },
    portone: { url: portone.url, merchant: { apiSecret: portOneEmulatorDefaultMerchant.apiSecret } },
    oauth2: { url: oauth2.url, merchant: { clientId, clientSecret } },
    foreignUrl: foreign.url,
  };
  const runtime = await runtimes[name](smokeEnv);
  const started = performance.now();
  try {
    if (name.startsWith('workerd')) {
      const { nodeTimers } = await ask(runtime, '/mode');
      assert.equal(nodeTimers, name !== 'workerd', `Node compatibility is ${name === 'workerd' ? 'off' : 'on'}`);
    }

    await check(name, 'stampede', async () => {
      const stampede = await ask(runtime, '/stampede?count=20');
      assert.deepEqual(stampede.statuses, Array(20).fill(200), 'every call of the stampede succeeds');
      assert.equal(iamport.counters.tokenRequests, 1, 'a cold stampede makes one token request');
    });

    // PortOne: one login for a cold stampede, then a refresh (its refresh token, kept beside the access token) after a
    // 401, and never a second login.
    await check(name, 'PortOne login and refresh', async () => {
      const stampede = await ask(runtime, '/stampede?count=10&gateway=portone');
      assert.deepEqual(stampede.statuses, Array(10).fill(200), 'every call of the PortOne stampede succeeds');
      portone.revoke();
      assert.deepEqual(await ask(runtime, '/call?scenario=stampede-portone&gateway=portone'), { status: 200 }, 'the 401 is retried');
      assert.deepEqual([portone.counters.loginRequests, portone.counters.refreshRequests], [1, 1], 'one login, one refresh');
    });

    await check(name, 'OAuth 2.0 client credentials', async () => {
      const stampede = await ask(runtime, '/stampede?count=10&gateway=oauth2');
      assert.deepEqual(stampede.statuses, Array(10).fill(200), 'every call of the OAuth 2.0 stampede succeeds');
      assert.equal(oauth2.counters.tokenRequests, 1, 'a cold stampede makes one token request');
      assert.equal(oauth2.counters.apiCalls, 10);
    });

    await check(name, '401 retry', async () => {
      iamport.revoke();
      iamport.resetCounters();
      assert.deepEqual(await ask(runtime, '/call?scenario=stampede&gateway=iamport'), { status: 200 }, 'the 401 is retried');
      assert.equal(iamport.counters.unauthorizedApiCalls, 1);
      assert.equal(iamport.counters.tokenRequests, 1);
    });

    await check(name, 'body', async () => {
      // The emulator has no POST route for a payment: any answer shows the body went out.
      const answer = await ask(runtime, '/call?scenario=stampede&gateway=iamport&body=bytes');
      assert.equal(typeof answer.status, 'number', `a byte body is sent: ${JSON.stringify(answer)}`);
    });

    await check(name, 'foreign origin', async () => {
      assert.deepEqual(await ask(runtime, '/foreign'), { refused: true, error: 'ForeignOriginError' });
      assert.equal(foreign.received.length, 0, 'nothing is sent to another origin');
    });

    // A module-scope fetch used by requests spaced past the token's refresh time, then past its expiry: the phase is
    // read from the clock at each call (on Workers a timer set during one request never fires after it ends). The
    // refresh is slowed down so that the request that starts it has ended before its answer arrives, as a Worker
    // that answers at once does.
    const timed = '/call?scenario=timed&gateway=vipps';
    await check(name, 'refresh ahead', async () => {
      assert.deepEqual(await ask(runtime, timed), { status: 200 });
      assert.equal(vipps.counters.tokenRequests, 1);
      await sleep(2_200);
      vipps.fault({ kind: 'slow', delayMs: 200, target: 'token' });
      assert.deepEqual(await ask(runtime, timed), { status: 200 }, 'within the refresh window the token is still served');
      await sleep(500);
      assert.deepEqual(await ask(runtime, timed), { status: 200 });
      assert.equal(vipps.counters.tokenRequests, 2, 'the refresh window starts one background refresh');
      const [first, second, third] = apiTokens(vipps);
      // Compared, never printed: a token in an assertion message would leak it.
      assert.ok(second === first, 'the refresh window serves the current token');
      // On workerd a refresh's I/O ends with the request that started it: the current token serves until it is stale.
      if (!name.startsWith('workerd')) assert.ok(third !== first, 'the refreshed token is used once it arrives');
    });
    await check(name, 'expired after an abandoned refresh', async () => {
      await sleep(timedLifetimeMs + 500);
      const requestsBefore = vipps.counters.tokenRequests;
      assert.deepEqual(await ask(runtime, timed), { status: 200 }, 'a call after expiry succeeds');
      assert.equal(vipps.counters.tokenRequests, requestsBefore + 1, 'an expired token is replaced before the call');
      assert.equal(vipps.counters.unauthorizedApiCalls, 0, 'no call carried an expired token');
    });

    // A token request started by one request that ends (its caller gives up) while a second request waits for it,
    // then a third request on the same cache.
    await check(name, 'handoff', async () => {
      iamport.revoke();
      iamport.resetCounters();
      iamport.fault({ kind: 'slow', delayMs: 1_000, target: 'token' });
      const abandonedAnswer = ask(runtime, '/call?scenario=handoff&gateway=iamport&abortMs=200');
      await sleep(50);
      const waitingAnswer = ask(runtime, '/call?scenario=handoff&gateway=iamport');
      const [abandoned, waiting] = await Promise.all([abandonedAnswer, waitingAnswer]);
      assert.match(abandoned.error ?? '', /^(TimeoutError|AbortError)$/, `the first caller stops waiting: ${JSON.stringify(abandoned)}`);
      assert.deepEqual(waiting, { status: 200 }, 'the second caller gets a token');
      assert.deepEqual(await ask(runtime, '/call?scenario=handoff&gateway=iamport'), { status: 200 }, 'a later caller gets one too');
    });
  } finally {
    await runtime.stop();
    await Promise.all([iamport.close(), vipps.close(), portone.close(), oauth2.close(), foreign.close()]);
  }
  console.log(`runtime smoke: ok on ${name} (${Math.round(performance.now() - started)} ms)`);
}

for (const name of process.argv.slice(2)) {
  if (!(name in runtimes)) throw new Error(`unknown runtime ${name}; one of ${Object.keys(runtimes).join(', ')}`);
  await smoke(name);
}
