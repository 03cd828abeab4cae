/**
 * `createWorkerBackend`: the wasm kernels in Web Workers, so a page's main thread never runs a long
 * GEMM (browser-safe: main entry). The page keeps the layers; the workers keep the packed weights and
 * compute; results come back as messages (`forwardAsync`).
 *
 * Two set-ups, chosen by what the page may do:
 * - cross-origin isolated (COOP: same-origin and COEP: require-corp, so SharedArrayBuffer and shared
 *   WebAssembly.Memory exist): one shared memory and `threads` workers on it: a server worker, which
 *   receives the calls, holds the weights and runs slot 0 of each split call, and `threads - 1`
 *   helpers (chunks.ts `serveCalls`), exactly as the Node threaded backend splits a call;
 * - otherwise: one worker with its own memory (the plain one-thread wasm backend, in a worker).
 * Either way the numbers are the single-thread wasm backend's, bit for bit (row blocks are
 * independent). The worker side is worker-server.ts; its bundled source comes from
 * scripts/build-wasm.mjs, started from a blob: URL, so the package ships no worker file.
 */
import { BackendError, checkOptions } from '../../errors.js';
import type { AsyncIntegerBackend, AsyncBackend, CachingBackend, KernelWeight, LinearArgs, LinearW8A16Args, LinearW8A8Args } from '../types.js';
import { compileOnce, memoryLimitOf, useRelaxed, useRelaxedDot, wasmSimdSupported, wasmSupports } from './backend.js';
import { controlWords } from './chunks.js';
import { BROWSER_WORKER_SOURCE } from './generated/browser-worker-source.js';
import { KERNEL_WASM_BASE64 } from './generated/kernel-bytes.js';
import { KERNEL_RELAXED_WASM_BASE64 } from './generated/kernel-relaxed-bytes.js';
import { KERNEL_RELAXED_SHARED_WASM_BASE64 } from './generated/kernel-relaxed-shared-bytes.js';
import { KERNEL_SHARED_WASM_BASE64 } from './generated/kernel-shared-bytes.js';
import { checkThreads, minMacsOf } from './shared-dispatch.js';
import type { LinearRequest, ServerInit, WorkerReply, WorkerRequest } from './worker-server.js';

/** Options of `createWorkerBackend`. */
export interface WorkerBackendOptions {
  /**
   * Threads per call when the page is cross-origin isolated: that many workers on one shared memory.
   * Default `navigator.hardwareConcurrency`, at most 8. Without cross-origin isolation there is one
   * worker whatever this says (`reason` says so).
   */
  readonly threads?: number;
  /** As `createWasmBackend`: the relaxed-SIMD build where the engine has it; `false` forces plain SIMD128. */
  readonly relaxed?: boolean;
  /** As `createWasmBackend`: the most wasm memory the workers may use (default 4 GiB, the wasm32 limit). */
  readonly maxMemoryBytes?: number;
  /** As `createThreadedWasmBackend`: smaller calls run on one thread (default `MIN_THREADED_MACS`). */
  readonly minThreadedMacs?: number;
}

/**
 * The worker backend: results through `linearAsync` (and `QuantizedLinear.forwardAsync`); the
 * synchronous `linear` throws, since the page cannot wait for a worker without blocking.
 *
 * Shape: as `Backend.linear`: x (m, k) -> out (m, n).
 *
 * Example:
 *   const workers = await createWorkerBackend();
 *   workers.mode;     // 'wasm-simd128-relaxed-threads2' on a cross-origin isolated page of a 2-core machine
 *   workers.reason;   // '2 threads: the page is cross-origin isolated (shared memory); relaxed SIMD'
 */
export interface WorkerBackend extends AsyncBackend, AsyncIntegerBackend, CachingBackend {
  /** Threads a large call runs on: the workers sharing one memory (1 without cross-origin isolation). */
  readonly threads: number;
  /** Whether the workers run the relaxed-SIMD build. */
  readonly relaxed: boolean;
  /** Why it got these threads and this build, in words (e.g. how to get more threads). */
  readonly reason: string;
}

/** What the backend needs of a worker: the part of the Web Worker API it uses (tests pass others). */
export interface WorkerLike {
  postMessage(message: unknown, transfer: Transferable[]): void;
  onmessage: ((e: { data: unknown }) => void) | null;
  onerror: ((e: { message?: string }) => void) | null;
  terminate(): void;
  /** Where the runtime has them (Node's worker_threads): keep the process alive while a reply is awaited, and not otherwise. */
  ref?(): void;
  unref?(): void;
}

