import { runObservability, startObservability } from './observability.js';

if (process.argv.includes('--serve')) {
  // Keeps serving, a few hundred lookups a second, for a Prometheus or curl of your own; Ctrl-C stops it.
  const service = await startObservability({ port: Number(process.env.PORT ?? 9464) });
  console.log(`metrics on ${service.url}/metrics, readiness on ${service.url}/healthz (Ctrl-C to stop)`);
  let running = true;
  process.once('SIGINT', () => {
    running = false;
  });
  while (running) {
    await service.load(300);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  await service.close();
} else {
  await runObservability();
}
