/**
 * The `int8-linear/node` entry: what needs Node (files, worker threads). The main entry stays free
 * of `node:` imports so browser bundles work.
 */
export * from './io/node.js';
export { quantizeCheckpoint, DEFAULT_IGNORE, DEFAULT_CHUNK_BYTES } from './io/node-quantize.js';
export type { QuantizeCheckpointOptions, QuantizeReport, LayerReport } from './io/node-quantize.js';
export { createThreadedWasmBackend, MIN_THREADED_MACS } from './kernels/wasm/node-threads.js';
export { availableBackends } from './kernels/wasm/node-registry.js';
export type { ThreadedWasmBackend, ThreadedWasmBackendOptions } from './kernels/wasm/node-threads.js';
