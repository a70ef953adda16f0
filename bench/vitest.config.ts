import { defineProject } from 'vitest/config';

// Only the soak's own test: the benchmark figures are measured on demand (`pnpm bench`), never in `pnpm test`.
export default defineProject({
  resolve: { conditions: ['@x/source'] },
  ssr: { resolve: { conditions: ['@x/source'] } },
  test: { name: 'bench', include: ['src/**/*.test.ts'], setupFiles: ['@x/test-support/canary-guard'], testTimeout: 60_000 },
});
