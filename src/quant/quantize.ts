import { QuantizationError, ShapeError, describeValue } from '../errors.js';
import { checkScaleShape, dequantizeBlocks, formatOf, quantizeBlocks, scalesOf, type NonFiniteError } from '../format/formats.js';
import { blockLength, resolveScheme, scaleShape, type QuantScheme, type ResolvedScheme } from '../format/scheme.js';
import { Tensor, formatShape, toFloat32Hint } from '../tensor.js';

/** An int8 weight and its scales. `dequantize(q)` gives back `fround(values * scale)`. */
export interface QuantizedTensor extends ResolvedScheme {
  /** int8, same shape as the weight: (out_features, in_features). */
  readonly values: Tensor<'int8'>;
  /** float32: (1,) per tensor, (out, 1) per channel, (out, in / groupSize) per group. */
  readonly scale: Tensor<'float32'>;
}

function checkWeight(weight: Tensor, what: string): asserts weight is Tensor<'float32'> {
  if (!(weight instanceof Tensor) || weight.dtype !== 'float32' || weight.ndim !== 2) {
    const got = weight instanceof Tensor ? `a ${weight.dtype} tensor of shape ${formatShape(weight.shape)}` : describeValue(weight);
    throw new ShapeError(
      `${what}: expected a 2-D float32 weight of shape (out_features, in_features), got ${got}${toFloat32Hint(weight, 'weight')}`,
    );
  }
  if (weight.shape[1] === 0) {
    throw new ShapeError(`${what}: weight of shape ${formatShape(weight.shape)} has no input features; in_features must be at least 1`);
  }
}

const nonFiniteWeight =
  (what: string): NonFiniteError =>
  (value, index, row, col) =>
    new QuantizationError(
      `${what}: weight has a non-finite value ${value} at index ${index} ([${row}, ${col}]); ` +
        `only finite weights can be quantized: fix or remove NaN/Inf values first`,
    );

/** The scales of a checked (out, in) weight as a tensor of the scheme's scale shape. */
function scaleTensor(weight: Tensor<'float32'>, scheme: ResolvedScheme, nonFinite: NonFiniteError): Tensor<'float32'> {
  const [rows, cols] = weight.shape;
  return new Tensor(scalesOf(weight.data, rows, cols, scheme, nonFinite), scaleShape(rows, cols, scheme), 'float32');
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
  return scaleTensor(weight, resolveScheme(scheme, weight.shape[1], 'computeScale'), nonFiniteWeight('computeScale'));
}

/**
 * `computeScale` of a checked 2-D float32 tensor, with the caller's error for a non-finite element
 * (the converter's names the layer, the file and the row in the whole weight).
 */
export function computeScaleFinite(weight: Tensor<'float32'>, scheme: QuantScheme, nonFinite: NonFiniteError): Tensor<'float32'> {
  return scaleTensor(weight, resolveScheme(scheme, weight.shape[1]), nonFinite);
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
  const scale = scaleTensor(weight, resolved, nonFinite);
  const q = new Int8Array(weight.data.length);
  quantizeBlocks(weight.data, scale.data, blockLength(rows, cols, resolved), formatOf(resolved), q);
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
  const [rows, cols] = q.values.shape;
  // The granularity and groupSize decide the layout, the range the format row (checked as a scheme).
  const scheme = resolveScheme({ granularity: q.granularity, groupSize: q.groupSize, range: q.range }, cols, 'dequantize');
  checkScaleShape('dequantize', q.scale, rows, cols, scheme);
  const out = new Float32Array(q.values.data.length);
  dequantizeBlocks(q.values.data, q.scale.data, blockLength(rows, cols, scheme), formatOf(scheme), out);
  return new Tensor(out, [rows, cols], 'float32');
}
