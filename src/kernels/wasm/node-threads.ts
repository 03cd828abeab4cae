/**
 * The wasm SIMD backend on several threads (Node only: `int8-linear/node`). The kernels of
 * kernel.wat run on one shared WebAssembly.Memory, imported by an instance on the calling thread and
 * one in each worker_threads worker; a call's output row blocks are split between them.
 *
 * Scheduling: a call is cut into chunks of row blocks; every thread (the caller included) claims its
 * own share first, then, with atomic counters, the chunks the others have not started, so a worker
 * that wakes late, or shares its core with another process, takes fewer chunks instead of holding
 * the caller up. A worker sleeps
 * in Atomics.wait between calls; the caller posts a call, runs chunks itself, then either withdraws
 * the post (the worker never woke: nothing to wait for) or waits for the worker's last chunk.
 * Row blocks are independent, so the output is bit for bit the single-thread backend's.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { BackendError, checkOptions } from '../../errors.js';
import { KERNEL_SHARED_WASM_BASE64 } from './generated/kernel-shared-bytes.js';
import { decodeBase64, memoryLimitOf, runBlocks, wasmBackendOf, wasmSimdSupported, type KernelCall, type WasmBackendOptions, type KernelDispatch, type KernelExports, type WasmBackend } from './backend.js';
import { WasmHeap } from './heap.js';

/**
 * W8A32 calls with fewer multiply-adds (m · padded n · padded k) than this, and W8A8 calls with fewer
 * than twice this (an int8 multiply-add takes about half the time), run on the calling thread alone:
 * a threaded call costs some µs more than a single-thread one, and the worker starts its first chunk
 * late, so below about 2^19 multiply-adds two threads are not faster (measured: docs/wasm.md,
 * bench/results/threads.md).
 */
export const MIN_THREADED_MACS = 2 ** 19;

/** Chunks per thread: enough for a late or slowed worker to leave its share to the others. */
const CHUNKS_PER_THREAD = 8;

/** Most threads a backend may have (each is a worker with its own wasm instance). */
export const MAX_THREADS = 64;

// Control block, Int32 words in the shared memory: the current call's chunk count, chunk size and
// thread count, its arguments (KernelCall, in ARG_ORDER), then one 64-byte line per thread t (LINES +
// LINE·t): the claim counter of t's home chunks and, for workers, their state word and failure flag.
const CHUNKS = 0;
const CHUNK = 1;
const THREADS = 2;
const ARGS = 3;
const ARG_ORDER = ['op', 'w', 's', 'x', 'xScales', 'out', 'bias', 'm', 'nb', 'groups', 'cpg', 'panel', 'scratch', 'scratchBytes'] as const;
/** Chunks run by workers since the backend was created (diagnostic, `workerChunks`). */
const WORKER_CHUNKS = 31;
const LINES = 32;
const LINE = 16;
const NEXT = 0;
const STATE = 1;
const FAILED = 2;
const IDLE = 0;
const POSTED = 1;
const RUNNING = 2;
const DONE = 3;
const STOP = 4;

/**
 * Thread t's home chunks are [first(t), first(t + 1)): each call gives a thread the same rows, so a
 * weight that fits in the caches stays in the cache of the core that reads it (an A/B against one
 * counter shared by all threads: bench/results/threads.md, run E). A
 * thread that runs out of home chunks takes those the others have not claimed yet, in the order
 * t+1, t+2, ...
 */
function firstChunk(t: number, chunks: number, threads: number): number {
  return Math.floor((t * chunks) / threads);
}

/**
 * The worker: the shared kernel module instantiated on the shared memory, then a loop that sleeps
 * until its state word is POSTED and claims chunks like the caller (runChunks mirrors `runBlocks`
 * and `claimChunks`, with the call read from the control block). Run from a string (`eval: true`), so the built package
 * needs no separate worker file; an eval'd worker is CommonJS or, when the process runs with
 * `--input-type=module` (inherited), ESM, so it loads worker_threads with import(), valid in both.
 */
