import { ShapeError } from '../errors.js';
import { formatShape, type Tensor } from '../tensor.js';

function pair(reference: Tensor, approximation: Tensor, what: string): [ArrayLike<number>, ArrayLike<number>] {
  for (const t of [reference, approximation]) {
    if (t.dtype !== 'float32' && t.dtype !== 'float64') {
      throw new ShapeError(`${what}: expected float32 or float64 tensors, got ${t.dtype}; dequantize int8 values first`);
    }
  }
  const a = reference.shape;
  const b = approximation.shape;
  if (a.length !== b.length || a.some((d, i) => d !== b[i])) {
    throw new ShapeError(`${what}: shapes differ, ${formatShape(a)} vs ${formatShape(b)}; compare tensors of the same shape`);
  }
  return [reference.data as Float32Array | Float64Array, approximation.data as Float32Array | Float64Array];
}

/**
 * Signal-to-quantization-noise ratio in dB: `10·log10(Σ ref² / Σ (ref - approx)²)`, in double.
 * Infinity when the two are equal; higher is better (int8 per-channel on Kaiming weights: about 48 dB).
 *
 * Shape: two tensors of the same shape, float32 or float64 -> a number.
 *
 * Example:
 *   sqnr(fc.weight, dequantize(quantize(fc.weight)));   // ≈ 48.1 for new Linear(512, 1024)
 */
export function sqnr(reference: Tensor, approximation: Tensor): number {
  const [r, a] = pair(reference, approximation, 'sqnr');
  let signal = 0;
  let noise = 0;
  for (let i = 0; i < r.length; i++) {
    const e = r[i] - a[i];
    signal += r[i] * r[i];
    noise += e * e;
  }
  return 10 * Math.log10(signal / noise);
}

/**
 * Largest |reference - approximation| over all elements (NaN if any element is NaN).
 *
 * Shape: two tensors of the same shape, float32 or float64 -> a number.
 *
 * Example:
 *   maxAbsError(fc.forward(x), qfc.forward(x));   // forward error of the int8 layer
 */
export function maxAbsError(reference: Tensor, approximation: Tensor): number {
  const [r, a] = pair(reference, approximation, 'maxAbsError');
  let m = 0;
  for (let i = 0; i < r.length; i++) {
    const e = Math.abs(r[i] - a[i]);
    if (!(e <= m)) m = e; // NaN-safe: a NaN error wins and stays
    if (Number.isNaN(m)) return NaN;
  }
  return m;
}

/**
 * Mean of |reference - approximation| over all elements (0 for empty tensors).
 *
 * Shape: two tensors of the same shape, float32 or float64 -> a number.
 *
 * Example:
 *   meanAbsError(fc.weight, dequantize(quantize(fc.weight)));
 */
export function meanAbsError(reference: Tensor, approximation: Tensor): number {
  const [r, a] = pair(reference, approximation, 'meanAbsError');
  let s = 0;
  for (let i = 0; i < r.length; i++) s += Math.abs(r[i] - a[i]);
  return r.length === 0 ? 0 : s / r.length;
}
