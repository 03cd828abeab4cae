import { QuantizationError } from '../errors.js';
import { Tensor } from '../tensor.js';
import { EPS, type NonFiniteError } from '../format/formats.js';
import { roundHalfEven } from '../format/round.js';
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
  const q = quantizeFinite(new Tensor(x.subarray(0, m * k), [m, k], 'float32'), { granularity: 'channel', range: 'full' }, nonFiniteIn('quantizeActivations'));
  return { xq: q.values.data, xScales: q.scale.data };
}

const nonFiniteIn = (who: string): NonFiniteError => (value, _index, row, col) =>
  new QuantizationError(
    `${who}: input has a non-finite value ${value} at [${row}, ${col}]; ` +
      `integer activations need finite inputs: use activations: 'float32' or clean the input`,
  );

/**
 * Int16 activations and their per-row (per-token) scales, as the W8A16 kernels take them.
 *
 * Shape: xq (m, k) int16, xScales (m) float32.
 *
 * Example:
 *   const { xq, xScales } = quantizeActivationsInt16(x, m, k);   // a QuantizedActivationsInt16
 */
export interface QuantizedActivationsInt16 {
  /** int16 (m, k) row-major. */
  readonly xq: Int16Array;
  /** float32 (m): row r of x is about xq[r, :] · xScales[r]. */
  readonly xScales: Float32Array;
}

/** (qmax - qmin) / 2 of int16: the full-range divisor, as 127.5 is for int8. */
const INT16_DIVISOR = 32767.5;

/**
 * Per-token symmetric int16 quantization of activations: `quantizeActivations`' formula with the
 * int16 range, `s = max(fround(absmax / 32767.5), EPS)`, `xq = clamp(roundHalfEven(fround(x ·
 * fround(1/s))), -32768, 32767)`. 256 times finer steps than int8, so a few outlier features no
 * longer crush the rest of the row (bench/accuracy.ts), at about the cost of W8A8 in the wasm
 * kernels (which widen int8 activations to int16 anyway).
 *
 * Shape: x (m, k) float32 -> xq (m, k) int16, xScales (m).
 *
 * Example:
 *   const { xq, xScales } = quantizeActivationsInt16(new Float32Array([0.5, -1, 2, 0]), 2, 2);
 *   xScales;   // Float32Array [1 / 32767.5, 2 / 32767.5] (float32)
 *   xq;        // Int16Array [16384, -32768, 32767, 0] (-32767.5 rounds half to even)
 */
export function quantizeActivationsInt16(x: Float32Array, m: number, k: number): QuantizedActivationsInt16 {
  const xq = new Int16Array(m * k);
  const xScales = new Float32Array(m);
  for (let r = 0; r < m; r++) {
    let absmax = 0;
    for (let i = r * k; i < (r + 1) * k; i++) {
      const v = x[i];
      if (!Number.isFinite(v)) throw nonFiniteIn('quantizeActivationsInt16')(v, i, r, i - r * k);
      const a = Math.abs(v);
      if (a > absmax) absmax = a;
    }
    const s = Math.max(Math.fround(absmax / INT16_DIVISOR), EPS);
    xScales[r] = s;
    const inv = Math.fround(1 / s);
    for (let i = r * k; i < (r + 1) * k; i++) {
      const v = roundHalfEven(Math.fround(x[i] * inv));
      xq[i] = v < -32768 ? -32768 : v > 32767 ? 32767 : v;
    }
  }
  return { xq, xScales };
}
