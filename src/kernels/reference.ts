import type { Backend, LinearArgs } from './types.js';

/**
 * The spec of the quantized forward: plain loops, float64 accumulation, the scale applied once per
 * group (per row for per-channel). Every faster kernel is tested against this one.
 * `x·q` products are exact in double (24-bit × 8-bit mantissas), so the only roundings are the
 * double sums and the final float32 store.
 */
export function referenceLinear(args: LinearArgs): void {
  const { x, m, weight, bias, out } = args;
  const { n, k, values, scales, groupSize } = weight;
  const groups = k / groupSize;
  for (let r = 0; r < m; r++) {
    const xBase = r * k;
    for (let o = 0; o < n; o++) {
      const wBase = o * k;
      const sBase = o * groups;
      let acc = 0;
      for (let g = 0; g < groups; g++) {
        const start = g * groupSize;
        let partial = 0;
        for (let i = start; i < start + groupSize; i++) partial += x[xBase + i] * values[wBase + i];
        acc += partial * scales[sBase + g];
      }
      out[r * n + o] = bias === null ? acc : acc + bias[o];
    }
  }
}

/**
 * Float32 linear `out (m, n) = x (m, k) · wᵀ + bias` with float64 accumulation: the float layer's
 * forward, and the baseline the quantized layers are compared with.
 */
export function referenceLinearF32(
  x: Float32Array,
  m: number,
  w: Float32Array,
  n: number,
  k: number,
  bias: Float32Array | null,
  out: Float32Array,
): void {
  for (let r = 0; r < m; r++) {
    const xBase = r * k;
    for (let o = 0; o < n; o++) {
      const wBase = o * k;
      let acc = 0;
      for (let i = 0; i < k; i++) acc += x[xBase + i] * w[wBase + i];
      out[r * n + o] = bias === null ? acc : acc + bias[o];
    }
  }
}

/** Creates the reference backend (stateless: `dispose` does nothing). */
export function createReferenceBackend(): Backend {
  return {
    name: 'reference',
    mode: 'js-float64',
    supports: () => true,
    linear: referenceLinear,
    dispose: () => undefined,
  };
}