const WORKER_SOURCE = `'use strict';
import('node:worker_threads').then(({ parentPort, workerData }) => {
const { module, memory, ctl, slot, words } = workerData;
const k = new WebAssembly.Instance(module, { env: { memory } }).exports;
const c = new Int32Array(memory.buffer, ctl, words);
const st = ${LINES} + ${LINE} * slot + ${STATE};
function runChunks() {
  const [op, w, s, x, xs, out, bias, m, nb, groups, cpg, panel, scratch, scratchBytes] = c.subarray(${ARGS}, ${ARGS + ARG_ORDER.length});
  const wb = groups * cpg * 64, sb = groups * 16, os = nb * 16, scr = scratch + slot * scratchBytes;
  const chunks = c[${CHUNKS}], size = c[${CHUNK}], threads = c[${THREADS}];
  for (let v = 0; v < threads; v++) {
    const o = (slot + v) % threads, at = ${LINES} + ${LINE} * o + ${NEXT}, end = Math.floor(((o + 1) * chunks) / threads);
    for (let i = Atomics.add(c, at, 1); i < end; i = Atomics.add(c, at, 1)) {
      const b0 = i * size, n = Math.min(nb, b0 + size) - b0;
      Atomics.add(c, ${WORKER_CHUNKS}, 1);
      if (op === 1) k.linear_f32(w + b0 * wb, s + b0 * sb, x, out + b0 * 16, bias + b0 * 16, m, n, groups, cpg, panel, scr, os);
      else k.linear_i8(w + b0 * wb, s + b0 * sb, x, xs, out + b0 * 16, bias + b0 * 16, m, n, groups, cpg, panel, scr, os);
    }
  }
}
parentPort.postMessage('ready');
for (;;) {
  const state = Atomics.load(c, st);
  if (state === ${STOP}) break;
  if (state !== ${POSTED}) { Atomics.wait(c, st, state); continue; }
  if (Atomics.compareExchange(c, st, ${POSTED}, ${RUNNING}) !== ${POSTED}) continue;
  try { runChunks(); } catch (e) { Atomics.store(c, st - ${STATE} + ${FAILED}, 1); console.error('int8-linear threaded backend, worker', slot, e); }
  Atomics.store(c, st, ${DONE});
  Atomics.notify(c, st);
}
});
`;

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

