import { defineConfig } from 'vitest/config';

export default defineConfig({
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
