import { runMerchantsInCode } from './merchants-in-code.js';

await runMerchantsInCode();
