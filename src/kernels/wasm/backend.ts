import { BackendError, checkOptions } from '../../errors.js';
import { chunksPerRun, packWeight, packedLayout, padActivations, splitPlanes, splitPlanes16, unpackValues, type PackedLayout } from '../packed.js';
import { W8A16_RUN } from '../reference.js';
import type { KernelWeight, LinearArgs, LinearW8A16Args, LinearW8A8Args, ResidentBackend, W8A16Backend, W8A8Backend } from '../types.js';
import { runBlocks, type KernelCall, type KernelExports } from './chunks.js';
import { KERNEL_WASM_BASE64 } from './generated/kernel-bytes.js';
import { KERNEL_RELAXED_WASM_BASE64 } from './generated/kernel-relaxed-bytes.js';
import { WasmHeap, WASM32_MAX_BYTES } from './heap.js';

/**
 * How a backend runs its kernel calls: on the calling thread (`createWasmBackend`), or split over
 * row blocks between threads that share the memory (`createThreadedWasmBackend`, Node only).
 */
export interface KernelDispatch {
  /** Threads a call may use: the backend allocates this many scratch areas. */
  readonly threads: number;
  run(call: KernelCall): void;
  /** Stops what the dispatch started (workers); the kernel is not called again. */
  dispose(): void;
}

/** The dispatch of `createWasmBackend`: every call on the calling thread. */
function singleThread(kernel: KernelExports): KernelDispatch {
  return { threads: 1, run: (c) => runBlocks(kernel, c, 0, c.nb, 0), dispose: () => {} };
}

/** A weight packed into wasm memory. */
interface Packed {
  readonly layout: PackedLayout;
  readonly values: number;
  readonly scales: number;
}

/**
 * Bytes of a weight panel: the kernels run every row of x over one panel of weight blocks before
 * the next, so weights come from DRAM once per call. W8A32 with two or more rows widens the panel
 * to float32 once (4 bytes per weight) and runs every pair of rows over it; W8A8 with four or more
 * rows widens it to int16 (2 bytes per weight) and runs every four rows over it. Either way it should
 * stay in L2 next to the rows of x, also when the other hardware thread of the core is busy; the
 * measurements that chose 64 KiB are in docs/wasm.md (panel size).
 */
const PANEL_BYTES = 64 * 1024;

/** Weight blocks (4 rows of kp weights) per panel when each weight takes `bytesPerWeight` bytes. */
function panelBlocks(layout: PackedLayout, bytesPerWeight: number): number {
  return Math.max(1, Math.floor(PANEL_BYTES / (4 * layout.kp * bytesPerWeight)));
}

/**
 * Largest k of the wasm W8A8 kernel: its int32 sums are exact while 128·128·k < 2^31.
 * (Its W8A32 kernel has no such limit, but a backend supports a weight for both or for neither.)
 */
export const WASM_MAX_K = 131071;

/**
 * Rows of x for which W8A16 runs on the relaxed plane kernel (op 4) where the backend has a
 * non-saturating relaxed dot: three relaxed dots per 16 weights and row, against the plain kernel's
 * two i32x4.dot_i16x8_s and two adds (on an int16 panel from 4 rows). Measured A/B under Node 24 on
 * the Xeon with AVX-VNNI (docs/wasm.md, W8A16): op 4 faster from 2 to 16 rows, slower at 1 row (the
 * per-call weight sums are a fourth dot per weight there) and from 32 rows (both multiply on the
 * same two ports, and 3 dots cost more than 2 multiplies and 2 adds).
 */
function relaxedW8A16Rows(m: number): boolean {
  return m >= 2 && m <= 16;
}

/** Largest packed weight: the wasm32 address space is 4 GiB and each layer also needs scratch. */
const MAX_PACKED_BYTES = 2 ** 31;

/**
 * The wasm backend: a Backend plus how much wasm memory it holds, for tests and benchmarks.
 *
 * Shape: as `Backend`.
 *
 * Example:
 *   const wasm = await createWasmBackend();
 *   qfc.to(wasm).forward(x);
 *   wasm.allocatedBytes;   // ~ out_features · in_features bytes of packed int8 weights, plus scratch
 */
