import { QuantizationError, ShapeError, checkOptions, describeValue, oneOf } from '../errors.js';
import { Tensor, formatShape, numel } from '../tensor.js';
import { roundHalfEven } from './round.js';

/** Which elements share one scale: the whole tensor, a row (output channel), or `groupSize` elements of a row. */
export type Granularity = 'tensor' | 'channel' | 'group';

/**
 * The int8 range. 'full': q in [-128, 127], scale = absmax / 127.5 (PyTorch per_channel_symmetric
 * observers, torchao, compressed-tensors). 'restricted': q in [-127, 127], scale = absmax / 127
 * (ggml Q8_0, optimum-quanto, bitsandbytes).
 */
export type QuantRange = 'full' | 'restricted';

/** How to quantize a weight. Defaults: `granularity: 'channel'`, `range: 'full'`. */
export interface QuantScheme {
  granularity?: Granularity;
  /** Elements of a row that share one scale; required with, and only with, `granularity: 'group'`. */
  groupSize?: number;
  range?: QuantRange;
}

/** A scheme with every field decided; `groupSize` is null unless granularity is 'group'. */
export interface ResolvedScheme {
  readonly granularity: Granularity;
  readonly groupSize: number | null;
  readonly range: QuantRange;
}

/** An int8 weight and its scales. `dequantize(q)` gives back `fround(values * scale)`. */
export interface QuantizedTensor extends ResolvedScheme {
  /** int8, same shape as the weight: (out_features, in_features). */
  readonly values: Tensor<'int8'>;
  /** float32: (1,) per tensor, (out, 1) per channel, (out, in / groupSize) per group. */
  readonly scale: Tensor<'float32'>;
}

/** float32 machine epsilon, 2^-23: the smallest scale, so an all-zero block never divides by zero. */
export const EPS = 1.1920928955078125e-7;

/** Bounds of each range and the divisor that maps absmax to the scale. */
export const RANGES: Readonly<Record<QuantRange, { qmin: number; qmax: number; divisor: number }>> = {
  full: { qmin: -128, qmax: 127, divisor: 127.5 },
  restricted: { qmin: -127, qmax: 127, divisor: 127 },
};

const GRANULARITIES: readonly Granularity[] = ['tensor', 'channel', 'group'];
const QUANT_RANGES: readonly QuantRange[] = ['full', 'restricted'];

/** The keys of a `QuantScheme`, for the unknown-option check. */
export const SCHEME_KEYS: readonly (keyof QuantScheme)[] = ['granularity', 'groupSize', 'range'];

/**
 * Checks a scheme against a weight's in_features and fills in the defaults. `who` names the caller
 * in the error for an unknown key.
 */
export function resolveScheme(scheme: QuantScheme, inFeatures: number, who = 'resolveScheme'): ResolvedScheme {
  checkOptions(who, scheme, SCHEME_KEYS, QuantizationError);
  const granularity = oneOf('granularity', scheme.granularity ?? 'channel', GRANULARITIES, QuantizationError);
  const range = oneOf('range', scheme.range ?? 'full', QUANT_RANGES, QuantizationError);
  const { groupSize } = scheme;
  if (granularity !== 'group') {
    if (groupSize !== undefined) {
      throw new QuantizationError(
        `groupSize ${groupSize} was given with granularity '${granularity}'; ` +
          `groupSize applies only to granularity 'group' (use { granularity: 'group', groupSize: ${groupSize} })`,
      );
    }
    return { granularity, groupSize: null, range };
  }
  if (groupSize === undefined) {
    throw new QuantizationError(
      `granularity 'group' needs a groupSize, e.g. { granularity: 'group', groupSize: 128 }`,
    );
  }
  if (!Number.isSafeInteger(groupSize) || groupSize <= 0) {
    throw new QuantizationError(`groupSize must be a positive integer, got ${describeValue(groupSize)}`);
  }
  if (inFeatures % groupSize !== 0) {
    throw new QuantizationError(
      `in_features ${inFeatures} is not divisible by groupSize ${groupSize} (remainder ${inFeatures % groupSize}); ` +
        `choose a groupSize that divides ${inFeatures} (weights are not padded)`,
    );
  }
  return { granularity, groupSize, range };
}

