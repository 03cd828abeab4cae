import { QuantizationError } from '../errors.js';
import { Tensor } from '../tensor.js';
import type { NonFiniteError } from '../format/formats.js';
import { quantizeFinite } from './quantize.js';

/**
 * Int8 activations and their per-row (per-token) scales, as the W8A8 kernels take them.
 *
 * Shape: xq (m, k) int8, xScales (m) float32.
 *
 * Example:
 *   const { xq, xScales } = quantizeActivations(x, m, k);   // a QuantizedActivations
 */
export interface QuantizedActivations {
  /** int8 (m, k) row-major. */
  readonly xq: Int8Array;
  /** float32 (m): row r of x is about xq[r, :] · xScales[r]. */
  readonly xScales: Float32Array;
}

/**
 * Per-token symmetric int8 quantization of activations, torchao's dynamic W8A8 formula: each row of
 * x gets `s = max(fround(absmax / 127.5), EPS)` and `xq = clamp(roundHalfEven(fround(x · fround(1/s))),
 * -128, 127)`. That is exactly full-range per-channel quantization of x seen as an (m, k) weight, so
 * it is computed by `quantize` (one implementation of the formula).
 *
 * Shape: x (m, k) float32 -> xq (m, k) int8, xScales (m).
 *
 * Example:
 *   const { xq, xScales } = quantizeActivations(new Float32Array([0.5, -1, 2, 0]), 2, 2);
 *   xScales;   // Float32Array [1 / 127.5, 2 / 127.5] (float32)
 *   xq;        // Int8Array [64, -127, 127, 0], as torch.quantize_per_channel gives
 */
export function quantizeActivations(x: Float32Array, m: number, k: number): QuantizedActivations {
  const q = quantizeFinite(new Tensor(x.subarray(0, m * k), [m, k], 'float32'), { granularity: 'channel', range: 'full' }, nonFiniteInput);
  return { xq: q.values.data, xScales: q.scale.data };
}

const nonFiniteInput: NonFiniteError = (value, _index, row, col) =>
  new QuantizationError(
    `quantizeActivations: input has a non-finite value ${value} at [${row}, ${col}]; ` +
      `int8 activations need finite inputs: use activations: 'float32' or clean the input`,
  );
