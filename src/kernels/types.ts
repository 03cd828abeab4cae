import type { KernelWeight } from '../format/kernel-view.js';

export type { KernelWeight } from '../format/kernel-view.js';

/** One call of the quantized linear: `out (m, n) = x (m, k) · dequant(weight)ᵀ + bias`. */
export interface LinearArgs {
  /** float32 activations, (m, k) row-major. */
  readonly x: Float32Array;
  readonly m: number;
  readonly weight: KernelWeight;
  /** float32 (n), or null. */
  readonly bias: Float32Array | null;
  /** float32 (m, n) row-major; the kernel writes every element. */
  readonly out: Float32Array;
}

/**
 * One call of the W8A8 linear (activations quantized per token, see `quantizeActivations`):
 * `out[r, o] = fround(xScales[r] * scales[o, g]) ...`: the exact formula is the reference's
 * `referenceLinearW8A8`; int32 sums are exact for k < 131072.
 */
export interface LinearW8A8Args {
  /** int8 activations, (m, k) row-major. */
  readonly xq: Int8Array;
  /** float32 per-row activation scales, (m). */
  readonly xScales: Float32Array;
  readonly m: number;
  readonly weight: KernelWeight;
  readonly bias: Float32Array | null;
  readonly out: Float32Array;
}

/**
 * A compute backend for the quantized linear: the required core every backend has. A backend may
 * prepare (pack, upload) a weight the first time it sees it and keep that per weight object.
 * Arguments are validated by the caller (`QuantizedLinear`) before they reach a backend: kernels
 * never validate. What a backend can do beyond the core it says by also implementing capability
 * interfaces (`AsyncBackend`, `W8A8Backend`, `CachingBackend`, `ResidentBackend`); callers never test
 * for those members themselves: the dispatch module (`src/kernels/dispatch.ts`) does, and supplies the
 * fallbacks (a missing `linearAsync` runs `linear`; a missing `release` does nothing).
 *
 * To write a backend: implement these five members (`linear` must write every element of `out`),
 * add the capabilities it has, and add its factory to the registry of its entry
 * (`src/kernels/registry.ts`, `src/node.ts`, `src/gpu/index.ts`): the conformance suite then runs it.
 *
 * Shape: `linear` writes out (m, n) = x (m, k) · dequant(weight (n, k))ᵀ + bias (n).
 *
 * Example:
 *   const [fast] = await availableBackends();
 *   qfc.to(fast).forward(x);   // the usual way: the layer validates x and hands its int8 weight over
 */
export interface Backend {
  /** Short stable identifier, e.g. 'reference', 'wasm-simd', 'gpujs'. */
  readonly name: string;
  /** What it really runs on here, e.g. 'js-float64', 'webgl2', 'webasm'. */
  readonly mode: string;
  /** Whether this backend can run this weight (shape limits, memory). */
  supports(weight: KernelWeight): boolean;
  /** The forward, synchronously; an `AsyncBackend` whose device answers asynchronously may throw here. */
  linear(args: LinearArgs): void;
  /** Frees what the backend holds (wasm memory, GPU contexts); it must not be used afterwards. */
  dispose(): void;
}

/**
 * Capability: results that come back asynchronously (gpu.js on WebGPU, where `linear` throws).
 * `QuantizedLinear.forwardAsync` awaits `linearAsync`; on other backends it runs `linear`.
 *
 * Shape: as `Backend.linear`.
 *
 * Example:
 *   await gpu.linearAsync({ x, m, weight, bias: null, out });
 */
export interface AsyncBackend extends Backend {
  /** The same forward as `linear`, awaiting the device; works in every mode. */
  linearAsync(args: LinearArgs): Promise<void>;
}

/**
 * Capability: a W8A8 forward (int8 activations quantized per token), bit-exact with
 * `referenceLinearW8A8`, always synchronous. A layer with `activations: 'int8'` runs only on these.
 *
 * Shape: xq (m, k) int8, xScales (m) -> out (m, n).
 *
 * Example:
 *   wasm.linearW8A8({ xq, xScales, m, weight, bias: null, out });
 */
export interface W8A8Backend extends Backend {
  linearW8A8(args: LinearW8A8Args): void;
}

/**
 * Capability: the backend caches what it prepared per weight object (packed copies, device
 * uploads); `release` frees it now (a layer calls it when it replaces its weight or leaves the
 * backend). Using the weight again prepares it again.
 *
 * Example:
 *   gpu.release(weight);
 */
export interface CachingBackend extends Backend {
  release(weight: KernelWeight): void;
}

/**
 * Capability: the backend can hold the only copy of a weight, in its own layout (wasm memory, a
 * packed JS array). `QuantizedLinear.to` calls `adopt` and then drops its own int8 values, as
 * PyTorch's `.to(device)` moves a weight rather than copying it; `readValues` gives them back.
 *
 * Shape: readValues writes the (n, k) int8 values row-major into `into`.
 *
 * Example:
 *   wasm.adopt(weight);                                   // prepared now; the caller may drop weight.values
 *   wasm.readValues(weight, new Int8Array(weight.n * weight.k));
 */
export interface ResidentBackend extends CachingBackend {
  /** Prepares `weight` now and keeps it until `release` (or until the weight object is collected). */
  adopt(weight: KernelWeight): void;
  /** Writes the int8 values of an adopted weight into `into`; works after `dispose()`, so a layer can always move out. */
  readValues(weight: KernelWeight, into: Int8Array): void;
}

/**
 * One call of the W8A16 linear (activations quantized per token to int16, see
 * `quantizeActivationsInt16`): as `LinearW8A8Args` with int16 `xq`; the exact formula is
 * `referenceLinearW8A16`'s (exact integer sums over runs of `W8A16_RUN` columns of each group).
 */
export interface LinearW8A16Args {
  /** int16 activations, (m, k) row-major. */
  readonly xq: Int16Array;
  /** float32 per-row activation scales, (m). */
  readonly xScales: Float32Array;
  readonly m: number;
  readonly weight: KernelWeight;
  readonly bias: Float32Array | null;
  readonly out: Float32Array;
}

/**
 * A backend with a W8A16 forward (int16 activations per token; `activations: 'int16'`).
 *
 * Shape: `linearW8A16` writes out (m, n) from xq (m, k) int16, xScales (m).
 *
 * Example:
 *   hasW8A16(wasm) && wasm.linearW8A16({ xq, xScales, m, weight, bias: null, out });
 */
export interface W8A16Backend extends Backend {
  linearW8A16(args: LinearW8A16Args): void;
}

/**
 * Capability: W8A8 and W8A16 forwards whose results come back asynchronously (the worker backend,
 * whose synchronous `linearW8A8` / `linearW8A16` throw). `QuantizedLinear.forwardAsync` awaits these
 * where a backend has them; bit-exact with `referenceLinearW8A8` / `referenceLinearW8A16` as the
 * synchronous ones.
 *
 * Shape: xq (m, k), xScales (m) -> out (m, n).
 *
 * Example:
 *   await workers.linearW8A8Async({ xq, xScales, m, weight, bias: null, out });
 */
export interface AsyncIntegerBackend extends W8A8Backend, W8A16Backend {
  linearW8A8Async(args: LinearW8A8Args): Promise<void>;
  linearW8A16Async(args: LinearW8A16Args): Promise<void>;
}
