import { FormatError, QuantizationError, ShapeError, brandedInstanceCheck, checkOptions, describeValue, oneOf } from '../errors.js';
import { kernelView, type KernelWeight } from '../format/kernel-view.js';
import { TENSOR_KEYS } from '../format/names.js';
import { SCHEME_KEYS, resolveScheme, scaleShape, type Granularity, type QuantRange, type QuantScheme, type ResolvedScheme } from '../format/scheme.js';
import { adoptWeight, checkCanRun, readWeightValues, releaseWeight, runLinearAsync, runLinearW8A16, runLinearW8A16Async, runLinearW8A8, runLinearW8A8Async } from '../kernels/dispatch.js';
import { createReferenceBackend } from '../kernels/reference.js';
import type { Backend, LinearArgs, LinearW8A16Args, LinearW8A8Args } from '../kernels/types.js';
import { quantize, type QuantizedTensor } from '../quant/quantize.js';
import { quantizeActivations, quantizeActivationsInt16 } from '../quant/activations.js';
import { Tensor, formatShape, numel } from '../tensor.js';
import type { Linear } from './linear.js';
import { Module } from './module.js';
import { checkBias, checkInput, outputShape } from './shape.js';

/**
 * How the forward treats activations: 'float32' (weight-only, W8A32, the default), 'int8' (W8A8:
 * each row of x quantized per token by `quantizeActivations`, int32 dot products, faster on the
 * wasm backend, less accurate: see docs/wasm.md) or 'int16' (W8A16: per token to int16 by
 * `quantizeActivationsInt16`, about as fast as 'int8' and about as accurate as 'float32', also when a
 * few features are outliers).
 *
 * Shape: does not change shapes: x (*, in) -> (*, out) either way.
 *
 * Example:
 *   QuantizedLinear.fromLinear(fc, { activations: 'int8' }).to(await createWasmBackend());
 */
export type ActivationMode = 'float32' | 'int8' | 'int16';

/** The kernels a forward runs, by activation mode: synchronous ones (`forward`) or awaited ones (`forwardAsync`). */
interface ForwardKernels<R> {
  int8(backend: Backend, args: LinearW8A8Args): R;
  int16(backend: Backend, args: LinearW8A16Args): R;
  float32(backend: Backend, args: LinearArgs): R;
}

const SYNC_KERNELS: ForwardKernels<void> = { int8: runLinearW8A8, int16: runLinearW8A16, float32: (b, a) => b.linear(a) };
const ASYNC_KERNELS: ForwardKernels<Promise<void>> = { int8: runLinearW8A8Async, int16: runLinearW8A16Async, float32: runLinearAsync };

/** Options of the `QuantizedLinear` constructor: the quantization scheme, `bias` and `activations`. */
export interface QuantizedLinearOptions extends QuantScheme {
  /** Whether the layer has a bias; default true, as `nn.Linear`. */
  bias?: boolean;
  /** Default 'float32'; 'int8' runs W8A8 (see `ActivationMode`). */
  activations?: ActivationMode;
}

/** The layer's own kernel view: `values` is emptied while a backend holds the weight (`Backend.adopt`). */
type LayerKernelWeight = { -readonly [P in keyof KernelWeight]: KernelWeight[P] };

const NO_VALUES = new Int8Array(0);

const ACTIVATION_MODES: readonly ActivationMode[] = ['float32', 'int8', 'int16'];
const LAYER_KEYS: readonly (keyof QuantizedLinearOptions)[] = [...SCHEME_KEYS, 'bias', 'activations'];
const FROM_LINEAR_KEYS: readonly (keyof QuantizedLinearOptions)[] = [...SCHEME_KEYS, 'activations'];

/** The layer's kernel view (its scales are its own copy: see `QuantizedLinear.weightScale`). */
function kernelWeight(values: Tensor<'int8'>, scale: Tensor<'float32'>, scheme: ResolvedScheme): LayerKernelWeight {
  return { ...kernelView(values, scale, scheme) };
}

/**
 * A Linear layer whose weight is stored as int8 with float32 scales (4x smaller), and whose forward
 * never builds the float weight: per channel `y[m,o] = scale[o] · Σ_k x[m,k]·q[o,k] + b[o]`, per group
 * the scale multiplies each group's partial sum. Runs on the reference backend until `to(backend)`.
 *
 * State dict keys follow compressed-tensors: `weight` (int8, (out, in)), `weight_scale` (float32,
 * (1,) | (out, 1) | (out, in / group_size)) and `bias`.
 *
 * Like PyTorch's `.to(device)`, `to(backend)` moves the int8 weight rather than copying it: on a
 * backend that keeps weights in its own layout (wasm-simd and the threaded wasm-simd-threads: in
 * wasm memory; js-packed) the layer drops its row-major copy, so a 4096x4096 layer holds 16 MiB of int8 (plus scales), not 32;
 * `weight` and `stateDict()` then read the values back as a copy.
 *
 * Shape: input (*, in_features) -> output (*, out_features).
 *
 * Example:
 *   const qfc = QuantizedLinear.fromLinear(new Linear(512, 1024), { granularity: 'group', groupSize: 128 });
 *   qfc.weightScale.shape;                       // [1024, 4]
 *   qfc.forward(Tensor.zeros([8, 512])).shape;   // [8, 1024]
 */
