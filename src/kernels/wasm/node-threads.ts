/**
 * The wasm SIMD backend on several threads (Node only: `int8-linear/node`). The kernels of
 * kernel.wat run on one shared WebAssembly.Memory, imported by an instance on the calling thread and
 * one in each worker_threads worker; a call's output row blocks are split between them.
 *
 * Scheduling (chunks.ts, the one copy shared with the worker, node-worker.ts): a call is cut into
 * chunks of row blocks; every thread (the caller included) claims its own share first, then, with
 * atomic counters, the chunks the others have not started. A worker sleeps in Atomics.wait between
 * calls; the caller posts a call, runs chunks itself, then either withdraws the post (the worker
 * never woke: nothing to wait for) or waits for the worker's last chunk. Row blocks are independent,
 * so the output is bit for bit the single-thread backend's.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { BackendError, checkOptions } from '../../errors.js';
import { compileOnce, memoryLimitOf, useRelaxed, useRelaxedDot, wasmBackendOf, wasmSimdSupported, type WasmBackendOptions, type WasmBackend } from './backend.js';
import { controlWords, workerChunks, type KernelExports, type WorkerStart } from './chunks.js';
import { KERNEL_RELAXED_SHARED_WASM_BASE64 } from './generated/kernel-relaxed-shared-bytes.js';
import { KERNEL_SHARED_WASM_BASE64 } from './generated/kernel-shared-bytes.js';
import { NODE_WORKER_SOURCE } from './generated/node-worker-source.js';
import { WasmHeap } from './heap.js';
import { checkThreads, minMacsOf, sharedDispatch } from './shared-dispatch.js';

export { MIN_THREADED_MACS } from './shared-dispatch.js';

/** Options of `createThreadedWasmBackend`. */
export interface ThreadedWasmBackendOptions extends WasmBackendOptions {
  /** Threads per call, the calling thread included (so `threads - 1` workers); default 2 (1 where `os.availableParallelism()` is 1). */
  readonly threads?: number;
  /** W8A32 calls with fewer multiply-adds (m · n · k, padded), W8A8 calls with fewer than twice this, run on the calling thread alone; default `MIN_THREADED_MACS`. */
  readonly minThreadedMacs?: number;
}

/**
 * The threaded wasm backend: a WasmBackend that splits calls over `threads` threads.
 *
 * Shape: as `Backend`.
 *
 * Example:
 *   const wasm2 = await createThreadedWasmBackend({ threads: 2 });
 *   wasm2.mode;      // 'wasm-simd128-threads2'
 *   wasm2.dispose(); // terminates the worker
 *   await wasm2.exited;
 */
export interface ThreadedWasmBackend extends WasmBackend {
  /** Threads a large call runs on, the calling thread included. */
  readonly threads: number;
  /** Resolves once every worker has exited (after `dispose()`). */
  readonly exited: Promise<void>;
  /** Chunks of row blocks that workers ran so far: 0 means every call ran on the calling thread alone. */
  readonly workerChunks: number;
}

/**
 * Creates the WebAssembly SIMD backend on `threads` threads (Node only, from `int8-linear/node`):
 * the same kernels, packed layout and numbers as `createWasmBackend()` (outputs are bit for bit the
 * same), with each large call's output rows split between the calling thread and `threads - 1`
 * worker_threads workers over one shared WebAssembly.Memory. Calls under `MIN_THREADED_MACS`
 * multiply-adds (W8A8: twice that) run on the calling thread only. The calling thread blocks (Atomics.wait) until the
 * call is done, as with the single-thread backend. Workers do not keep the process alive;
 * `dispose()` terminates them. Measured gain and when it pays: docs/wasm.md.
 *
 * Shape: as `Backend.linear`: x (m, k) -> out (m, n).
 *
 * Example:
 *   import { createThreadedWasmBackend } from 'int8-linear/node';
 *   const wasm2 = await createThreadedWasmBackend();           // 2 threads (1 on a 1-core machine)
 *   QuantizedLinear.fromLinear(new Linear(4096, 4096)).to(wasm2).forward(x);
 *   wasm2.dispose();
 */
