import { MAIN_BACKENDS, createAvailable, type BackendFactory } from '../kernels/registry.js';
import type { Backend } from '../kernels/types.js';
import { createGpuBackend, type GpuBackend } from './backend.js';
import type { GpuMode } from './gpujs.js';

/** gpu.js modes the conformance suite and the benchmark run in Node without a display: both emulate a GPU on the CPU. */
const CPU_MODES: readonly GpuMode[] = ['webasm', 'cpu'];

/**
 * The `int8-linear/gpu` registry: the gpu.js backend in the mode gpu.js really picks here (first
 * where a real GPU runs it; software-emulated, as gpu.js's webasm and cpu modes or a GPU API on a
 * software rasterizer, it is listed after the CPU backends, before the reference), then the main
 * entry's registry. Its variants are the gpu.js modes that need no GPU
 * (the conformance suite adds headlessgl where the native `gl` package and a display exist).
 */
export const GPU_BACKENDS: readonly BackendFactory[] = [
  {
    name: 'gpujs',
    unavailable: () => null,
    create: () => createGpuBackend(),
    accumulation: 'float32',
    isEmulated: (backend) => (backend as GpuBackend).softwareEmulated,
    variants: CPU_MODES.map((mode) => ({ label: `gpujs/${mode}`, unavailable: () => null, create: () => createGpuBackend({ mode }) })),
  },
  ...MAIN_BACKENDS,
];

/**
 * The main entry's backends plus the gpu.js backend in the mode gpu.js really picks here (webgl2 in
 * browsers, headlessgl or webasm in Node). It comes first only where a real GPU runs it; where it is
 * software-emulated (`softwareEmulated`: gpu.js's webasm or cpu mode, or a GPU API on a software
 * rasterizer such as SwiftShader or llvmpipe, whose `mode` then ends in '-software'; see docs/gpu.md)
 * it comes after the CPU kernels, just before the reference, which is always last. The gpu.js backend
 * is left out, with the reason passed to `onSkip`, where gpu.js does not load or its probe kernel
 * fails. Each call creates fresh backends: `dispose()` the ones you do not keep.
 *
 * Shape: each backend listed runs x (m, k) -> out (m, n).
 *
 * Example:
 *   import { availableBackends } from 'int8-linear/gpu';
 *   for (const b of await availableBackends()) console.log(b.name, b.mode);
 *   // Node without gl: wasm-simd, js-packed, gpujs webasm, reference; headless Chromium: ..., gpujs webgl2-software, reference
 */
export async function availableBackends(onSkip: (reason: string) => void = () => undefined): Promise<Backend[]> {
  return createAvailable(GPU_BACKENDS, onSkip);
}
