import type { LinearArgs, LinearW8A8Args, W8A8Backend } from './types.js';

/**
 * The spec of the quantized forward: plain loops, float64 accumulation, the scale applied once per
 * group (per row for per-channel). Every faster kernel is tested against this one.
 * `x·q` products are exact in double (24-bit × 8-bit mantissas), so the only roundings are the
 * double sums and the final float32 store.
 *
 * Shape: x (m, k), weight (n, k) int8 with its scales -> out (m, n).
 *
 * Example:
 *   const out = new Float32Array(m * layer.outFeatures);
 *   referenceLinear({ x: x.data, m, weight: layerKernelWeight(layer), bias: layer.bias?.data ?? null, out });
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
 * The spec of the W8A8 forward (activations quantized per token by `quantizeActivations`). Integer
 * sums per (row, group) are exact (int32 in the SIMD kernels: |acc| <= 128·128·k < 2^31 for
 * k < 131072; exact doubles here), then everything is float32, in this order:
 *
 *   total = 0;  for each group g:  total = fround(total + fround(fround(acc_g) · fround(s_x · s_w[g])))
 *   y = fround(total + (bias ?? 0))
 *
 * Every step is one correctly rounded float32 operation, so SIMD kernels reproduce it bit for bit
 * (f32.convert_i32_s, f32x4.mul, f32x4.add round the same way), and they must.
 *
 * Shape: xq (m, k) int8, xScales (m), weight (n, k) -> out (m, n).
 *
 * Example:
 *   const { xq, xScales } = quantizeActivations(x, m, k);
 *   referenceLinearW8A8({ xq, xScales, m, weight: layerKernelWeight(layer), bias: null, out: new Float32Array(m * n) });
 */
export function referenceLinearW8A8(args: LinearW8A8Args): void {
  const { xq, xScales, m, weight, bias, out } = args;
  const { n, k, values, scales, groupSize } = weight;
  const groups = k / groupSize;
  const f = Math.fround;
  for (let r = 0; r < m; r++) {
    const xBase = r * k;
    const sx = xScales[r];
    for (let o = 0; o < n; o++) {
      const wBase = o * k;
      let total = 0;
      for (let g = 0; g < groups; g++) {
        const start = g * groupSize;
        let acc = 0;
        for (let i = start; i < start + groupSize; i++) acc += xq[xBase + i] * values[wBase + i];
        total = f(total + f(f(acc) * f(sx * scales[o * groups + g])));
      }
      out[r * n + o] = f(total + (bias === null ? 0 : bias[o]));
    }
  }
}

/**
 * Float32 linear `out (m, n) = x (m, k) · wᵀ + bias` with float64 accumulation: the float layer's
 * forward, and the baseline the quantized layers are compared with.
 *
 * Shape: x (m, k), w (n, k), bias (n) or null -> out (m, n).
 *
 * Example:
 *   referenceLinearF32(x.data, m, fc.weight.data, fc.outFeatures, fc.inFeatures, fc.bias?.data ?? null, out);
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

/**
 * Creates the reference backend: `referenceLinear` and `referenceLinearW8A8` as a `Backend`, the one
 * every layer starts on (stateless: `dispose` does nothing).
 *
 * Shape: as `Backend.linear`: x (m, k) -> out (m, n).
 *
 * Example:
 *   qfc.to(createReferenceBackend()).forward(x);
 */
export function createReferenceBackend(): W8A8Backend {
  return {
    name: 'reference',
    mode: 'js-float64',
    supports: () => true,
    linear: referenceLinear,
    linearW8A8: referenceLinearW8A8,
    dispose: () => undefined,
  };
}
