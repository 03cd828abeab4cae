import type { KernelWeight } from '../../src/kernels/types.js';
import { U32 } from '../helpers/compare.js';

// One set of comparison helpers for every test (NaN-safe; failures name index, values and limit).
export { U32, expectBitExact, expectWithin } from '../helpers/compare.js';

/**
 * FLOAT32_ACCUMULATION bound, per output element, of a float32 kernel against the float64 reference.
 *
 * A float32 kernel computes each partial product x·q (one rounding), sums a group's products in some
 * order (at most groupSize - 1 roundings on any path, however lanes are split and reduced), scales the
 * group sum (one), sums the groups (groups - 1), adds the bias (one) and the store is exact. Each
 * result is therefore a sum of the exact terms t_i = x_i·q_i·s_g(i) (and b) with every term perturbed
 * by at most n roundings, n <= k + groups + 2, so by Higham (Accuracy and Stability of Numerical
 * Algorithms, §3.1) |ŷ - y| <= γ_n · (Σ|t_i| + |b|), γ_n = n·u / (1 - n·u). The reference itself is
 * exact up to its final float32 store (u·|y| <= u·Σ) and float64 sums (negligible), so the limit
 * used is γ_(k + groups + 4) · (Σ|t_i| + |b|): rigorous, order-independent, and no looser than the
 * worst case (the error of a real kernel is typically √k times smaller).
 */
export function float32AccumulationLimit(x: Float32Array, weight: KernelWeight, bias: Float32Array | null) {
  const { n, k, values, scales, groupSize } = weight;
  const groups = k / groupSize;
  const steps = k + groups + 4;
  const gamma = (steps * U32) / (1 - steps * U32);
  return (i: number): number => {
    const r = Math.floor(i / n);
    const o = i % n;
    let sum = bias === null ? 0 : Math.abs(bias[o]);
    for (let j = 0; j < k; j++) sum += Math.abs(x[r * k + j] * values[o * k + j] * scales[o * groups + Math.floor(j / groupSize)]);
    return gamma * sum;
  };
}