export class QuantizedLinear extends Module {
  /** `instanceof` also holds across the package's CommonJS and ES module builds (see `brandedInstanceCheck`). */
  static override readonly [Symbol.hasInstance] = /* @__PURE__ */ brandedInstanceCheck(this, 'QuantizedLinear');

  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly granularity: Granularity;
  /** Elements per scale along in_features with granularity 'group', else null. */
  readonly groupSize: number | null;
  readonly range: QuantRange;
  /**
   * float32 (1,) per tensor, (out, 1) per channel, (out, in / groupSize) per group: the scales as
   * loaded, the tensor `stateDict()` returns and saving writes. The forward never reads it: it reads
   * the layer's kernel weight, made from the state by `loadStateDict` (for every granularity and
   * every backend alike), so writing into `weightScale.data` changes no output. To change the
   * scales, load them: `layer.loadStateDict({ ...layer.stateDict(), weight_scale: s })`.
   */
  readonly weightScale: Tensor<'float32'>;
  readonly bias: Tensor<'float32'> | null;
  /** 'float32' (weight-only) or 'int8' (activations quantized per token, W8A8). */
  readonly activations: ActivationMode;
  /** What `forward` hands the backend; its `values` are empty while the backend holds them. */
  private kernelWeight: LayerKernelWeight;
  /** The layer's own int8 weight, or null while the current backend holds the only copy. */
  private ownWeight: Tensor<'int8'> | null;
  private currentBackend: Backend = createReferenceBackend();

  /** A zero-initialised layer (weights 0, scales 1, bias 0), to be filled by `loadStateDict`. */
  constructor(inFeatures: number, outFeatures: number, options: QuantizedLinearOptions = {}) {
    super();
    for (const [name, v] of [['in_features', inFeatures], ['out_features', outFeatures]] as const) {
      if (!Number.isSafeInteger(v) || v < 1) {
        throw new ShapeError(`QuantizedLinear: ${name} must be a positive integer, got ${describeValue(v)}`);
      }
    }
    checkOptions('QuantizedLinear', options, LAYER_KEYS, QuantizationError);
    const { bias = true, activations = 'float32', ...scheme } = options;
    checkBias('QuantizedLinear', bias);
    this.activations = oneOf('QuantizedLinear: activations', activations, ACTIVATION_MODES, QuantizationError);
    const resolved = resolveScheme(scheme, inFeatures, 'QuantizedLinear');
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.granularity = resolved.granularity;
    this.groupSize = resolved.groupSize;
    this.range = resolved.range;
    this.ownWeight = Tensor.zeros([outFeatures, inFeatures], 'int8');
    const sShape = scaleShape(outFeatures, inFeatures, resolved);
    this.weightScale = new Tensor(new Float32Array(numel(sShape)).fill(1), sShape, 'float32');
    this.bias = bias ? Tensor.zeros([outFeatures], 'float32') : null;
    this.kernelWeight = kernelWeight(this.ownWeight, this.weightScale, resolved);
  }

  /**
   * Quantizes a float `Linear` (default: per channel, full range); the bias stays float32.
   *
   * Example:
   *   QuantizedLinear.fromLinear(fc, { granularity: 'channel', range: 'restricted' });
   *   QuantizedLinear.fromLinear(fc, { activations: 'int8' });   // W8A8 forward
   */
  static fromLinear(linear: Linear, options: QuantScheme & { activations?: ActivationMode } = {}): QuantizedLinear {
    if (typeof linear !== 'object' || linear === null || !('weight' in linear)) {
      throw new ShapeError(`QuantizedLinear.fromLinear: expected a Linear (or an object with weight and bias), got ${describeValue(linear)}`);
    }
    checkOptions('QuantizedLinear.fromLinear', options, FROM_LINEAR_KEYS, QuantizationError);
    const { activations = 'float32', ...scheme } = options;
    return QuantizedLinear.fromQuantized(quantize(linear.weight, scheme), linear.bias, activations);
  }

