import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['@x/source'] },
  ssr: { resolve: { conditions: ['@x/source'] } },
  test: {
    name: 'example-observability',
    include: ['src/**/*.test.ts'],
    setupFiles: ['@x/test-support/canary-guard'],
    testTimeout: 60_000,
  },
});
