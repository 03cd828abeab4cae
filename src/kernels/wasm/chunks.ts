/**
 * Kernel calls of the wasm backends and how threads share one: the kernel's export, a call over row
 * blocks (`runBlocks`), and the control block in shared memory through which the calling thread
 * posts a call and every thread claims chunks of its row blocks (`claimChunks`, `serveCalls`).
 *
 * This module imports nothing, so the worker entries (`node-worker.ts`; bundled by
 * scripts/build-wasm.mjs into a string, the package ships no worker file) carry exactly this logic,
 * and the calling thread runs the same code: one copy of the chunk-claim loop.
 *
 * Scheduling: a call is cut into chunks of row blocks; thread t's home chunks are
 * [firstChunk(t), firstChunk(t + 1)), the same rows on every call, so a weight that fits in the
 * caches stays in the cache of the core that reads it (against one counter shared by all threads:
 * 1.0 to 1.1x faster, 1x512x1024 to 1x4096x4096). A thread that runs out of home chunks claims, with
 * `Atomics.add`, those the others have not started, in the order t+1, t+2, ..., so a worker that
 * wakes late or shares its core with another process takes fewer chunks instead of holding the call
 * up. Row blocks are independent, so any split gives the single-thread output bit for bit.
 */

/** The kernel's export (see kernel.wat). Pointers are byte offsets into the memory; `os` is the out row stride in bytes. */
export interface KernelExports {
  linear(op: 1 | 2 | 3 | 4, w: number, s: number, x: number, xScales: number, out: number, bias: number, m: number, nb: number, groups: number, cpg: number, flush: number, panel: number, scratch: number, os: number): void;
}

/**
 * One kernel call over the row blocks [0, nb) of a packed weight: pointers into the backend's
 * memory, and `threads` scratch areas of `scratchBytes` each at `scratch` (thread t uses the t-th).
 * `op` 1 is W8A32 (`xScales` and `flush` unused), 2 is W8A8 / W8A16 (int16 x with per-row scales
 * `xScales`, exact int32 sums flushed to float32 every `flush` 16-column chunks of a group), 3 is W8A8
 * with int8 x on relaxed SIMD and 4 is W8A16 with x in three 7-bit planes on relaxed SIMD (the relaxed
 * builds only; same sums and output as 2; 4 uses its scratch for each panel's weight sums).
 */
export interface KernelCall {
  op: 1 | 2 | 3 | 4;
  w: number;
  s: number;
  x: number;
  xScales: number;
  out: number;
  bias: number;
  m: number;
  nb: number;
  groups: number;
  cpg: number;
  flush: number;
  panel: number;
  scratch: number;
  scratchBytes: number;
}

/**
 * Runs `call` over its blocks [b0, b1) on this thread, with scratch area `slot`. Row blocks are
 * independent (the per-row arithmetic does not depend on which blocks a call covers), so any split
 * of [0, nb) into such calls gives the whole call's output bit for bit.
 */
export function runBlocks(kernel: KernelExports, c: KernelCall, b0: number, b1: number, slot: number): void {
  const wb = c.groups * c.cpg * 64; // bytes of one packed block (4 rows)
  const sb = c.groups * 16; // bytes of one block's scales
  const os = c.nb * 16;
  const scratch = c.scratch + slot * c.scratchBytes;
  kernel.linear(c.op, c.w + b0 * wb, c.s + b0 * sb, c.x, c.xScales, c.out + b0 * 16, c.bias + b0 * 16, c.m, b1 - b0, c.groups, c.cpg, c.flush, c.panel, scratch, os);
}

// Control block, Int32 words in the shared memory: the current call's chunk count, chunk size and
// thread count, its arguments (KernelCall, in ARG_ORDER), then one 64-byte line per thread t (LINES +
// LINE·t): the claim counter of t's home chunks and, for workers, their state word and failure flag.
const CHUNKS = 0;
const CHUNK = 1;
const THREADS = 2;
const ARGS = 3;
const ARG_ORDER = ['op', 'w', 's', 'x', 'xScales', 'out', 'bias', 'm', 'nb', 'groups', 'cpg', 'flush', 'panel', 'scratch', 'scratchBytes'] as const;
/** Word counting the chunks run by workers since the backend was created (diagnostic). */
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

/** Int32 words of the control block of `threads` threads. */
export function controlWords(threads: number): number {
  return LINES + LINE * threads;
}

function firstChunk(t: number, chunks: number, threads: number): number {
  return Math.floor((t * chunks) / threads);
}

function stateWord(t: number): number {
  return LINES + LINE * t + STATE;
}

/** Reads the posted call's arguments from the control block. */
function postedCall(ctl: Int32Array): KernelCall {
  const call = {} as Record<(typeof ARG_ORDER)[number], number>;
  for (let i = 0; i < ARG_ORDER.length; i++) call[ARG_ORDER[i]] = ctl[ARGS + i];
  return call as unknown as KernelCall;
}

/**
 * Thread `slot` runs chunks of the posted call until none is left: its home chunks first, then those
 * of threads slot+1, slot+2, ... that nobody has claimed yet. The calling thread is slot 0.
 */
