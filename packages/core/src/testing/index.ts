export type { LoopbackServer } from './loopback-server.js';
export { listenOnLoopback } from './loopback-server.js';
export type { RawResponse, RawResponseEnding } from './raw-response.js';
export { validateRawResponse, writeRawResponse } from './raw-response.js';
