export { listenOnLoopback } from './loopback-server.js';
export type { LoopbackServer } from './loopback-server.js';
