/**
 * `createWorkerBackend` of `int8-linear/node`: the worker backend with its workers on Node's
 * worker_threads (Node has no global Worker). Each worker runs the bundled browser worker source
 * (BROWSER_WORKER_SOURCE, exactly what a page starts) after a few lines that give it the worker
 * globals it uses (`postMessage`, `onmessage`). Unlike createThreadedWasmBackend, whose calling thread
 * waits in Atomics.wait, the event loop stays free while a call runs: for servers that must keep
 * answering during a forward.
 */
import { Worker } from 'node:worker_threads';
import { BROWSER_WORKER_SOURCE } from './generated/browser-worker-source.js';
import { workerBackendOver, type WorkerBackend, type WorkerBackendOptions, type WorkerLike } from './worker-backend.js';

// An ES module started from a data: URL (as the threaded backend's worker), not `eval: true` code: that
// is parsed as CommonJS or as a module depending on the parent's flags (--input-type=module: no require).
const PRELUDE = `import { parentPort } from 'node:worker_threads';
globalThis.postMessage = (message, transfer) => parentPort.postMessage(message, transfer);
parentPort.on('message', (data) => globalThis.onmessage && globalThis.onmessage({ data }));
`;

/**
 * @internal One worker of `source` (default the browser worker) on worker_threads, seen through the
 * Web Worker API, with `ref` / `unref` so the backend keeps the process alive only while a call waits.
 */
export function nodeWebWorker(source = BROWSER_WORKER_SOURCE): WorkerLike {
  const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(PRELUDE + source)}`));
  const like: WorkerLike = {
    onmessage: null,
    onerror: null,
    postMessage: (message, transfer) => worker.postMessage(message, transfer as never),
    terminate: () => void worker.terminate(),
    ref: () => worker.ref(),
    unref: () => worker.unref(),
  };
  worker.on('message', (data: unknown) => like.onmessage?.({ data }));
  worker.on('error', (e: Error) => like.onerror?.({ message: e.message }));
  return like;
}

/**
 * The worker backend in Node (from `int8-linear/node`): the main entry's `createWorkerBackend` with
 * its workers on worker_threads, which always share memory (no cross-origin isolation in Node), so
 * `threads` workers split each large call; the same numbers as `createWasmBackend()`, bit for bit,
 * and results through `forwardAsync` while the event loop keeps running. Idle workers do not keep
 * the process alive; `dispose()` terminates them.
 *
 * Shape: as `Backend.linear`: x (m, k) -> out (m, n).
 *
 * Example:
 *   import { createWorkerBackend } from 'int8-linear/node';
 *   const workers = await createWorkerBackend({ threads: 2 });
 *   const y = await QuantizedLinear.fromLinear(new Linear(4096, 4096)).to(workers).forwardAsync(x);
 *   workers.dispose();
 */
export function createWorkerBackend(options?: WorkerBackendOptions): Promise<WorkerBackend> {
  return workerBackendOver(() => nodeWebWorker(), options);
}