export interface WasmBackend extends ResidentBackend, W8A8Backend, W8A16Backend {
  /** Bytes of wasm memory handed out (packed weights and scratch). */
  readonly allocatedBytes: number;
  /** Size of the wasm memory (it grows, never shrinks). */
  readonly memoryBytes: number;
}

/** The compiled kernel modules, by build (plain SIMD128, relaxed SIMD): compiled once, shared by backends. */
const compiled = new Map<string, Promise<WebAssembly.Module>>();

/** @internal Compiles the build `base64` once per process. */
export function compileOnce(base64: string): Promise<WebAssembly.Module> {
  let module = compiled.get(base64);
  if (module === undefined) {
    module = WebAssembly.compile(decodeBase64(base64));
    compiled.set(base64, module);
  }
  return module;
}

/** @internal The bytes of a generated kernel module (base64, see scripts/build-wasm.mjs). */
export function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const bin = atob(text);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

/** A 43-byte module whose one function returns a v128: valid exactly where wasm SIMD128 exists. */
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20, 0, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11,
]);

/** An 82-byte module whose one function is `f32x4.relaxed_madd` of three constants: valid exactly where relaxed SIMD exists. */
const RELAXED_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 61, 1, 59, 0, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 253, 12,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 253, 133, 2, 11,
]);

/**
 * A 68-byte module exporting `dot(a, b)`: lane 0 of i32x4.relaxed_dot_i8x16_i7x16_add_s(i8x16.splat a,
 * i8x16.splat b, 0), the operands passed in so no compiler folds them.
 */
const RELAXED_DOT_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 7, 1, 96, 2, 127, 127, 1, 127, 3, 2, 1, 0, 7, 7, 1, 3, 100, 111, 116, 0, 0, 10, 36, 1, 34, 0, 32, 0, 253, 15, 32, 1,
  253, 15, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 253, 147, 2, 253, 27, 0, 11,
]);

let dotSaturates: boolean | undefined;

/**
 * @internal Whether this engine runs i32x4.relaxed_dot_i8x16_i7x16_add_s as the int16-saturating SSSE3
 * sequence (pmaddubsw, pmaddwd, paddd, and a splat of ones: V8 on x64 without AVX-VNNI, e.g. Zen 4 or
 * Ice Lake). There the relaxed W8A8 kernel's two dots per 16 weights are 5 instructions each and it ran
 * at 0.5 to 0.6x the plain one (measured, Node 24 with --no-enable-avx-vnni), so W8A8 keeps the plain
 * kernel. The probe is 127 · 255 with the second operand outside [0, 127], where the result is
 * implementation-defined (the kernel itself never goes there): int16 pairs saturate at 32767, so
 * 2 · 32767 = 65534; AVX-VNNI's vpdpbusd (unsigned) gives 4 · 127 · 255 = 129540, and signed dots
 * (AVX-VNNI-INT8 vpdpbssd, Arm sdot) 4 · 127 · -1 = -508. Compiled once per process; false without relaxed SIMD.
 */
export function relaxedDotSaturates(): boolean {
  if (dotSaturates === undefined) {
    if (!relaxedSimdSupported()) dotSaturates = false;
    else {
      const probe = new WebAssembly.Instance(new WebAssembly.Module(RELAXED_DOT_PROBE), {}).exports as { dot(a: number, b: number): number };
      dotSaturates = probe.dot(127, 255) === 2 * 32767;
    }
  }
  return dotSaturates;
}

/**
 * @internal The one rule for whether a backend runs W8A8 / W8A16 on the relaxed-dot plane kernels: a
 * relaxed-SIMD build (`relaxed`) on an engine whose relaxed dot is a native one.
 */
export function useRelaxedDot(relaxed: boolean): boolean {
  return relaxed && !relaxedDotSaturates();
}

