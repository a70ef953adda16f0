/**
 * `pnpm --filter @x/example-fleet start [-- --workers 50]`: a fleet of processes on one Redis asks i'mport for one
 * token per merchant, however many processes there are.
 */
import { runFleet } from './fleet.js';
import { parseFleetArguments } from './fleet-arguments.js';

const { workers } = parseFleetArguments(process.argv.slice(2));

const result = await runFleet({ workers, log: (line) => console.log(line) });

console.log("\ntoken requests per merchant (as the i'mport emulator counted them):");
for (const [merchant, requests] of Object.entries(result.tokenRequestsByMerchant)) console.log(`  ${merchant.padEnd(16)} ${requests}`);
const total = Object.values(result.tokenRequestsByMerchant).reduce((sum, requests) => sum + requests, 0);
console.log(`\n${workers} processes × 3 merchants made ${result.apiCalls} API calls with ${total} token requests.`);
console.log(`what Redis holds for a token (redis-cli GET): ${result.sampleStoredValue.slice(0, 60)}…`);
