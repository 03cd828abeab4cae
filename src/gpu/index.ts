import { availableBackends as cpuBackends } from '../kernels/available.js';
import type { Backend } from '../kernels/types.js';
import { createGpuBackend } from './backend.js';

export { createGpuBackend, M_BUCKETS, ON_GPU, MAX_INDEX } from './backend.js';
export type { GpuBackend, GpuBackendOptions, GpuStats, SoftwareGpuMode } from './backend.js';
export { isSoftwareRenderer, SOFTWARE_RENDERERS } from './device.js';
export type { DeviceInfo } from './device.js';
export type { GpuMode, GpuModeRequest } from './gpujs.js';
export { packInt8Rows, packedLength, LANES, LINEAR_KERNEL_SOURCE } from './pack.js';

/**
 * The main entry's backends plus the gpu.js backend in the mode gpu.js really picks here (webgl2 in
 * browsers, headlessgl or webasm in Node). It comes first only where a real GPU runs it; where it is
 * software-emulated (`softwareEmulated`: gpu.js's webasm or cpu mode, or a GPU API on a software
 * rasterizer such as SwiftShader or llvmpipe, whose `mode` then ends in '-software') it comes after the
 * CPU kernels, just before the reference, which is always last. The gpu.js backend is left out, with the
 * reason passed to `onSkip`, where gpu.js does not load or its probe kernel fails. Each call creates
 * fresh backends: `dispose()` the ones you do not keep.
 *
 * Shape: none (a list of backends; each runs x (m, k) -> out (m, n)).
 *
 * Example:
 *   import { availableBackends } from 'int8-linear/gpu';
 *   for (const b of await availableBackends()) console.log(b.name, b.mode);
 *   // Node without gl: wasm-simd, js-packed, gpujs webasm, reference; headless Chromium: ..., gpujs webgl2-software, reference
 */
export async function availableBackends(onSkip: (reason: string) => void = () => undefined): Promise<Backend[]> {
  const cpu = await cpuBackends();
  try {
    const gpu = await createGpuBackend();
    // On a real GPU it leads; emulated on the CPU (webasm, cpu, a software rasterizer) it is slower than the CPU kernels.
    if (!gpu.softwareEmulated) return [gpu, ...cpu];
    return [...cpu.slice(0, -1), gpu, ...cpu.slice(-1)];
  } catch (cause) {
    onSkip(String(cause));
    return cpu;
  }
}