/**
 * Whether this runtime has WebAssembly relaxed SIMD (Node >= 22, Chrome >= 114, Firefox >= 145; not
 * Node 20): validates an 82-byte module, nothing is compiled. The relaxed kernel uses only
 * `f32x4.relaxed_madd`, whose one implementation-defined choice (fused or not) is within
 * FLOAT32_ACCUMULATION either way, so no behaviour probe is needed.
 *
 * Example:
 *   relaxedSimdSupported();   // true on Node 24, false on Node 20
 */
export function relaxedSimdSupported(): boolean {
  return wasmSimdSupported() && WebAssembly.validate(RELAXED_PROBE);
}

/** @internal Which kernel build a backend runs: relaxed SIMD unless told not to or not supported. */
export function useRelaxed(caller: string, relaxed: boolean | undefined): boolean {
  if (relaxed !== undefined && typeof relaxed !== 'boolean') {
    throw new BackendError(`${caller}: relaxed must be true, false or left out, got ${typeof relaxed}; leave it out to use relaxed SIMD where the runtime has it`);
  }
  if (relaxed === true && !relaxedSimdSupported()) {
    throw new BackendError(`${caller}: { relaxed: true } but this runtime has no WebAssembly relaxed SIMD (Node >= 22, Chrome >= 114); leave relaxed out to get plain SIMD128 here`);
  }
  return relaxed ?? relaxedSimdSupported();
}

/**
 * Whether this runtime has WebAssembly with SIMD128 (validates a 43-byte module; nothing is compiled).
 *
 * Example:
 *   const backend = wasmSimdSupported() ? await createWasmBackend() : createJsBackend();
 */
export function wasmSimdSupported(): boolean {
  return typeof WebAssembly === 'object' && typeof WebAssembly.validate === 'function' && WebAssembly.validate(SIMD_PROBE);
}

/**
 * Options of `createWasmBackend` (and of `createThreadedWasmBackend`, which adds its own).
 *
 * Example:
 *   const wasm = await createWasmBackend({ maxMemoryBytes: 512 * 2 ** 20 });   // at most 512 MiB of wasm memory
 */
export interface WasmBackendOptions {
  /**
   * The most wasm memory this backend may use, in bytes: at most and by default 4 GiB (`2 ** 32`), the
   * wasm32 limit. Weights and scratch past it are a BackendError that changes nothing.
   */
  readonly maxMemoryBytes?: number;
  /**
   * Run the relaxed-SIMD build of the kernel (`f32x4.relaxed_madd` in the W8A32 loops; `mode` ends in
   * `-relaxed`): default where the runtime has relaxed SIMD (`relaxedSimdSupported()`); `false` forces
   * plain SIMD128; `true` where it is missing is a BackendError. W8A8 and W8A16 (2 to 16 rows) then run
   * the relaxed dot on 7-bit planes of x where the engine's relaxed dot is a native one (see
   * `relaxedDotSaturates`); their outputs are bit for bit the same either way.
   */
  readonly relaxed?: boolean;
}

/** @internal Checks `maxMemoryBytes` (one 64 KiB page up to 4 GiB); returns the limit in bytes. */
export function memoryLimitOf(caller: string, value: number | undefined): number {
  if (value === undefined) return WASM32_MAX_BYTES;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 65536 || value > WASM32_MAX_BYTES) {
    throw new BackendError(
      `${caller}: maxMemoryBytes must be an integer from 65536 (one wasm page) to ${WASM32_MAX_BYTES} (4 GiB, the wasm32 limit), ` +
        `got ${typeof value === 'number' ? String(value) : typeof value}; leave it out for 4 GiB`,
    );
  }
  return value;
}

