import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'provider/index': 'src/provider/index.ts',
    'node/index': 'src/node/index.ts',
    'undici/index': 'src/undici/index.ts',
    'testing/index': 'src/testing/index.ts',
    'testing/fuzz/index': 'src/testing/fuzz/index.ts',
    'testing/conformance/index': 'src/testing/conformance/index.ts',
  },
  format: ['esm', 'cjs'],
  dts: { compilerOptions: { customConditions: [] } },
  clean: true,
  sourcemap: true,
  target: 'node20',
});