  /** A layer from an already quantized weight (copied) and an optional float32 bias of shape (out,). */
  static fromQuantized(
    q: QuantizedTensor,
    bias: Tensor<'float32'> | null = null,
    activations: ActivationMode = 'float32',
  ): QuantizedLinear {
    const [out, inF] = q.values.shape;
    const layer = new QuantizedLinear(inF, out, { bias: bias !== null, granularity: q.granularity, groupSize: q.groupSize, range: q.range, activations });
    layer.loadStateDict(bias === null ? { weight: q.values, weight_scale: q.scale } : { weight: q.values, weight_scale: q.scale, bias });
    return layer;
  }

  /** The scheme this layer was quantized with. */
  get scheme(): ResolvedScheme {
    return { granularity: this.granularity, groupSize: this.groupSize, range: this.range, bits: 8 };
  }

  /** The backend `forward` runs on. */
  get backend(): Backend {
    return this.currentBackend;
  }

  /**
   * int8 (out_features, in_features): the layer's own tensor (shared, like PyTorch's `.weight`), or,
   * while the backend holds the weight (see the class docs), a copy read back from it.
   */
  get weight(): Tensor<'int8'> {
    return this.ownWeight ?? new Tensor(this.readBack(), [this.outFeatures, this.inFeatures], 'int8');
  }

  /** See `layerKernelWeight`. */
  private kernelWeightView(): KernelWeight {
    return this.ownWeight === null ? { ...this.kernelWeight, values: this.readBack() } : this.kernelWeight;
  }

  /** The int8 values from the backend that holds them (only called while `ownWeight` is null). */
  private readBack(): Int8Array {
    const values = new Int8Array(this.outFeatures * this.inFeatures);
    readWeightValues(this.currentBackend, this.kernelWeight, values);
    return values;
  }

  /** Takes the weight back from the current backend, if it holds it, as the layer's own tensor. */
  private takeBack(): void {
    if (this.ownWeight !== null) return;
    const own = this.weight; // read back from the backend
    releaseWeight(this.currentBackend, this.kernelWeight);
    this.ownWeight = own;
    this.kernelWeight = kernelWeight(own, this.weightScale, this.scheme);
  }

  /** Hands the weight to the current backend when it can hold it (a `ResidentBackend`). */
  private handOver(): void {
    if (this.ownWeight === null || !adoptWeight(this.currentBackend, this.kernelWeight)) return;
    this.kernelWeight.values = NO_VALUES;
    this.ownWeight = null;
  }

  /**
   * Runs later forwards on `backend`; returns this layer, as PyTorch's `.to(device)` does. A backend
   * that keeps weights in its own layout (wasm-simd, wasm-simd-threads, js-packed) takes the int8
   * weight over (see the class docs). Throws a BackendError if the backend cannot run this layer; nothing changes then.
   */
  override to(backend: Backend): this {
    if (backend === this.currentBackend) return this;
    checkCanRun(backend, this.kernelWeight, this.activations, 'QuantizedLinear.to', `${this.outFeatures}x${this.inFeatures} ${this.granularity} layer`);
    const previous = this.currentBackend;
    this.takeBack();
    this.currentBackend = backend;
    try {
      this.handOver();
    } catch (e) {
      // The new backend could not take the weight (out of wasm memory): stay where we were.
      this.currentBackend = previous;
      throw e;
    }
    return this;
  }

  /**
   * `y = x·dequant(W)ᵀ + b` without building the float weight. x: (*, in) -> (*, out). On a backend
   * whose results come back asynchronously (gpu.js on WebGPU) this throws; use `forwardAsync`.
   */
  forward(x: Tensor): Tensor<'float32'> {
    return this.runForward(x, SYNC_KERNELS).y;
  }

  /**
   * `forward` for every backend, including those that read results back asynchronously (gpu.js
   * on WebGPU); on the others it resolves to exactly what `forward` returns.
   *
   * Shape: input (*, in_features) -> output (*, out_features).
   *
   * Example:
   *   const gpu = await createGpuBackend({ mode: 'webgpu' });   // from 'int8-linear/gpu'
   *   const y = await qfc.to(gpu).forwardAsync(x);
   */
  async forwardAsync(x: Tensor): Promise<Tensor<'float32'>> {
    const { y, done } = this.runForward(x, ASYNC_KERNELS);
    await done;
    return y;
  }

