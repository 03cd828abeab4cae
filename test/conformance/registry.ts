import { createRequire } from 'node:module';
import { createGpuBackend } from '../../src/gpu/backend.js';
import { GPU_BACKENDS } from '../../src/gpu/registry.js';
import { variantsOf, type BackendFactory, type BackendVariant } from '../../src/kernels/registry.js';
import { NODE_BACKENDS } from '../../src/kernels/wasm/node-registry.js';

/**
 * Every registered backend, from the registries of all three entries (each factory once), as the
 * conformance suite and the benchmark run them: every variant of every factory (ggml's
 * test-backend-ops loops over every registered backend the same way). A new backend added to a
 * registry is under test with no change here.
 */
export const REGISTERED: readonly BackendFactory[] = [...new Set([...NODE_BACKENDS, ...GPU_BACKENDS])];

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
