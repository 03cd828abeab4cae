import { availableBackends as cpuBackends } from '../kernels/available.js';
import type { Backend } from '../kernels/types.js';
import { ON_GPU, createGpuBackend } from './backend.js';

export { createGpuBackend, M_BUCKETS, ON_GPU, MAX_INDEX } from './backend.js';
export type { GpuBackend, GpuBackendOptions, GpuStats } from './backend.js';
export type { GpuMode, GpuModeRequest } from './gpujs.js';

/**
 * The main entry's backends plus the gpu.js backend in the mode gpu.js really picks here (webgl2 in
 * browsers, headlessgl or webasm in Node), first where it runs on a GPU, else just before the reference, which is always last. The gpu.js backend
 * is left out, with the reason passed to `onSkip`, where gpu.js does not load or its probe kernel
 * fails. Each call creates fresh backends: `dispose()` the ones you do not keep.
 *
 * Shape: none (a list of backends; each runs x (m, k) -> out (m, n)).
 *
 * Example:
 *   import { availableBackends } from 'int8-linear/gpu';
 *   for (const b of await availableBackends()) console.log(b.name, b.mode);   // Node without gl: wasm-simd, js-packed, gpujs webasm, reference
 */
export async function availableBackends(onSkip: (reason: string) => void = () => undefined): Promise<Backend[]> {
  const cpu = await cpuBackends();
  try {
    const gpu = await createGpuBackend();
    // On a real GPU it leads; emulated on the CPU (webasm, cpu) it is slower than the CPU kernels.
    if (ON_GPU.includes(gpu.mode)) return [gpu, ...cpu];
    return [...cpu.slice(0, -1), gpu, ...cpu.slice(-1)];
  } catch (cause) {
    onSkip(String(cause));
    return cpu;
  }
}
