import { MAIN_BACKENDS, createAvailable } from './registry.js';
import type { Backend } from './types.js';

/**
 * The backends that work in this environment, fastest first, each reporting the mode it really
 * runs in: the WebAssembly SIMD kernel where wasm SIMD128 exists, the JS fallback over the same
 * packed layout, and the reference backend, always last and always present (the main entry's
 * registry, `MAIN_BACKENDS`). Each call creates fresh backends: `dispose()` the ones you do not keep.
 *
 * Shape: each backend listed runs x (m, k) -> out (m, n).
 *
 * Example:
 *   for (const b of await availableBackends()) console.log(b.name, b.mode, qfc.to(b).forward(x).shape);
 */
export async function availableBackends(onSkip?: (reason: string) => void): Promise<Backend[]> {
  return createAvailable(MAIN_BACKENDS, onSkip);
}