export function claimChunks(kernel: KernelExports, ctl: Int32Array, c: KernelCall, slot: number): void {
  const chunks = ctl[CHUNKS];
  const size = ctl[CHUNK];
  const threads = ctl[THREADS];
  for (let v = 0; v < threads; v++) {
    const o = (slot + v) % threads;
    const at = LINES + LINE * o + NEXT;
    const end = firstChunk(o + 1, chunks, threads);
    for (let i = Atomics.add(ctl, at, 1); i < end; i = Atomics.add(ctl, at, 1)) {
      if (slot !== 0) Atomics.add(ctl, WORKER_CHUNKS, 1);
      runBlocks(kernel, c, i * size, Math.min(c.nb, (i + 1) * size), slot);
    }
  }
}

/**
 * The calling thread's side of a threaded call: posts `c` cut into `chunks` chunks of `size` row
 * blocks, wakes the workers, claims chunks itself, then waits until no worker is still running one
 * (even if this thread failed: no worker may still write into scratch the next call reuses).
 * Returns false if a worker failed (it printed its error).
 */
export function runShared(kernel: KernelExports, ctl: Int32Array, c: KernelCall, threads: number, chunks: number, size: number): boolean {
  for (let i = 0; i < ARG_ORDER.length; i++) ctl[ARGS + i] = c[ARG_ORDER[i]];
  ctl[CHUNKS] = chunks;
  ctl[CHUNK] = size;
  ctl[THREADS] = threads;
  for (let t = 0; t < threads; t++) Atomics.store(ctl, LINES + LINE * t + NEXT, firstChunk(t, chunks, threads));
  for (let t = 1; t < threads; t++) {
    Atomics.store(ctl, stateWord(t), POSTED);
    Atomics.notify(ctl, stateWord(t), 1);
  }
  let ok = true;
  try {
    claimChunks(kernel, ctl, c, 0);
  } finally {
    for (let t = 1; t < threads; t++) {
      const st = stateWord(t);
      if (Atomics.compareExchange(ctl, st, POSTED, IDLE) === POSTED) continue; // it never started
      waitUntilDone(ctl, st);
      if (ctl[st - STATE + FAILED] !== 0) ok = false;
      ctl[st - STATE + FAILED] = 0;
      Atomics.store(ctl, st, IDLE);
    }
  }
  return ok;
}

/**
 * A worker's loop (thread `slot` >= 1): sleeps in Atomics.wait until a call is posted to it, claims
 * chunks like the calling thread, reports done; returns when told to stop (`stopWorkers`).
 */
export function serveCalls(kernel: KernelExports, ctl: Int32Array, slot: number): void {
  const st = stateWord(slot);
  for (;;) {
    const state = Atomics.load(ctl, st);
    if (state === STOP) return;
    if (state !== POSTED) {
      Atomics.wait(ctl, st, state);
      continue;
    }
    if (Atomics.compareExchange(ctl, st, POSTED, RUNNING) !== POSTED) continue; // the caller withdrew it
    try {
      claimChunks(kernel, ctl, postedCall(ctl), slot);
    } catch (e) {
      Atomics.store(ctl, st - STATE + FAILED, 1);
      console.error('int8-linear threaded backend, worker', slot, e);
    }
    Atomics.store(ctl, st, DONE);
    Atomics.notify(ctl, st);
  }
}

/** Tells workers 1 .. threads - 1 to return from `serveCalls`. */
export function stopWorkers(ctl: Int32Array, threads: number): void {
  for (let t = 1; t < threads; t++) {
    Atomics.store(ctl, stateWord(t), STOP);
    Atomics.notify(ctl, stateWord(t));
  }
}

/** Chunks run by workers so far. */
export function workerChunks(ctl: Int32Array): number {
  return Atomics.load(ctl, WORKER_CHUNKS);
}

/** Waits until worker state word `st` is DONE: a short spin (the last chunk is usually nearly done), then Atomics.wait. */
function waitUntilDone(ctl: Int32Array, st: number): void {
  for (let spin = 0; spin < 4096; spin++) if (Atomics.load(ctl, st) === DONE) return;
  for (let s = Atomics.load(ctl, st); s !== DONE; s = Atomics.load(ctl, st)) Atomics.wait(ctl, st, s);
}

/** What a worker is started with (Node's workerData, or a browser worker's first message). */
export interface WorkerStart {
  readonly module: WebAssembly.Module;
  readonly memory: WebAssembly.Memory;
  /** Byte offset of the control block in `memory`. */
  readonly ctl: number;
  readonly slot: number;
  readonly words: number;
}

/** A worker's kernel instance on the shared memory and its view of the control block. */
export function workerKernel(start: WorkerStart): { kernel: KernelExports; ctl: Int32Array } {
  const kernel = new WebAssembly.Instance(start.module, { env: { memory: start.memory } }).exports as unknown as KernelExports;
  return { kernel, ctl: new Int32Array(start.memory.buffer, start.ctl, start.words) };
}