/**
 * Creates the WebAssembly SIMD backend: int8 weights packed once per weight object into wasm memory
 * (1 byte per weight, layout of `packed.ts`; `QuantizedLinear.to` hands the weight over with `adopt`,
 * so it is held there only), W8A32 (`linear`, float32 accumulation), W8A8 (`linearW8A8`) and W8A16
 * (`linearW8A16`; exact int32 sums, bit-exact with `referenceLinearW8A8` / `referenceLinearW8A16`). Compilation is async
 * (browsers refuse to compile large modules synchronously on the main thread); the compiled module is
 * shared, each backend has its own instance and memory, at most `maxMemoryBytes` (4 GiB, the wasm32
 * limit): past it, adopting a weight or running a call is a BackendError that changes nothing. Throws a
 * BackendError without wasm SIMD.
 *
 * Shape: as `Backend.linear`: x (m, k) -> out (m, n).
 *
 * Example:
 *   const wasm = await createWasmBackend();
 *   qfc.to(wasm).forward(x);   // same numbers as the reference, within float32 rounding
 *   wasm.dispose();
 */
export async function createWasmBackend(options: WasmBackendOptions = {}): Promise<WasmBackend> {
  checkOptions('createWasmBackend', options, ['maxMemoryBytes', 'relaxed'], BackendError);
  const limit = memoryLimitOf('createWasmBackend', options.maxMemoryBytes);
  if (!wasmSimdSupported()) {
    throw new BackendError(
      'createWasmBackend: this runtime has no WebAssembly SIMD128 (needs Node >= 16.4, Chrome >= 91, ' +
        'Firefox >= 89, Safari >= 16.4); use createJsBackend() or the reference backend instead',
    );
  }
  const relaxed = useRelaxed('createWasmBackend', options.relaxed);
  const module = await compileOnce(relaxed ? KERNEL_RELAXED_WASM_BASE64 : KERNEL_WASM_BASE64);
  return instantiate(module, limit, relaxed ? 'wasm-simd128-relaxed' : 'wasm-simd128', 'wasm-simd', useRelaxedDot(relaxed));
}

/**
 * @internal A single-thread backend over a compiled build of kernel.wat that owns its memory (createWasmBackend, the worker
 * backend's one-thread server, A/B timing of kernel changes); `relaxedDot` as in WasmBackendParts (only for a relaxed build).
 */
export async function instantiate(module: WebAssembly.Module, limitBytes = WASM32_MAX_BYTES, mode = 'wasm-simd128', name = 'wasm-simd', relaxedDot = false): Promise<WasmBackend> {
  const instance = await WebAssembly.instantiate(module, {});
  const kernel = instance.exports as unknown as KernelExports & { memory: WebAssembly.Memory };
  return wasmBackendOf({ name, mode, memory: kernel.memory, heap: new WasmHeap(kernel.memory, 16, limitBytes), dispatch: singleThread(kernel), relaxedDot });
}

/** @internal Whether the wasm kernels can run `weight` (k within WASM_MAX_K, the packed copy within the wasm32 address space). */
export function wasmSupports(weight: KernelWeight): boolean {
  return weight.k <= WASM_MAX_K && packedLayout(weight).valueBytes <= MAX_PACKED_BYTES;
}

/** What a wasm backend is made of: its name and mode, the memory its kernel runs on, and how calls run. */
export interface WasmBackendParts {
  readonly name: string;
  readonly mode: string;
  readonly memory: WebAssembly.Memory;
  /** Allocator over `memory` (blocks it handed out before, e.g. to a dispatch, stay reserved). */
  readonly heap: WasmHeap;
  readonly dispatch: KernelDispatch;
  /**
   * W8A8 and W8A16 run on the relaxed-dot plane kernels (ops 3 and 4; the kernel must be a relaxed-SIMD
   * build): pass `useRelaxedDot(relaxed)`. Default false: the plain integer kernel (op 2, in
   * every build) for both.
   */
  readonly relaxedDot?: boolean;
}

