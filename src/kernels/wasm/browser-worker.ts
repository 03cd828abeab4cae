/**
 * The Web Worker of `createWorkerBackend` (worker-backend.ts): hands every message to the worker
 * side's handler (worker-server.ts). Not imported by the package: scripts/build-wasm.mjs bundles it
 * (classic script, no imports) into BROWSER_WORKER_SOURCE, which the page starts from a blob: URL.
 */
import { workerHandler, type WorkerRequest } from './worker-server.js';

const scope = globalThis as unknown as {
  postMessage(message: unknown, transfer: Transferable[]): void;
  onmessage: ((e: MessageEvent<WorkerRequest>) => void) | null;
};
const handle = workerHandler((reply, transfer) => scope.postMessage(reply, transfer ?? []));
scope.onmessage = (e) => void handle(e.data);