/** Most threads the default takes (`navigator.hardwareConcurrency` can be large; M = 1 calls stop gaining well before). */
const DEFAULT_MAX_THREADS = 8;

/** How long a worker may take to start (fetch the blob, instantiate) before creation fails. */
const START_TIMEOUT_MS = 30_000;

/** Byte offset of the control block in the shared memory (the heap starts after it). */
const CTL_PTR = 16;

let workerUrl: string | null = null;

/** The default way to start a worker: a Web Worker from a blob: URL of the bundled source (made once). */
function webWorker(): WorkerLike {
  const Ctor = (globalThis as { Worker?: new (url: string, options?: { name?: string }) => WorkerLike }).Worker;
  if (Ctor === undefined) {
    throw new BackendError(
      "createWorkerBackend: this runtime has no Web Worker (globalThis.Worker); in Node import createWorkerBackend from 'int8-linear/node' " +
        '(workers on worker_threads), or use createThreadedWasmBackend() from there, or createWasmBackend() on this thread',
    );
  }
  workerUrl ??= URL.createObjectURL(new Blob([BROWSER_WORKER_SOURCE], { type: 'text/javascript' }));
  return new Ctor(workerUrl, { name: 'int8-linear' });
}

/**
 * How this context may share memory between threads, in the words `reason` uses: a cross-origin
 * isolated page, a runtime that does not isolate (Node: no `crossOriginIsolated`), or null (a page
 * that is not isolated, or no SharedArrayBuffer).
 */
function memorySharing(): string | null {
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated;
  if (typeof SharedArrayBuffer !== 'function' || isolated === false) return null;
  return isolated === true ? 'the page is cross-origin isolated' : 'this runtime shares memory between workers';
}

/** One worker and its pending requests: replies are matched by id; a worker error fails them all. */
class Channel {
  private readonly pending = new Map<number, { resolve: (reply: WorkerReply) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  /** Set once the worker failed or was terminated: every later request fails with it. */
  failure: string | null = null;

  constructor(
    readonly worker: WorkerLike,
    what: string,
  ) {
    worker.onmessage = (e) => {
      const reply = e.data as WorkerReply;
      const p = this.pending.get(reply.id);
      if (p === undefined) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) worker.unref?.();
      if (reply.type === 'error') p.reject(new BackendError(reply.message));
      else p.resolve(reply);
    };
    worker.onerror = (e) => this.fail(`${what} failed: ${e.message ?? 'unknown error (a Content-Security-Policy without worker-src blob: blocks it)'}`);
  }

  /** Sends `message` (id 0: an init, answered 'ready'; a request gets a fresh id) and resolves with the reply. */
  request(message: WorkerRequest | Omit<LinearRequest, 'id'>, transfer: Transferable[], init = false): Promise<WorkerReply> {
    if (this.failure !== null) return Promise.reject(new BackendError(this.failure));
    const id = init ? 0 : this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref?.();
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage(init ? message : { ...message, id }, transfer);
    });
  }

  /** Posts without waiting for an answer. */
  send(message: WorkerRequest): void {
    if (this.failure === null) this.worker.postMessage(message, []);
  }

  fail(why: string): void {
    if (this.failure !== null) return;
    this.failure = why;
    for (const p of this.pending.values()) p.reject(new BackendError(why));
    this.pending.clear();
    this.worker.unref?.();
  }

  terminate(why: string): void {
    this.fail(why);
    this.worker.terminate();
  }
}