let compiled: Promise<WebAssembly.Module> | null = null;

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
  checkOptions('createThreadedWasmBackend', options, ['maxMemoryBytes', 'threads', 'minThreadedMacs'], BackendError);
  // A second thread on a single core only adds the cost of waking it.
  const threads = options.threads ?? Math.min(2, availableParallelism());
  const minMacs = options.minThreadedMacs ?? MIN_THREADED_MACS;
  const limit = memoryLimitOf('createThreadedWasmBackend', options.maxMemoryBytes);
  if (!(minMacs >= 0)) {
    throw new BackendError(`createThreadedWasmBackend: minThreadedMacs must be a number >= 0, got ${String(minMacs)}; leave it out for the default ${MIN_THREADED_MACS}`);
  }
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw new BackendError(
      `createThreadedWasmBackend: threads must be an integer from 1 to ${MAX_THREADS}, got ${String(threads)}; ` +
        `pass e.g. { threads: 2 } (os.availableParallelism() says how many cores this machine has)`,
    );
  }
  if (!wasmSimdSupported()) {
    throw new BackendError('createThreadedWasmBackend: this runtime has no WebAssembly SIMD128 (needs Node >= 16.4); use createJsBackend() instead');
  }
  compiled ??= WebAssembly.compile(decodeBase64(KERNEL_SHARED_WASM_BASE64));
  const module = await compiled;
  // The maximum is `maxMemoryBytes` (default the wasm32 limit): a shared memory cannot move when it
  // grows, so it is reserved (address space only) up front. Growing past it throws, and the heap turns
  // that into a BackendError that changes nothing.
  const pages = Math.floor(limit / 65536);
  const memory = new WebAssembly.Memory({ initial: 1, maximum: pages, shared: true });
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  const kernel = instance.exports as unknown as KernelExports;
  const heap = new WasmHeap(memory, 16, pages * 65536);
  const words = LINES + LINE * threads;
  const ctlPtr = heap.alloc(words * 4);
  const ctl = new Int32Array(memory.buffer, ctlPtr, words);
  ctl.fill(0);

  const workers: Worker[] = [];
  for (let slot = 1; slot < threads; slot++) {
    workers.push(new Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, ctl: ctlPtr, slot, words } }));
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

  const dispatch: KernelDispatch = {
    threads,
    run(c: KernelCall): void {
      const macs = c.m * c.nb * 4 * c.groups * c.cpg * 16;
      if (workers.length === 0 || c.nb < 2 || (c.op === 2 ? macs / 2 : macs) < minMacs) {
        runBlocks(kernel, c, 0, c.nb, 0);
        return;
      }
      const size = Math.ceil(Math.max(c.panel, Math.ceil(c.nb / (threads * CHUNKS_PER_THREAD))) / c.panel) * c.panel;
      const chunks = Math.ceil(c.nb / size);
      for (let i = 0; i < ARG_ORDER.length; i++) ctl[ARGS + i] = c[ARG_ORDER[i]];
      ctl[CHUNKS] = chunks;
      ctl[CHUNK] = size;
      ctl[THREADS] = threads;
      for (let t = 0; t < threads; t++) Atomics.store(ctl, LINES + LINE * t + NEXT, firstChunk(t, chunks, threads));
      for (let t = 1; t < threads; t++) {
        Atomics.store(ctl, LINES + LINE * t + STATE, POSTED);
        Atomics.notify(ctl, LINES + LINE * t + STATE, 1);
      }
      let failed = false;
      try {
        for (let o = 0; o < threads; o++) {
          const at = LINES + LINE * o + NEXT;
          const end = firstChunk(o + 1, chunks, threads);
          for (let i = Atomics.add(ctl, at, 1); i < end; i = Atomics.add(ctl, at, 1)) {
            runBlocks(kernel, c, i * size, Math.min(c.nb, (i + 1) * size), 0);
          }
        }
      } finally {
        // Even if this thread failed: no worker may still write into scratch the next call reuses.
        for (let t = 1; t < threads; t++) {
          const st = LINES + LINE * t + STATE;
          if (Atomics.compareExchange(ctl, st, POSTED, IDLE) === POSTED) continue; // it never started
          waitUntilDone(ctl, st);
          if (ctl[st - STATE + FAILED] !== 0) failed = true;
          ctl[st - STATE + FAILED] = 0;
          Atomics.store(ctl, st, IDLE);
        }
      }
      if (failed) {
        throw new BackendError(
          `wasm-simd-threads backend: a worker failed during a kernel call (its error is printed on stderr); ` +
            `this is a bug: please report it with the layer's shape; createWasmBackend() runs the same kernels on one thread`,
        );
      }
    },
    dispose(): void {
      for (let t = 1; t < threads; t++) {
        Atomics.store(ctl, LINES + LINE * t + STATE, STOP);
        Atomics.notify(ctl, LINES + LINE * t + STATE);
      }
      for (const w of workers) void w.terminate();
    },
  };
  const backend = wasmBackendOf({ name: 'wasm-simd-threads', mode: `wasm-simd128-threads${threads}`, memory, heap, dispatch });
  return Object.defineProperties(backend, {
    threads: { value: threads, enumerable: true },
    exited: { value: exited, enumerable: true },
    workerChunks: { get: () => Atomics.load(ctl, WORKER_CHUNKS), enumerable: true },
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

/** Waits until worker state word `st` is DONE: a short spin (the last chunk is usually nearly done), then Atomics.wait. */
function waitUntilDone(ctl: Int32Array, st: number): void {
  for (let spin = 0; spin < 4096; spin++) if (Atomics.load(ctl, st) === DONE) return;
  for (let s = Atomics.load(ctl, st); s !== DONE; s = Atomics.load(ctl, st)) Atomics.wait(ctl, st, s);
}
