/**
 * The worker backend's Web Worker, run on Node's worker_threads (Node has no global Worker): the
 * bundled browser worker source (BROWSER_WORKER_SOURCE, exactly what a page starts) after a few
 * lines that give it the worker globals it uses (`postMessage`, `onmessage`). With it the unit and
 * conformance tests run `workerBackendOver` in Node, threads and shared memory included.
 */
import { Worker } from 'node:worker_threads';
import { BROWSER_WORKER_SOURCE } from '../../src/kernels/wasm/generated/browser-worker-source.js';
import { workerBackendOver, type WorkerBackend, type WorkerBackendOptions, type WorkerLike } from '../../src/kernels/wasm/worker-backend.js';

const PRELUDE = `
const { parentPort } = require('node:worker_threads');
globalThis.postMessage = (message, transfer) => parentPort.postMessage(message, transfer);
parentPort.on('message', (data) => globalThis.onmessage && globalThis.onmessage({ data }));
`;

/** Starts one worker of the browser source on worker_threads, seen through the Web Worker API. */
export function nodeWebWorker(source = BROWSER_WORKER_SOURCE): WorkerLike {
  const worker = new Worker(PRELUDE + source, { eval: true });
  const like: WorkerLike = {
    onmessage: null,
    onerror: null,
    postMessage: (message, transfer) => worker.postMessage(message, transfer as never),
    terminate: () => void worker.terminate(),
  };
  worker.on('message', (data: unknown) => like.onmessage?.({ data }));
  worker.on('error', (e: Error) => like.onerror?.({ message: e.message }));

  return like;
}

/** `createWorkerBackend(options)` with its workers on worker_threads. */
export function createNodeWorkerBackend(options?: WorkerBackendOptions): Promise<WorkerBackend> {
  return workerBackendOver(() => nodeWebWorker(), options);
}
