export type { LoopbackServer } from './loopback-server.js';
export { listenOnLoopback } from './loopback-server.js';
