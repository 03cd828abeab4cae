import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (path: string): string => fileURLToPath(new URL(`./src/${path}`, import.meta.url));

export default defineConfig({
  // Examples import the package by name, as a user's code does; tests that load them (test/unit/digits.test.ts,
  // test/golden/lm.test.ts) get the sources, as tsx does through tsconfig.json's paths, so they run before a build
  // and share one copy of each class with the tests' own imports from src/.
  resolve: {
    alias: [
      { find: /^int8-linear$/, replacement: src('index.ts') },
      { find: /^int8-linear\/node$/, replacement: src('node.ts') },
      { find: /^int8-linear\/gpu$/, replacement: src('gpu/index.ts') },
      { find: /^int8-linear\/advanced$/, replacement: src('advanced.ts') },
    ],
  },
  test: {
    include: ['test/unit/**/*.test.ts', 'test/golden/**/*.test.ts', 'test/conformance/**/*.test.ts', 'test/docs/**/*.test.ts', 'test/hostile/**/*.test.ts'],
    testTimeout: 60_000,
    // assembles kernel.wat into src/kernels/wasm/generated/ first (see scripts/build-wasm.mjs)
    globalSetup: ['test/setup/build-wasm.ts'],
    // test/unit/residency.test.ts checks with a real collection that a layer moved to the wasm
    // backend keeps no int8 copy of its own.
    execArgv: ['--expose-gc'],
  },
});