  /** The forward of both: quantizes x as `activations` says and hands it to `kernels`; `done` is what the kernel returned. */
  private runForward<R>(x: Tensor, kernels: ForwardKernels<R>): { y: Tensor<'float32'>; done: R | undefined } {
    const m = checkInput(x, this.inFeatures, 'QuantizedLinear');
    const out = new Float32Array(m * this.outFeatures);
    let done: R | undefined;
    if (m > 0) {
      const bias = this.bias?.data ?? null;
      const data = x.data as Float32Array;
      const weight = this.kernelWeight;
      if (this.activations === 'int8') {
        const { xq, xScales } = quantizeActivations(data, m, this.inFeatures);
        done = kernels.int8(this.currentBackend, { xq, xScales, m, weight, bias, out });
      } else if (this.activations === 'int16') {
        const { xq, xScales } = quantizeActivationsInt16(data, m, this.inFeatures);
        done = kernels.int16(this.currentBackend, { xq, xScales, m, weight, bias, out });
      } else {
        done = kernels.float32(this.currentBackend, { x: data, m, weight, bias, out });
      }
    }
    return { y: new Tensor(out, outputShape(x, this.outFeatures), 'float32'), done };
  }



  /**
   * `weight`, `weight_scale`, `bias` (bias only when present): the layer's own tensors (`weight_scale`
   * is `weightScale`, whose in-place edits the forward never sees; `weight` is a copy while the
   * backend holds it, see `weight`). Change the state with `loadStateDict`.
   */
  protected override stateEntries(): [string, Tensor][] {
    const entries: [string, Tensor][] = [[TENSOR_KEYS.weight, this.weight], [TENSOR_KEYS.weightScale, this.weightScale]];
    if (this.bias !== null) entries.push([TENSOR_KEYS.bias, this.bias]);
    return entries;
  }

  /**
   * Scales must be finite and not negative (dtypes and shapes are checked by `loadStateDict`); 0 is
   * allowed: GGUF Q8_0 stores d = 0 for an all-zero block, and for blocks too small for half.
   */
  protected override checkStateEntries(state: Readonly<Record<string, Tensor>>): void {
    if (!Object.hasOwn(state, 'weight_scale')) return;
    const scales = state.weight_scale.data as Float32Array;
    for (let i = 0; i < scales.length; i++) {
      if (!(scales[i] >= 0 && scales[i] < Infinity)) {
        throw new FormatError(
          `QuantizedLinear.loadStateDict: weight_scale[${i}] = ${scales[i]}; every scale must be finite and not negative`,
        );
      }
    }
  }

  /**
   * Copies `weight` (int8), `weight_scale` (float32) and `bias` in (`loadStateDict` has checked keys,
   * dtypes, shapes and scales). Once checked, the state is always loaded: if the current backend
   * cannot take the new weight (disposed), the layer keeps it itself.
   */
  protected override loadStateEntries(state: Readonly<Record<string, Tensor>>): void {
    const weight = Object.hasOwn(state, 'weight') ? (state.weight.data as Int8Array) : this.weight.data;
    // The current backend frees its copy of the old weight now (others free theirs when the old
    // object is garbage-collected); a new kernel weight object makes every backend pack again.
    releaseWeight(this.currentBackend, this.kernelWeight);
    const own = this.ownWeight ?? Tensor.zeros([this.outFeatures, this.inFeatures], 'int8');
    own.data.set(weight);
    if (Object.hasOwn(state, 'weight_scale')) this.weightScale.data.set(state.weight_scale.data as Float32Array);
    if (this.bias !== null && Object.hasOwn(state, 'bias')) this.bias.data.set(state.bias.data as Float32Array);
    this.ownWeight = own;
    this.kernelWeight = kernelWeight(own, this.weightScale, this.scheme);
    try {
      this.handOver();
    } catch {
      // The backend cannot take the weight now (disposed, out of wasm memory): the state is loaded
      // and the layer keeps it; a forward on that backend reports why, and `to()` another works.
    }
  }

  override extraRepr(): string {
    const group = this.groupSize === null ? '' : `, group_size=${this.groupSize}`;
    return (
      `in_features=${this.inFeatures}, out_features=${this.outFeatures}, ` +
      `bias=${this.bias === null ? 'False' : 'True'}, dtype=int8, granularity=${this.granularity}${group}, ` +
      `range=${this.range}, scale_shape=${formatShape(this.weightScale.shape)}` +
      `${this.activations === 'float32' ? '' : `, activations=${this.activations}`}, backend=${this.currentBackend.name}`
    );
  }
}

/**
 * The weight of a layer as the kernels see it (one layout for all backends; see `KernelWeight`):
 * the very object `forward` hands the backend, or, while the backend holds the weight, a view with
 * the values read back from it (a new object each time). For calling a backend's kernels directly
 * (tests, benchmarks, a new backend); exported from 'int8-linear/advanced'.
 *
 * Shape: values (out_features, in_features) int8, scales (out_features, in_features / groupSize).
 *
 * Example:
 *   const w = layerKernelWeight(qfc);
 *   referenceLinear({ x: x.data, m, weight: w, bias: qfc.bias?.data ?? null, out: new Float32Array(m * w.n) });
 */
export function layerKernelWeight(layer: QuantizedLinear): KernelWeight {
  return layer['kernelWeightView']();
}
