import { createJsBackend } from './js-packed.js';
import { createReferenceBackend } from './reference.js';
import type { Backend } from './types.js';
import { createWasmBackend, wasmSimdSupported } from './wasm/backend.js';

/**
 * The backends that work in this environment, fastest first, each reporting the mode it really
 * runs in: the WebAssembly SIMD kernel where wasm SIMD128 exists, the JS fallback over the same
 * packed layout, and the reference backend, always last and always present. Each call creates fresh
 * backends: `dispose()` the ones you do not keep.
 *
 * Shape: none (a list of backends; each runs x (m, k) -> out (m, n)).
 *
 * Example:
 *   for (const b of await availableBackends()) console.log(b.name, b.mode, qfc.to(b).forward(x).shape);
 */
export async function availableBackends(): Promise<Backend[]> {
  const backends: Backend[] = [];
  if (wasmSimdSupported()) backends.push(await createWasmBackend());
  backends.push(createJsBackend(), createReferenceBackend());
  return backends;
}
