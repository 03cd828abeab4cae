import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', gpu: 'src/gpu/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  platform: 'neutral',
  treeshake: true,
  // Shared chunks in CJS too, so 'int8-linear' and 'int8-linear/gpu' share one copy of the error
  // classes (instanceof BackendError holds across entries) and of the kernels.
  splitting: true,
});