/** Shape of the scale tensor for a (out, in) weight under a resolved scheme. */
export function scaleShape(outFeatures: number, inFeatures: number, scheme: ResolvedScheme): number[] {
  if (scheme.granularity === 'tensor') return [1];
  if (scheme.granularity === 'channel') return [outFeatures, 1];
  return [outFeatures, inFeatures / (scheme.groupSize as number)];
}

/** Elements of a row that share one scale (in_features for 'tensor' and 'channel'). */
export function elementsPerScale(inFeatures: number, scheme: ResolvedScheme): number {
  return scheme.granularity === 'group' ? (scheme.groupSize as number) : inFeatures;
}

function checkWeight(weight: Tensor, what: string): asserts weight is Tensor<'float32'> {
  if (!(weight instanceof Tensor) || weight.dtype !== 'float32' || weight.ndim !== 2) {
    const got = weight instanceof Tensor ? `a ${weight.dtype} tensor of shape ${formatShape(weight.shape)}` : describeValue(weight);
    throw new ShapeError(
      `${what}: expected a 2-D float32 weight of shape (out_features, in_features), got ${got}`,
    );
  }
  if (weight.shape[1] === 0) {
    throw new ShapeError(`${what}: weight of shape ${formatShape(weight.shape)} has no input features; in_features must be at least 1`);
  }
}

/** The error for the first non-finite element of a (rows, cols) float32 array. */
export type NonFiniteError = (value: number, index: number, row: number, col: number) => Error;

const nonFiniteWeight =
  (what: string): NonFiniteError =>
  (value, index, row, col) =>
    new QuantizationError(
      `${what}: weight has a non-finite value ${value} at index ${index} ([${row}, ${col}]); ` +
        `only finite weights can be quantized: fix or remove NaN/Inf values first`,
    );

/**
 * Scales of a 2-D float32 (out, in) weight; the one place scales are computed. The same pass checks
 * that every element is finite (`w - w` is 0 exactly for finite w, NaN for NaN and ±Inf) and throws
 * `nonFinite` for the first bad one, before anything is written.
 */
function scalesOf(weight: Tensor<'float32'>, scheme: ResolvedScheme, nonFinite: NonFiniteError): Tensor<'float32'> {
  const [rows, cols] = weight.shape;
  const w = weight.data;
  const { divisor } = RANGES[scheme.range];
  const shape = scaleShape(rows, cols, scheme);
  const out = new Float32Array(numel(shape));
  const block = scheme.granularity === 'tensor' ? w.length : elementsPerScale(cols, scheme);
  let finite = 0;
  for (let b = 0; b < out.length; b++) {
    let absmax = 0;
    const end = (b + 1) * block;
    for (let i = b * block; i < end; i++) {
      const v = w[i];
      finite += v - v;
      const a = Math.abs(v);
      if (a > absmax) absmax = a;
    }
    // float32 division (exact as double division then one rounding), then PyTorch's eps guard.
    out[b] = Math.max(Math.fround(absmax / divisor), EPS);
  }
  if (finite !== 0) {
    for (let i = 0; i < w.length; i++) {
      if (!Number.isFinite(w[i])) throw nonFinite(w[i], i, Math.floor(i / cols), i % cols);
    }
  }
  return new Tensor(out, shape, 'float32');
}

/**
 * The scale of a weight alone: it answers "what is the scale of this weight?".
 *
 * Shape: weight (out, in) -> (1,) per tensor, (out, 1) per channel, (out, in / groupSize) per group.
 *
 * Example:
 *   computeScale(fc.weight, { granularity: 'channel' }).shape;   // [1024, 1] for a (1024, 512) weight
 */
export function computeScale(weight: Tensor, scheme: QuantScheme = {}): Tensor<'float32'> {
  checkWeight(weight, 'computeScale');
  return scalesOf(weight, resolveScheme(scheme, weight.shape[1], 'computeScale'), nonFiniteWeight('computeScale'));
}

/**
 * `computeScale` of a checked 2-D float32 tensor, with the caller's error for a non-finite element
 * (the CLI's names the layer, the file and the row in the whole weight).
 */
