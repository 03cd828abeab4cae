/** The `int8-linear/gpu` entry: the gpu.js backend, loaded only where asked for. */
export { createGpuBackend, M_BUCKETS, ON_GPU, MAX_INDEX } from './backend.js';
export type { GpuBackend, GpuBackendOptions, GpuStats, SoftwareGpuMode } from './backend.js';
export { isSoftwareRenderer, SOFTWARE_RENDERERS } from './device.js';
export type { DeviceInfo } from './device.js';
export type { GpuMode, GpuModeRequest } from './gpujs.js';
export { availableBackends } from './registry.js';
