import { availableParallelism } from 'node:os';
import { MAIN_BACKENDS, NO_RELAXED, createAvailable, type BackendFactory } from '../registry.js';
import type { Backend } from '../types.js';
import { relaxedSimdSupported, wasmSimdSupported } from './backend.js';
import { createThreadedWasmBackend } from './node-threads.js';

const NO_SIMD = 'this runtime has no WebAssembly SIMD128';

/**
 * The `int8-linear/node` registry: the threaded wasm backend first, where it can pay (wasm SIMD and
 * at least two cores), then the main entry's registry. The conformance suite and the benchmark run it
 * with every call split over two threads, however small, so the split is what they test.
 */
export const NODE_BACKENDS: readonly BackendFactory[] = [
  {
    name: 'wasm-simd-threads',
    unavailable: () => (!wasmSimdSupported() ? NO_SIMD : availableParallelism() < 2 ? 'one core: a second thread would only add the cost of waking it' : null),
    create: () => createThreadedWasmBackend(),
    accumulation: 'float32',
    variants: [
      {
        label: 'wasm-simd-threads',
        unavailable: () => (wasmSimdSupported() ? null : NO_SIMD),
        create: () => createThreadedWasmBackend({ threads: 2, minThreadedMacs: 0 }),
      },
      {
        label: 'wasm-simd-threads plain',
        unavailable: () => (relaxedSimdSupported() ? null : NO_RELAXED),
        create: () => createThreadedWasmBackend({ threads: 2, minThreadedMacs: 0, relaxed: false }),
      },
    ],
  },
  ...MAIN_BACKENDS,
];

/**
 * The main entry's backends (wasm SIMD, JS fallback, reference) with, first, the threaded wasm
 * backend where it can pay: wasm SIMD and at least two cores (`os.availableParallelism()`). Each call
 * creates fresh backends (the threaded one starts a worker): `dispose()` the ones you do not keep.
 *
 * Shape: each backend listed runs x (m, k) -> out (m, n).
 *
 * Example:
 *   import { availableBackends } from 'int8-linear/node';
 *   for (const b of await availableBackends()) console.log(b.name, b.mode);   // 2 cores: wasm-simd-threads wasm-simd128-threads2, wasm-simd, js-packed, reference
 */
export async function availableBackends(onSkip?: (reason: string) => void): Promise<Backend[]> {
  return createAvailable(NODE_BACKENDS, onSkip);
}
