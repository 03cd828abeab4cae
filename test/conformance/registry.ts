import { createRequire } from 'node:module';
import { createGpuBackend } from '../../src/gpu/backend.js';
import { GPU_BACKENDS } from '../../src/gpu/registry.js';
import { variantsOf, type BackendFactory, type BackendVariant } from '../../src/kernels/registry.js';
import { NODE_BACKENDS } from '../../src/kernels/wasm/node-registry.js';
import { relaxedSimdSupported } from '../../src/kernels/wasm/backend.js';
import { createWorkerBackend as createNodeWorkerBackend } from '../../src/kernels/wasm/node-web-worker.js';

/**
 * The worker backend (`createWorkerBackend`, main entry): not in a registry, since it answers only
 * asynchronously and `availableBackends()` lists backends whose `forward` works; here its bundled
 * browser worker runs on worker_threads (int8-linear/node's createWorkerBackend), on two threads with every
 * call split, and on one (the set-up of a page that is not cross-origin isolated). The Chromium e2e
 * runs it in real Web Workers (test/e2e/browser.e2e.ts).
 */
export const WORKER_FACTORY: BackendFactory = {
  name: 'wasm-simd-workers',
  unavailable: () => null,
  create: () => createNodeWorkerBackend(),
  accumulation: 'float32',
  variants: [
    { label: 'wasm-simd-workers threads2', unavailable: () => null, create: () => createNodeWorkerBackend({ threads: 2, minThreadedMacs: 0 }) },
    { label: 'wasm-simd-workers threads1', unavailable: () => null, create: () => createNodeWorkerBackend({ threads: 1 }) },
    {
      label: 'wasm-simd-workers plain',
      unavailable: () => (relaxedSimdSupported() ? null : 'no relaxed SIMD here: the default build is the plain SIMD128 one'),
      create: () => createNodeWorkerBackend({ threads: 2, minThreadedMacs: 0, relaxed: false }),
    },
  ],
};

/**
 * Every registered backend, from the registries of all three entries (each factory once), and the
 * worker backend (WORKER_FACTORY), as the
 * conformance suite and the benchmark run them: every variant of every factory (ggml's
 * test-backend-ops loops over every registered backend the same way). A new backend added to a
 * registry is under test with no change here.
 */
export const REGISTERED: readonly BackendFactory[] = [...new Set([...NODE_BACKENDS, ...GPU_BACKENDS]), WORKER_FACTORY];

/** headlessgl needs the native `gl` package (built from source) and a display (xvfb-run -a). */
export function headlessglUnavailable(): string | null {
  try {
    createRequire(import.meta.url)('gl');
  } catch (cause) {
    return `the optional native package 'gl' does not load (${String(cause).split('\n')[0]}); see docs/gpu.md`;
  }
  if (!process.env.DISPLAY) return 'no X display: run under `xvfb-run -a` (see docs/gpu.md)';
  return null;
}

/** One variant with the factory it belongs to. */
export interface RegisteredVariant extends BackendVariant {
  readonly factory: BackendFactory;
}

/**
 * Every variant of every registered factory, plus gpu.js on headlessgl (a real GL context: only
 * where the native package and a display exist, so not a variant of the browser-safe registry).
 */
export const VARIANTS: readonly RegisteredVariant[] = REGISTERED.flatMap((factory) => {
  const own = variantsOf(factory).map((v) => ({ ...v, factory }));
  if (factory.name !== 'gpujs') return own;
  return [...own, { factory, label: 'gpujs/headlessgl', unavailable: headlessglUnavailable, create: () => createGpuBackend({ mode: 'headlessgl' }) }];
});
