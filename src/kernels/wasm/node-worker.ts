/**
 * The threaded backend's worker_threads worker (`createThreadedWasmBackend`): instantiates the shared
 * kernel on the shared memory, says 'ready', then serves calls until told to stop. Not imported by
 * the package: scripts/build-wasm.mjs bundles this file (with chunks.ts) into the ES module source
 * NODE_WORKER_SOURCE, which node-threads.ts starts from a data: URL, so the built package (ESM or
 * CommonJS) needs no worker file.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { serveCalls, workerKernel, type WorkerStart } from './chunks.js';

const start = workerData as WorkerStart;
const { kernel, ctl } = workerKernel(start);
parentPort?.postMessage('ready');
serveCalls(kernel, ctl, start.slot);
