/**
 * The worker backend on Node's worker_threads for the tests: `createWorkerBackend` of
 * `int8-linear/node` (src/kernels/wasm/node-web-worker.ts) and its worker, which runs the bundled
 * browser worker source. With it the unit and conformance tests run the worker backend in Node,
 * threads and shared memory included.
 */
export { createWorkerBackend as createNodeWorkerBackend } from '../../src/kernels/wasm/node-web-worker.js';
export { nodeWebWorker } from '../../src/kernels/wasm/node-web-worker.js';
