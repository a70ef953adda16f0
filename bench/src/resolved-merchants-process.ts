/**
 * Figure 7 in a process of its own, on the *built* packages, for the reason figure 5 is (`many-merchants-process.ts`):
 * a heap figure taken on the sources under tsx would measure esbuild's `keepNames` wrappers, not the library.
 */
import { measureResolvedMerchants, type ResolvedMerchantsSettings } from './resolved-merchants.js';

process.once('message', (message: { emulatorUrl: string; settings: ResolvedMerchantsSettings }) => {
  measureResolvedMerchants(message.emulatorUrl, message.settings).then(
    (result) => process.send!({ result }, () => process.disconnect()),
    (error: unknown) =>
      process.send!({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) }, () => process.disconnect()),
  );
});
