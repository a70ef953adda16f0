import { runDemo } from './demo.js';

await runDemo({ durationMs: Number(process.env.DEMO_DURATION_MS ?? 20_000) });
