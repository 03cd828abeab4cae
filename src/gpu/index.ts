/** The `int8-linear/gpu` entry: the gpu.js backend, loaded only where asked for. */
export { createGpuBackend, M_BUCKETS, ON_GPU, MAX_INDEX } from './backend.js';
export type { GpuBackend, GpuBackendOptions, GpuStats } from './backend.js';
export type { GpuMode, GpuModeRequest } from './gpujs.js';
export { availableBackends } from './registry.js';