/** Resolves when the init is answered 'ready'; a BackendError after START_TIMEOUT_MS or on a worker error. */
async function started(channel: Channel, init: WorkerRequest, what: string): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BackendError(`createWorkerBackend: ${what} did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
  });
  try {
    await Promise.race([channel.request(init, [], true), timeout]);
  } catch (e) {
    throw new BackendError(`createWorkerBackend: ${what} did not start (${(e as Error).message}); createWasmBackend() runs the same kernels on this thread`);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Creates the wasm backend in Web Workers (main entry, browser-safe; needs `globalThis.Worker`): the
 * same kernels, packed layout and numbers as `createWasmBackend()`, bit for bit, run off the page's
 * main thread. On a cross-origin isolated page (served with `Cross-Origin-Opener-Policy: same-origin`
 * and `Cross-Origin-Embedder-Policy: require-corp`) `threads` workers share one memory and split each
 * large call; otherwise one worker runs it. `mode` says which (e.g. 'wasm-simd128-relaxed-threads2'),
 * `reason` why. Results come back through `forwardAsync` (`linear` throws: use `linearAsync`).
 * The layer keeps its int8 weight (the worker holds the packed copy); `dispose()` terminates the workers.
 *
 * Shape: as `Backend.linear`: x (m, k) -> out (m, n).
 *
 * Example:
 *   const workers = await createWorkerBackend();
 *   const y = await QuantizedLinear.fromLinear(new Linear(4096, 4096)).to(workers).forwardAsync(x);
 *   console.log(workers.mode, workers.reason);
 *   workers.dispose();
 */
export async function createWorkerBackend(options: WorkerBackendOptions = {}): Promise<WorkerBackend> {
  return workerBackendOver(webWorker, options);
}

/** @internal `createWorkerBackend` with another way to start a worker (the unit tests run it on worker_threads). */
export async function workerBackendOver(spawn: () => WorkerLike, options: WorkerBackendOptions = {}): Promise<WorkerBackend> {
  const caller = 'createWorkerBackend';
  checkOptions(caller, options, ['threads', 'relaxed', 'maxMemoryBytes', 'minThreadedMacs'], BackendError);
  const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;
  const asked = options.threads ?? Math.max(1, Math.min(DEFAULT_MAX_THREADS, cores));
  checkThreads(caller, asked, 'navigator.hardwareConcurrency says how many cores this machine has');
  const minThreadedMacs = minMacsOf(caller, options.minThreadedMacs);
  const limitBytes = memoryLimitOf(caller, options.maxMemoryBytes);
  if (!wasmSimdSupported()) {
    throw new BackendError(`${caller}: this runtime has no WebAssembly SIMD128 (Chrome >= 91, Firefox >= 89, Safari >= 16.4); use createJsBackend() instead`);
  }
  const relaxed = useRelaxed(caller, options.relaxed);
  const build = relaxed ? 'relaxed SIMD' : options.relaxed === false ? 'plain SIMD128 ({ relaxed: false })' : 'plain SIMD128 (this engine has no relaxed SIMD)';

  let threads = asked;
  let why: string;
  let memory: WebAssembly.Memory | null = null;
  const sharing = asked === 1 ? null : memorySharing();
  if (asked === 1) why = options.threads === 1 ? '1 thread: { threads: 1 }' : '1 thread: navigator.hardwareConcurrency is 1';
  else if (sharing === null) {
    threads = 1;
    why = '1 thread: the page is not cross-origin isolated; serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp for more';
  } else {
    try {
      // Reserved up front (address space only): a shared memory cannot move when it grows.
      memory = new WebAssembly.Memory({ initial: 1, maximum: Math.floor(limitBytes / 65536), shared: true });
      why = `${threads} threads: ${sharing} (shared memory)`;
    } catch (e) {
      threads = 1;
      why = `1 thread: no shared memory of ${limitBytes} bytes could be reserved (${String(e)}); pass a smaller maxMemoryBytes for more`;
    }
  }
  const module = await compileOnce(memory === null ? (relaxed ? KERNEL_RELAXED_WASM_BASE64 : KERNEL_WASM_BASE64) : relaxed ? KERNEL_RELAXED_SHARED_WASM_BASE64 : KERNEL_SHARED_WASM_BASE64);
  const name = 'wasm-simd-workers';
  const mode = `wasm-simd128${relaxed ? '-relaxed' : ''}-threads${threads}`;
  const words = controlWords(threads);

  const channels: Channel[] = [];
  const stopAll = (why: string) => {
    for (const c of channels) c.terminate(why);
  };
  try {
    // Helpers first: they must be waiting on the control block before the server splits a call
    // (one that is not yet is skipped: runShared withdraws its share).
    for (let slot = 1; slot < threads; slot++) {
      const helper = new Channel(spawn(), `helper worker ${slot}`);
      channels.push(helper);
      await started(helper, { type: 'helper', start: { module, memory: memory!, ctl: CTL_PTR, slot, words } }, `helper worker ${slot}`);
    }
    const server = new Channel(spawn(), 'worker');
    channels.push(server);
    // The workers run on this engine: the page's probe of its relaxed dot holds for them.
    const relaxedDot = useRelaxedDot(relaxed);
    const init: ServerInit = { type: 'server', module, memory, threads, ctl: CTL_PTR, words, limitBytes, minThreadedMacs, name, mode, relaxedDot };
    await started(server, init, 'the worker');
  } catch (e) {
    stopAll('createWorkerBackend failed');
    if (e instanceof BackendError) throw e;
    // new Worker() itself refused (a Content-Security-Policy without worker-src blob:, a sandboxed frame).
    throw new BackendError(`createWorkerBackend: could not start a worker (${String(e)}); createWasmBackend() runs the same kernels on this thread`);
  }
  const server = channels[channels.length - 1];
  // A helper that dies may leave a chunk it claimed unfinished, and the server waiting for it: the
  // backend stops (every pending and later call is a BackendError) rather than hang.
  for (const c of channels.slice(0, -1)) {
    c.worker.onerror = (e) => stopAll(`${name} backend: a helper worker failed (${e.message ?? 'unknown error'}); create a new backend`);
  }

  const keys = new WeakMap<KernelWeight, number>();
  let nextKey = 1;
  let disposed = false;
  // A layer dropped without release: its packed copy in the worker is freed when the weight is collected.
  const finalizer = new FinalizationRegistry<number>((key) => {
    if (!disposed) server.send({ type: 'release', key });
  });

  async function call(op: LinearRequest['op'], weight: KernelWeight, x: Float32Array | Int8Array | Int16Array, xScales: Float32Array | null, m: number, bias: Float32Array | null, out: Float32Array): Promise<void> {
    if (disposed) throw new BackendError(`${name} backend: used after dispose(); create a new one with createWorkerBackend()`);
    let key = keys.get(weight);
    let payload: LinearRequest['weight'] = null;
    const transfer: Transferable[] = [];
    if (key === undefined) {
      key = nextKey++;
      keys.set(weight, key);
      finalizer.register(weight, key, weight);
      // Copies: the layer keeps its own arrays (a view's whole buffer would be cloned otherwise).
      payload = { n: weight.n, k: weight.k, groupSize: weight.groupSize, values: weight.values.slice(), scales: weight.scales.slice() };
      transfer.push(payload.values.buffer, payload.scales.buffer);
    }
    const xs = x.slice(0, m * weight.k);
    const xScalesCopy = xScales === null ? null : xScales.slice(0, m);
    const biasCopy = bias === null ? null : bias.slice(0, weight.n);
    transfer.push(xs.buffer);
    let reply: WorkerReply;
    try {
      reply = await server.request({ type: 'linear', key, weight: payload, op, x: xs, xScales: xScalesCopy, m, bias: biasCopy }, transfer);
    } catch (e) {
      if (payload !== null) {
        keys.delete(weight); // not held by the worker: the next call sends it again
        finalizer.unregister(weight);
      }
      throw e;
    }
    if (reply.type === 'done') out.set(reply.out);
  }

  const sync = (what: string) => (): never => {
    throw new BackendError(
      `${name} backend: ${what} cannot be synchronous (the results come from a worker); use \`await layer.forwardAsync(x)\`, ` +
        `or createWasmBackend() to compute on this thread`,
    );
  };

  const backend: WorkerBackend = {
    name,
    mode,
    threads,
    relaxed,
    reason: `${why}; ${build}`,
    supports: wasmSupports,
    linear: sync('linear'),
    linearW8A8: sync('linearW8A8'),
    linearW8A16: sync('linearW8A16'),
    linearAsync: ({ x, m, weight, bias, out }: LinearArgs) => call('float32', weight, x, null, m, bias, out),
    linearW8A8Async: ({ xq, xScales, m, weight, bias, out }: LinearW8A8Args) => call('int8', weight, xq, xScales, m, bias, out),
    linearW8A16Async: ({ xq, xScales, m, weight, bias, out }: LinearW8A16Args) => call('int16', weight, xq, xScales, m, bias, out),
    release(weight: KernelWeight): void {
      const key = keys.get(weight);
      if (key === undefined || disposed) return;
      keys.delete(weight);
      finalizer.unregister(weight);
      server.send({ type: 'release', key });
    },
    dispose(): void {
      if (disposed) return;
      disposed = true;
      stopAll(`${name} backend: disposed while a call was running`);
    },
  };
  return backend;
}
