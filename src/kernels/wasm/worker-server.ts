/**
 * The worker side of `createWorkerBackend` (worker-backend.ts): what a Web Worker does with the
 * messages the page sends it. Browser-safe and DOM-free (it sees only `post` and the messages), so
 * the unit tests drive it in Node. Bundled with chunks.ts, backend.ts and the packing code into the
 * worker's source by scripts/build-wasm.mjs (browser-worker.ts is the entry): the package ships no
 * worker file.
 *
 * Two roles, set by the first message:
 * - 'helper' (slots 1 .. threads - 1 of a cross-origin isolated page): instantiates the shared kernel
 *   on the page's shared memory, says 'ready', then serves chunks of calls (chunks.ts `serveCalls`)
 *   until the worker is terminated. It never reads another message.
 * - 'server' (one per backend): holds the packed weights in a wasm backend (its own memory, or the
 *   shared one with the helpers as the other threads), and answers 'linear' requests with the output.
 *   Requests run one at a time in arrival order, each to the end, so calls never overlap in scratch.
 */
import { BackendError } from '../../errors.js';
import type { KernelWeight } from '../types.js';
import { instantiate, wasmBackendOf, type WasmBackend } from './backend.js';
import { serveCalls, workerKernel, type KernelExports, type WorkerStart } from './chunks.js';
import { WasmHeap } from './heap.js';
import { sharedDispatch } from './shared-dispatch.js';

/** First message to a helper worker. */
export interface HelperInit {
  readonly type: 'helper';
  readonly start: WorkerStart;
}

/** First message to the server worker. */
export interface ServerInit {
  readonly type: 'server';
  readonly module: WebAssembly.Module;
  /** The shared memory of a threaded backend (the helpers run on it too), or null: the server's own memory. */
  readonly memory: WebAssembly.Memory | null;
  readonly threads: number;
  /** Byte offset and Int32 words of the control block in `memory` (threaded only); the heap starts after it. */
  readonly ctl: number;
  readonly words: number;
  readonly limitBytes: number;
  readonly minThreadedMacs: number;
  readonly name: string;
  readonly mode: string;
  /** Run W8A8 and W8A16 on the relaxed plane kernels (ops 3, 4): a relaxed build whose relaxed dot does not saturate (WasmBackendParts). */
  readonly relaxedDot: boolean;
}

/** A weight as the page sends it the first time a call uses it (copies of the layer's arrays). */
export interface WeightPayload {
  readonly n: number;
  readonly k: number;
  readonly groupSize: number;
  readonly values: Int8Array;
  readonly scales: Float32Array;
}

/** One forward: `op` picks the kernel (W8A32, W8A8, W8A16); `weight` comes with the first call of a key. */
export interface LinearRequest {
  readonly type: 'linear';
  readonly id: number;
  readonly key: number;
  readonly weight: WeightPayload | null;
  readonly op: 'float32' | 'int8' | 'int16';
  /** float32 x for 'float32', int8 / int16 xq otherwise; (m, k). */
  readonly x: Float32Array | Int8Array | Int16Array;
  readonly xScales: Float32Array | null;
  readonly m: number;
  readonly bias: Float32Array | null;
}

/** The page is done with a weight: the server frees its packed copy. */
export interface ReleaseRequest {
  readonly type: 'release';
  readonly key: number;
}

export type WorkerRequest = HelperInit | ServerInit | LinearRequest | ReleaseRequest;

/** What a worker answers: 'ready' after an init, 'done' (the output, transferred) or 'error' for a request. */
export type WorkerReply =
  | { readonly type: 'ready'; readonly id: 0 }
  | { readonly type: 'done'; readonly id: number; readonly out: Float32Array }
  | { readonly type: 'error'; readonly id: number; readonly message: string };

