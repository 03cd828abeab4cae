import { defineConfig } from 'tsup';

export default defineConfig([
  {
    // `int8-linear` (browser-safe), `int8-linear/node` (file helpers, threaded wasm backend), `int8-linear/gpu` (the
    // gpu.js backend) and `int8-linear/advanced` (kernel view, format table, dispatch: for backend authors). Code splitting for both formats, so the entries share one copy of each class
    // and `instanceof` works across them.
    entry: { index: 'src/index.ts', node: 'src/node.ts', gpu: 'src/gpu/index.ts', advanced: 'src/advanced.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    splitting: true,
    target: 'es2022',
    platform: 'neutral',
    treeshake: true,
  },
  {
    // The `int8-linear` command: one self-contained ESM file with a shebang.
    entry: { cli: 'src/cli/bin.ts' },
    format: ['esm'],
    platform: 'node',
    target: 'node20',
    banner: { js: '#!/usr/bin/env node' },
    sourcemap: true,
    clean: false,
    external: ['@petamoriken/float16', 'picomatch'],
  },
]);
