import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['@x/source'] },
  ssr: { resolve: { conditions: ['@x/source'] } },
  test: { name: 'test-support', include: ['src/**/*.test.ts'], setupFiles: ['./src/canary-guard.ts'] },
});
