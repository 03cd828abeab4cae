/**
 * The `int8-linear/node` entry: what needs Node (files, worker threads). The main entry stays free
 * of `node:` imports so browser bundles work.
 */
export * from './io/node.js';
export { quantizeCheckpoint, DEFAULT_IGNORE, DEFAULT_CHUNK_BYTES, DEFAULT_MAX_SHARD_SIZE, LOW_SQNR_MARGIN_DB } from './io/node-quantize.js';
export { resolveCheckpoint, INDEX_FILE } from './io/node-checkpoint.js';
export type { CheckpointSource } from './io/node-checkpoint.js';
export type { QuantizeCheckpointOptions, QuantizeProgress, QuantizeReport, LayerReport } from './io/node-quantize.js';
export { createThreadedWasmBackend, MIN_THREADED_MACS } from './kernels/wasm/node-threads.js';
export { availableBackends } from './kernels/wasm/node-registry.js';
export { createWorkerBackend } from './kernels/wasm/node-web-worker.js';
export type { ThreadedWasmBackend, ThreadedWasmBackendOptions } from './kernels/wasm/node-threads.js';