/** @internal The one implementation of the wasm backends (packing, scratch, padding, output), over any memory and dispatch. */
export function wasmBackendOf({ name, mode, memory, heap, dispatch, relaxedDot = false }: WasmBackendParts): WasmBackend {
  const packedByWeight = new WeakMap<KernelWeight, Packed>();
  let disposed = false;
  let scratch = 0;
  let scratchBytes = 0;
  // A layer dropped without `release` frees its packed copy when the weight object is collected.
  const finalizer = new FinalizationRegistry<Packed>((p) => {
    if (!disposed) freePacked(p);
  });

  function freePacked(p: Packed): void {
    heap.release(p.values);
    heap.release(p.scales);
  }

  function packedFor(weight: KernelWeight): Packed {
    if (disposed) {
      throw new BackendError(
        `${name} backend: used after dispose(); create a new one (createWasmBackend(), or createThreadedWasmBackend() from 'int8-linear/node') ` +
          `(a layer whose weight lives here can still move out: layer.to(otherBackend))`,
      );
    }
    let p = packedByWeight.get(weight);
    if (p === undefined) {
      const layout = packedLayout(weight);
      const values = heap.alloc(layout.valueBytes);
      let scales: number;
      try {
        scales = heap.alloc(layout.scaleCount * 4);
      } catch (e) {
        heap.release(values);
        throw e;
      }
      const buffer = memory.buffer;
      packWeight(
        weight,
        layout,
        new Int8Array(buffer, values, layout.valueBytes),
        new Float32Array(buffer, scales, layout.scaleCount),
      );
      p = { layout, values, scales };
      packedByWeight.set(weight, p);
      finalizer.register(weight, p, weight);
    }
    return p;
  }

  /**
   * One scratch block reused by every call, grown when a call needs more. The new block is allocated
   * before the old one is freed: if the allocation fails, the old block stays this backend's (freeing
   * it first would let the next adopted weight be placed there and then overwritten by a call).
   */
  function scratchOf(bytes: number): number {
    if (bytes > scratchBytes) {
      const grown = heap.alloc(bytes);
      if (scratchBytes > 0) heap.release(scratch);
      scratch = grown;
      scratchBytes = bytes;
    }
    return scratch;
  }

  /** Copies the padded bias (zeros without bias, and in padding rows) to `ptr`. */
  function writeBias(buffer: ArrayBuffer, ptr: number, layout: PackedLayout, bias: Float32Array | null): void {
    const view = new Float32Array(buffer, ptr, layout.np);
    if (bias === null) view.fill(0);
    else {
      view.set(bias.subarray(0, layout.n));
      view.fill(0, layout.n);
    }
  }

  function callOf(op: 1 | 2 | 3 | 4, p: Packed, x: number, xScales: number, out: number, bias: number, m: number, panel: number, scratch: number, scratchBytes: number, flush: number): KernelCall {
    const { nb, groups, cpg } = p.layout;
    return { op, w: p.values, s: p.scales, x, xScales, out, bias, m, nb, groups, cpg, flush, panel, scratch, scratchBytes };
  }

  function copyOut(buffer: ArrayBuffer, ptr: number, layout: PackedLayout, m: number, out: Float32Array): void {
    const { n, np } = layout;
    const view = new Float32Array(buffer, ptr, m * np);
    if (np === n) out.set(view);
    else for (let r = 0; r < m; r++) out.set(view.subarray(r * np, r * np + n), r * n);
  }

  /**
   * W8A8 (`run` = a whole group) and W8A16 (`run` = W8A16_RUN columns): exact int32 sums per run. x is
   * int16 (op 2), except on a relaxed-SIMD build whose relaxed dot does not saturate: W8A8 as int8 in
   * two 7-bit planes (op 3, `splitPlanes`), W8A16 as int16 in three 7-bit planes of x + 32768 (op 4,
   * `splitPlanes16`), both on the int8 panel.
   */
  function integerActivations({ xq, xScales, m, weight, bias, out }: LinearW8A8Args | LinearW8A16Args, run: number, op: 2 | 3 | 4): void {
    const p = packedFor(weight);
    const { layout } = p;
    const { kp } = layout;
    const flush = chunksPerRun(layout, run);
    // op 2 widens the panel to int16 with 4+ rows of x; ops 3 and 4 run every row on the int8 panel
    const panel = panelBlocks(layout, op === 2 ? 2 : 1);
    const xBytes = Math.ceil((m * kp * (op === 4 ? 3 : 2)) / 16) * 16; // int16 x, op 3's two or op 4's three int8 planes
    const sBytes = Math.ceil((m * 4) / 16) * 16;
    const outBytes = m * layout.np * 4;
    const biasBytes = layout.np * 4;
    const stageBytes = op === 2 ? 0 : m * kp * (op === 4 ? 2 : 1); // x padded (int8, int16) before its split into planes
    // per thread: op 2's int16 panel with 4+ rows; op 4's sum w per (block, group, run) of a panel, 16 bytes each
    const panelBytes =
      op === 2 && m >= 4 ? panel * 4 * kp * 2 : op === 4 ? panel * layout.groups * Math.ceil(layout.cpg / flush) * 16 : 0;
    const base = scratchOf(xBytes + sBytes + outBytes + biasBytes + stageBytes + panelBytes * dispatch.threads);
    const buffer = memory.buffer;
    const outPtr = base + xBytes + sBytes;
    const biasPtr = outPtr + outBytes;
    const stage = biasPtr + biasBytes;
    if (op === 2) padActivations(xq, m, layout, new Int16Array(buffer, base, m * kp));
    else {
      padActivations(xq, m, layout, op === 3 ? new Int8Array(buffer, stage, stageBytes) : new Int16Array(buffer, stage, stageBytes / 2));
      (op === 3 ? splitPlanes : splitPlanes16)(new Uint32Array(buffer, stage, stageBytes / 4), new Uint32Array(buffer, base, (m * kp * (op === 4 ? 3 : 2)) / 4));
    }
    new Float32Array(buffer, base + xBytes, m).set(xScales.subarray(0, m));
    writeBias(buffer, biasPtr, layout, bias);
    dispatch.run(callOf(op, p, base, base + xBytes, outPtr, biasPtr, m, panel, stage + stageBytes, panelBytes, flush));
    copyOut(buffer, outPtr, layout, m, out);
  }

  return {
    name,
    mode,
    supports: wasmSupports,
    linear({ x, m, weight, bias, out }: LinearArgs): void {
      const p = packedFor(weight);
      const { layout } = p;
      const panel = panelBlocks(layout, 4);
      const xBytes = m * layout.kp * 4;
      const outBytes = m * layout.np * 4;
      const panelBytes = m > 1 ? 16 + panel * 4 * layout.kp * 4 : 0; // a vector of ones, then the panel
      const base = scratchOf(xBytes + outBytes + layout.np * 4 + panelBytes * dispatch.threads);
      const buffer = memory.buffer; // after any growth
      padActivations(x, m, layout, new Float32Array(buffer, base, m * layout.kp));
      const biasPtr = base + xBytes + outBytes;
      writeBias(buffer, biasPtr, layout, bias);
      dispatch.run(callOf(1, p, base, 0, base + xBytes, biasPtr, m, panel, biasPtr + layout.np * 4, panelBytes, layout.cpg));
      copyOut(buffer, base + xBytes, layout, m, out);
    },
    linearW8A8: (args) => integerActivations(args, args.weight.groupSize, relaxedDot ? 3 : 2),
    linearW8A16: (args) => integerActivations(args, W8A16_RUN, relaxedDot && relaxedW8A16Rows(args.m) ? 4 : 2),
    adopt(weight: KernelWeight): void {
      packedFor(weight);
    },
    readValues(weight: KernelWeight, into: Int8Array): void {
      const p = packedByWeight.get(weight);
      if (p === undefined) throw new BackendError(`${name} backend: readValues of a weight it does not hold; adopt() it first`);
      unpackValues(p.layout, new Int8Array(memory.buffer, p.values, p.layout.valueBytes), into);
    },
    release(weight: KernelWeight): void {
      const p = packedByWeight.get(weight);
      if (p === undefined || disposed) return;
      packedByWeight.delete(weight);
      finalizer.unregister(weight);
      freePacked(p);
    },
    dispose(): void {
      if (disposed) return;
      disposed = true;
      dispatch.dispose();
    },
    get allocatedBytes() {
      return heap.allocated;
    },
    get memoryBytes() {
      return memory.buffer.byteLength;
    },
  };
}
