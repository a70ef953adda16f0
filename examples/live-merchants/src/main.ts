import { runLiveMerchants } from './live-merchants.js';

await runLiveMerchants();
