/**
 * The servers the benchmarks call, run in a child process (`child_process.fork`) so that answering requests does
 * not compete with the measured client for its event loop: a keep-alive `node:http` API that answers every request
 * with a small JSON body, and the i'mport emulator. The parent talks to it over IPC (see `server-host.ts`).
 */

import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createIamportEmulator } from '@x/iamport/testing';
import { benchCredentials, emulatorMerchantCount } from './bench-credentials.js';
import type { HostReply, HostRequest, ServerCounters } from './server-host.js';

const body = Buffer.from('{"ok":true}');
const counters: ServerCounters = { apiRequests: 0, withoutBearer: 0 };

const api = createServer({ keepAliveTimeout: 60_000 }, (request, response) => {
  counters.apiRequests += 1;
  if (!request.headers.authorization?.startsWith('Bearer ')) counters.withoutBearer += 1;
  request.resume();
  response.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length }).end(body);
});
api.listen(0, '127.0.0.1');
await once(api, 'listening');
const apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;

const emulator = await createIamportEmulator({
  // The benchmarks send hundreds of thousands of requests: a log of them would grow the heap under the measurement.
  recordRequests: false,
  merchants: Array.from({ length: emulatorMerchantCount }, (_, index) => benchCredentials(index)),
});

const send = (reply: HostReply): void => {
  process.send!(reply);
};

process.on('message', (message: HostRequest) => {
  if (message.type === 'counters') {
    send({ type: 'counters', counters: { ...counters }, emulator: { ...emulator.counters } });
  } else if (message.type === 'reset') {
    counters.apiRequests = 0;
    counters.withoutBearer = 0;
    // Every figure starts cold on both sides: no token the emulator would hand back unchanged.
    emulator.revoke();
    emulator.resetCounters();
    send({ type: 'reset' });
  } else if (message.type === 'close') {
    api.closeAllConnections();
    api.close();
    void emulator.close().then(() => process.disconnect());
  }
});

send({ type: 'ready', apiUrl, emulatorUrl: emulator.url });