export async function createThreadedWasmBackend(options: ThreadedWasmBackendOptions = {}): Promise<ThreadedWasmBackend> {
  checkOptions('createThreadedWasmBackend', options, ['maxMemoryBytes', 'threads', 'minThreadedMacs', 'relaxed'], BackendError);
  // A second thread on a single core only adds the cost of waking it.
  const threads = options.threads ?? Math.min(2, availableParallelism());
  const minMacs = minMacsOf('createThreadedWasmBackend', options.minThreadedMacs);
  const limit = memoryLimitOf('createThreadedWasmBackend', options.maxMemoryBytes);
  checkThreads('createThreadedWasmBackend', threads, "os.availableParallelism() says how many cores this machine has");
  if (!wasmSimdSupported()) {
    throw new BackendError('createThreadedWasmBackend: this runtime has no WebAssembly SIMD128 (needs Node >= 16.4); use createJsBackend() instead');
  }
  const relaxed = useRelaxed('createThreadedWasmBackend', options.relaxed);
  const module = await compileOnce(relaxed ? KERNEL_RELAXED_SHARED_WASM_BASE64 : KERNEL_SHARED_WASM_BASE64);
  // The maximum is `maxMemoryBytes` (default the wasm32 limit): a shared memory cannot move when it
  // grows, so it is reserved (address space only) up front. Growing past it throws, and the heap turns
  // that into a BackendError that changes nothing.
  const pages = Math.floor(limit / 65536);
  const memory = new WebAssembly.Memory({ initial: 1, maximum: pages, shared: true });
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  const kernel = instance.exports as unknown as KernelExports;
  const heap = new WasmHeap(memory, 16, pages * 65536);
  const words = controlWords(threads);
  const ctlPtr = heap.alloc(words * 4);
  const ctl = new Int32Array(memory.buffer, ctlPtr, words);
  ctl.fill(0);

  const workers: Worker[] = [];
  for (let slot = 1; slot < threads; slot++) {
    const start: WorkerStart = { module, memory, ctl: ctlPtr, slot, words };
    workers.push(new Worker(new URL(`data:text/javascript,${encodeURIComponent(NODE_WORKER_SOURCE)}`), { workerData: start }));
  }
  const exited = Promise.all(workers.map((w) => new Promise<void>((resolve) => w.once('exit', () => resolve())))).then(() => undefined);
  try {
    await Promise.all(workers.map(started));
  } catch (e) {
    for (const w of workers) void w.terminate();
    throw e;
  }
  // Only now: an unref'd worker would let the process exit while we await its start. (Adding a
  // 'message' listener after this would ref it again: measured, the process then never exits.)
  for (const w of workers) w.unref();

  const dispatch = sharedDispatch(kernel, ctl, workers.length + 1, minMacs, 'wasm-simd-threads', () => {
    for (const w of workers) void w.terminate();
  });
  const backend = wasmBackendOf({ name: 'wasm-simd-threads', mode: `wasm-simd128${relaxed ? '-relaxed' : ''}-threads${threads}`, memory, heap, dispatch, relaxedDot: useRelaxedDot(relaxed) });
  return Object.defineProperties(backend, {
    threads: { value: threads, enumerable: true },
    exited: { value: exited, enumerable: true },
    workerChunks: { get: () => workerChunks(ctl), enumerable: true },
  }) as ThreadedWasmBackend;
}

/** Resolves when the worker has instantiated the kernel; rejects with a BackendError if it cannot start. */
function started(worker: Worker): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (why: string) =>
      reject(new BackendError(`createThreadedWasmBackend: a worker did not start (${why}); createWasmBackend() runs the same kernels on one thread`));
    worker.once('message', () => resolve());
    worker.once('error', (e) => fail(String(e)));
    worker.once('exit', (code) => fail(`exited with code ${code}`));
  });
}
