/**
 * `pnpm --filter @x/example-fleet start [-- --workers 6]`: a fleet of processes on one Redis asks i'mport for one
 * token per merchant, however many processes there are.
 */
import { parseArgs } from 'node:util';
import { runFleet } from './fleet.js';

const { values } = parseArgs({ options: { workers: { type: 'string', default: process.env.FLEET_WORKERS ?? '6' } } });
const workers = Number(values.workers);
if (!Number.isInteger(workers) || workers < 1) throw new Error(`--workers must be a whole number of at least 1, got "${values.workers}"`);

const result = await runFleet({ workers, log: (line) => console.log(line) });

console.log("\ntoken requests per merchant (as the i'mport emulator counted them):");
for (const [merchant, requests] of Object.entries(result.tokenRequestsByMerchant)) console.log(`  ${merchant.padEnd(16)} ${requests}`);
const total = Object.values(result.tokenRequestsByMerchant).reduce((sum, requests) => sum + requests, 0);
console.log(`\n${workers} processes × 3 merchants made ${result.apiCalls} API calls with ${total} token requests.`);
console.log(`what Redis holds for a token (redis-cli GET): ${result.sampleStoredValue.slice(0, 60)}…`);
