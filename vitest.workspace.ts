import { defineConfig } from 'vitest/config';

// The root Vitest config. Vitest 4 dropped workspace files; the projects are declared here instead, one per
// package and example, each with its own vitest.config.ts.
export default defineConfig({
  test: {
    projects: ['packages/*/vitest.config.ts', 'examples/*/vitest.config.ts', 'bench/vitest.config.ts'],
  },
});
