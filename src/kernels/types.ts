/**
 * The one weight layout every kernel reads (DESIGN §5.2: defined once, everything derives from it).
 *
 * `values[o * k + i]` is the int8 weight of output channel `o` and input feature `i` (PyTorch's
 * (out_features, in_features) row-major layout). Row `o` is split into `k / groupSize` groups of
 * `groupSize` consecutive elements; group `g` of row `o` has scale `scales[o * (k / groupSize) + g]`.
 * Per channel is `groupSize = k`; per tensor is per channel with the one scale repeated on every row.
 *
 *   y[m, o] = Σ_g scales[o, g] · Σ_{i in group g} x[m, i] · values[o, i]  +  bias[o]
 */
export interface KernelWeight {
  /** out_features: rows of `values`. */
  readonly n: number;
  /** in_features: columns of `values`. */
  readonly k: number;
  readonly values: Int8Array;
  readonly scales: Float32Array;
  /** Elements of a row per scale; divides `k`. */
  readonly groupSize: number;
}

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
 * A compute backend for the quantized linear. Backends may prepare (pack, upload) a weight the first
 * time they see it and keep that per weight object until `dispose()`. Arguments are validated by the
 * caller (`QuantizedLinear`) before they reach a backend: kernels never validate.
 *
 * Shape: `linear` writes out (m, n) = x (m, k) · dequant(weight (n, k))ᵀ + bias (n).
 *
 * Example:
 *   const [fast] = await availableBackends();
 *   qfc.to(fast).forward(x);   // the usual way: the layer validates x and hands its int8 weight over
 *   // kernel level, no validation (`other` is a layer left on the reference backend):
 *   fast.linear({ x: x.data, m, weight: other.packed, bias: null, out: new Float32Array(m * other.outFeatures) });
 */
export interface Backend {
  /** Short stable identifier, e.g. 'reference', 'wasm-simd', 'gpujs'. */
  readonly name: string;
  /** What it really runs on here, e.g. 'js-float64', 'webgl2', 'webasm'. */
  readonly mode: string;
  /** Whether this backend can run this weight (shape limits, memory). */
  supports(weight: KernelWeight): boolean;
  linear(args: LinearArgs): void;
  /**
   * The same forward, awaiting the device, for backends whose results come back asynchronously
   * (gpu.js on WebGPU, where `linear` throws); `QuantizedLinear.forwardAsync` uses it when present.
   */
  linearAsync?(args: LinearArgs): Promise<void>;
  /** W8A8 forward, for backends that have one (opt-in via `QuantizedLinear`'s `activations: 'int8'`). */
  linearW8A8?(args: LinearW8A8Args): void;
  /** W8A16 forward (int16 activations per token), for backends that have one (`activations: 'int16'`). */
  linearW8A16?(args: LinearW8A16Args): void;
  /**
   * Frees what this backend prepared for `weight` (packed copies), for backends that cache per weight;
   * called by `QuantizedLinear` when it replaces its weight (`loadStateDict`) or takes it back from
   * this backend (`to(otherBackend)`). Using the weight again re-prepares it.
   */
  release?(weight: KernelWeight): void;
  /**
   * For backends that keep a full copy of a weight in their own layout (wasm memory, a packed JS
   * array): prepares `weight` now, after which the caller may drop its `values` and read them back
   * with `readValues`. `QuantizedLinear.to` does this, so the int8 weight is held once, in the
   * backend, as PyTorch's `.to(device)` moves a weight rather than copying it.
   */
  adopt?(weight: KernelWeight): void;
  /**
   * Writes the int8 values of an adopted weight into `into`, row-major (n, k). Works after
   * `dispose()`, so a layer can always move its weight back out.
   */
  readValues?(weight: KernelWeight, into: Int8Array): void;
  /** Frees what the backend holds (wasm memory, GPU contexts); it must not be used afterwards. */
  dispose(): void;
}