/**
 * A worker's message handler: `post` sends a reply to the page (transferring what `transfer` lists).
 * Returns the function to call with each message's data, in order.
 *
 * Example:
 *   const handle = workerHandler((reply, transfer) => self.postMessage(reply, transfer ?? []));
 *   self.onmessage = (e) => void handle(e.data);
 */
export function workerHandler(post: (reply: WorkerReply, transfer?: Transferable[]) => void): (data: WorkerRequest) => Promise<void> {
  let backend: WasmBackend | null = null;
  const weights = new Map<number, KernelWeight>();
  let queue: Promise<void> = Promise.resolve();

  async function handle(msg: WorkerRequest): Promise<void> {
    const id = msg.type === 'linear' ? msg.id : 0;
    try {
      if (msg.type === 'helper') {
        const { kernel, ctl } = workerKernel(msg.start);
        post({ type: 'ready', id: 0 });
        serveCalls(kernel, ctl, msg.start.slot); // until the page terminates this worker
      } else if (msg.type === 'server') {
        backend = await serverBackend(msg);
        post({ type: 'ready', id: 0 });
      } else if (backend === null) {
        throw new BackendError(`worker backend: got a '${msg.type}' request before the worker was started; this is a bug`);
      } else if (msg.type === 'release') {
        const weight = weights.get(msg.key);
        weights.delete(msg.key);
        if (weight !== undefined) backend.release(weight);
      } else {
        post({ type: 'done', id, out: runLinear(backend, weights, msg) }, []);
      }
    } catch (e) {
      if (msg.type !== 'release') post({ type: 'error', id, message: e instanceof Error ? e.message : String(e) });
    }
  }
  // Messages run one after another even when one awaits (the server's instantiate).
  return (msg) => (queue = queue.then(() => handle(msg)));
}

/** Runs one request on the server's backend; a weight's first call packs it (and drops the JS copy). */
function runLinear(backend: WasmBackend, weights: Map<number, KernelWeight>, msg: LinearRequest): Float32Array {
  let weight = weights.get(msg.key);
  if (weight === undefined) {
    if (msg.weight === null) {
      throw new BackendError(`worker backend: weight ${msg.key} is not held by the worker (its first call failed); run the layer again to send it again`);
    }
    const w = msg.weight;
    const held = { n: w.n, k: w.k, groupSize: w.groupSize, values: w.values, scales: w.scales };
    backend.adopt(held); // throws (nothing kept) when wasm memory is full
    held.values = new Int8Array(0); // packed now: the worker keeps only the packed copy
    weights.set(msg.key, held);
    weight = held;
  }
  const { m, bias } = msg;
  const out = new Float32Array(m * weight.n);
  if (msg.op === 'float32') backend.linear({ x: msg.x as Float32Array, m, weight, bias, out });
  else if (msg.op === 'int8') backend.linearW8A8({ xq: msg.x as Int8Array, xScales: msg.xScales!, m, weight, bias, out });
  else backend.linearW8A16({ xq: msg.x as Int16Array, xScales: msg.xScales!, m, weight, bias, out });
  return out;
}

/** The server's wasm backend: on its own memory (one thread), or on the page's shared memory with the helpers. */
async function serverBackend(init: ServerInit): Promise<WasmBackend> {
  if (init.memory === null) return instantiate(init.module, init.limitBytes, init.mode, init.name, init.relaxedDot);
  const { memory, threads } = init;
  const kernel = new WebAssembly.Instance(init.module, { env: { memory } }).exports as unknown as KernelExports;
  const ctl = new Int32Array(memory.buffer, init.ctl, init.words);
  const heap = new WasmHeap(memory, init.ctl + init.words * 4, init.limitBytes);
  // The page terminates the helpers; the server only tells them to return.
  const dispatch = sharedDispatch(kernel, ctl, threads, init.minThreadedMacs, init.name, () => {});
  return wasmBackendOf({ name: init.name, mode: init.mode, memory, heap, dispatch, relaxedDot: init.relaxedDot });
}
