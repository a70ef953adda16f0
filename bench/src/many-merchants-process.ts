/**
 * Figure 5 in a process of its own, on the *built* packages (`dist/`, no `@x/source` condition): tsx compiles with
 * esbuild's `keepNames`, which gives every closure its own `name` property and makes each one several times
 * larger, so a heap figure taken on the sources would measure tsx, not what users install.
 */
import { measureManyMerchants } from './many-merchants.js';

process.once('message', (message: { emulatorUrl: string; merchantCount: number }) => {
  measureManyMerchants(message.emulatorUrl, message.merchantCount).then(
    (result) => process.send!({ result }, () => process.disconnect()),
    (error: unknown) =>
      process.send!({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) }, () => process.disconnect()),
  );
});