export function computeScaleFinite(weight: Tensor<'float32'>, scheme: QuantScheme, nonFinite: NonFiniteError): Tensor<'float32'> {
  return scalesOf(weight, resolveScheme(scheme, weight.shape[1]), nonFinite);
}

/**
 * Symmetric int8 quantization of a (out, in) float32 weight, bit-exact with PyTorch:
 * `scale = max(fround(absmax / 127.5 or 127), EPS)`,
 * `q = clamp(roundHalfEven(fround(w * fround(1 / scale))), qmin, qmax)`.
 *
 * Shape: weight (out, in) -> values (out, in) int8; scale as `computeScale`.
 *
 * Example:
 *   const q = quantize(fc.weight, { granularity: 'group', groupSize: 128 });
 *   q.values.dtype;  // 'int8'
 *   q.scale.shape;   // [1024, 4] for a (1024, 512) weight
 */
export function quantize(weight: Tensor, scheme: QuantScheme = {}): QuantizedTensor {
  checkWeight(weight, 'quantize');
  return quantizeFinite(weight, scheme, nonFiniteWeight('quantize'), 'quantize');
}

/**
 * `quantize` of a checked 2-D float32 tensor, with the caller's error for a non-finite element
 * (`quantizeActivations` words it for activations).
 */
export function quantizeFinite(weight: Tensor<'float32'>, scheme: QuantScheme, nonFinite: NonFiniteError, who = 'quantizeFinite'): QuantizedTensor {
  const [rows, cols] = weight.shape;
  const resolved = resolveScheme(scheme, cols, who);
  const scale = scalesOf(weight, resolved, nonFinite);
  const { qmin, qmax } = RANGES[resolved.range];
  const block = resolved.granularity === 'tensor' ? rows * cols : elementsPerScale(cols, resolved);
  const w = weight.data;
  const s = scale.data;
  const q = new Int8Array(w.length);
  for (let b = 0; b < s.length; b++) {
    const inv = Math.fround(1 / s[b]);
    const end = (b + 1) * block;
    for (let i = b * block; i < end; i++) {
      const v = roundHalfEven(Math.fround(w[i] * inv));
      q[i] = v < qmin ? qmin : v > qmax ? qmax : v;
    }
  }
  return { values: new Tensor(q, [rows, cols], 'int8'), scale, ...resolved };
}

/**
 * The float32 weight a quantized one stands for: `fround(values * scale)`, scale broadcast over its block.
 *
 * Shape: values (out, in) -> (out, in) float32.
 *
 * Example:
 *   const w2 = dequantize(quantize(fc.weight));   // within scale / 2 of fc.weight (up to float32 rounding)
 */
export function dequantize(q: QuantizedTensor): Tensor<'float32'> {
  const given = q as Partial<QuantizedTensor> | null;
  if (typeof given !== 'object' || given === null || !(given.values instanceof Tensor) || !(given.scale instanceof Tensor) ||
      given.values.dtype !== 'int8' || given.values.ndim !== 2 || given.scale.dtype !== 'float32') {
    throw new ShapeError(
      `dequantize: expected a quantized tensor { values: int8 (out, in), scale: float32, granularity, groupSize } as quantize returns, ` +
        `got ${q instanceof Tensor ? String(q) : describeValue(q)}; pass the result of quantize(weight)`,
    );
  }
  // The granularity and groupSize decide the layout (checked as a scheme); the range does not matter here.
  const layout = resolveScheme({ granularity: q.granularity, groupSize: q.groupSize ?? undefined }, q.values.shape[1], 'dequantize');
  const [rows, cols] = q.values.shape;
  const expected = scaleShape(rows, cols, layout);
  if (q.scale.shape.length !== expected.length || q.scale.shape.some((d, i) => d !== expected[i])) {
    throw new ShapeError(
      `dequantize: scale has shape ${formatShape(q.scale.shape)} but granularity '${q.granularity}' ` +
        `for values of shape ${formatShape(q.values.shape)} needs ${formatShape(expected)}`,
    );
  }
  const block = layout.granularity === 'tensor' ? rows * cols : elementsPerScale(cols, layout);
  const v = q.values.data;
  const s = q.scale.data;
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i] * s[Math.floor(i / block)];
  return new Tensor(out, [rows, cols], 'float32');
}
