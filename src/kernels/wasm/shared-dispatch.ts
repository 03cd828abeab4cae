/**
 * How threads that share one WebAssembly.Memory run a kernel call together (browser-safe): the
 * dispatch of the Node threaded backend (node-threads.ts, worker_threads) and of the worker backend
 * (worker-backend.ts, Web Workers), one copy of the rules (when a call is split, in how many chunks,
 * what a failed worker means), the scheduling itself being chunks.ts's `runShared`.
 */
import { BackendError } from '../../errors.js';
import type { KernelDispatch } from './backend.js';
import { runBlocks, runShared, stopWorkers, type KernelCall, type KernelExports } from './chunks.js';

/**
 * W8A32 calls with fewer multiply-adds (m · padded n · padded k) than this, and W8A8 calls with fewer
 * than twice this (an int8 multiply-add takes about half the time), run on the calling thread alone:
 * a threaded call costs some µs more than a single-thread one, and the worker starts its first chunk
 * late, so below about 2^19 multiply-adds two threads are not faster (measured: docs/wasm.md,
 * bench/results/threads.md).
 */
export const MIN_THREADED_MACS = 2 ** 19;

/** Most threads a backend may have (each is a worker with its own wasm instance). */
export const MAX_THREADS = 64;

/** Chunks per thread: enough for a late or slowed worker to leave its share to the others. */
const CHUNKS_PER_THREAD = 8;

/** @internal Checks a `threads` option (1 .. MAX_THREADS); `hint` says how to pick one. */
export function checkThreads(caller: string, threads: number, hint: string): void {
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw new BackendError(`${caller}: threads must be an integer from 1 to ${MAX_THREADS}, got ${String(threads)}; pass e.g. { threads: 2 } (${hint})`);
  }
}

/** @internal Checks a `minThreadedMacs` option; returns it or the default. */
export function minMacsOf(caller: string, value: number | undefined): number {
  const minMacs = value ?? MIN_THREADED_MACS;
  if (typeof minMacs !== 'number' || !(minMacs >= 0)) {
    throw new BackendError(`${caller}: minThreadedMacs must be a number >= 0, got ${String(minMacs)}; leave it out for the default ${MIN_THREADED_MACS}`);
  }
  return minMacs;
}

/**
 * @internal The dispatch of `threads` threads on one shared memory: this thread is slot 0, the
 * workers (slots 1 .. threads - 1, running `serveCalls` on `ctl`) take chunks of large calls; calls
 * under `minMacs` multiply-adds (W8A8: twice that) run here alone. `stop` ends what started the
 * workers (terminates them), after they were told to return.
 */
export function sharedDispatch(kernel: KernelExports, ctl: Int32Array, threads: number, minMacs: number, name: string, stop: () => void): KernelDispatch {
  return {
    threads,
    run(c: KernelCall): void {
      const macs = c.m * c.nb * 4 * c.groups * c.cpg * 16;
      if (threads === 1 || c.nb < 2 || (c.op === 1 ? macs : macs / 2) < minMacs) {
        runBlocks(kernel, c, 0, c.nb, 0);
        return;
      }
      const size = Math.ceil(Math.max(c.panel, Math.ceil(c.nb / (threads * CHUNKS_PER_THREAD))) / c.panel) * c.panel;
      const chunks = Math.ceil(c.nb / size);
      if (!runShared(kernel, ctl, c, threads, chunks, size)) {
        throw new BackendError(
          `${name} backend: a worker failed during a kernel call (its error is printed on its console); ` +
            `this is a bug: please report it with the layer's shape; createWasmBackend() runs the same kernels on one thread`,
        );
      }
    },
    dispose(): void {
      stopWorkers(ctl, threads);
      stop();
    },
  };
}
