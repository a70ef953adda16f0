import { defineConfig } from 'vitest/config';

// The root Vitest config. Vitest 4 dropped workspace files; the projects are declared here instead.
export default defineConfig({
  resolve: { conditions: ['@x/source'] },
  ssr: { resolve: { conditions: ['@x/source'] } },
  test: {
    projects: [
      {
        extends: true,
        test: { name: 'core', root: 'packages/core', include: ['src/**/*.test.ts'] },
      },
    ],
  },
});
