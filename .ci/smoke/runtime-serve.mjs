// Serves runtime-worker.mjs on 127.0.0.1 under Bun or Deno, the way each runtime serves a `fetch` handler, and prints
// `listening <url>` for .ci/smoke/runtime-driver.mjs. The scenarios' settings come from the X_SMOKE_ENV variable,
// handed to the worker as a Worker's binding would be.
import worker from './runtime-worker.mjs';

const env = { SMOKE_ENV: globalThis.Bun ? Bun.env.X_SMOKE_ENV : Deno.env.get('X_SMOKE_ENV') };
const handler = (request) => worker.fetch(request, env);

if (globalThis.Bun) {
  const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: handler });
  console.log(`listening http://127.0.0.1:${server.port}`);
} else {
  Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: ({ port }) => console.log(`listening http://127.0.0.1:${port}`) }, handler);
}
