import { MAIN_BACKENDS, createAvailable, type BackendFactory } from '../kernels/registry.js';
import type { Backend } from '../kernels/types.js';
import { ON_GPU, createGpuBackend } from './backend.js';
import type { GpuMode } from './gpujs.js';

/** gpu.js modes the conformance suite and the benchmark run in Node without a display: both emulate a GPU on the CPU. */
const CPU_MODES: readonly GpuMode[] = ['webasm', 'cpu'];

/**
 * The `int8-linear/gpu` registry: the gpu.js backend in the mode gpu.js really picks here (first
 * where it runs on a GPU; emulated on the CPU it is listed after the CPU backends, before the
 * reference), then the main entry's registry. Its variants are the gpu.js modes that need no GPU
 * (the conformance suite adds headlessgl where the native `gl` package and a display exist).
 */
export const GPU_BACKENDS: readonly BackendFactory[] = [
  {
    name: 'gpujs',
    unavailable: () => null,
    create: () => createGpuBackend(),
    accumulation: 'float32',
    isEmulated: (backend) => !ON_GPU.includes(backend.mode as GpuMode),
    variants: CPU_MODES.map((mode) => ({ label: `gpujs/${mode}`, unavailable: () => null, create: () => createGpuBackend({ mode }) })),
  },
  ...MAIN_BACKENDS,
];

/**
 * The main entry's backends plus the gpu.js backend in the mode gpu.js really picks here (webgl2 in
 * browsers, headlessgl or webasm in Node), first where it runs on a GPU, else just before the
 * reference, which is always last. The gpu.js backend is left out, with the reason passed to
 * `onSkip`, where gpu.js does not load or its probe kernel fails. Each call creates fresh backends:
 * `dispose()` the ones you do not keep.
 *
 * Shape: each backend listed runs x (m, k) -> out (m, n).
 *
 * Example:
 *   import { availableBackends } from 'int8-linear/gpu';
 *   for (const b of await availableBackends()) console.log(b.name, b.mode);   // Node without gl: wasm-simd, js-packed, gpujs webasm, reference
 */
export async function availableBackends(onSkip: (reason: string) => void = () => undefined): Promise<Backend[]> {
  return createAvailable(GPU_BACKENDS, onSkip);
}
