import type { LinearArgs, LinearW8A16Args, LinearW8A8Args, W8A16Backend, W8A8Backend } from './types.js';

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
  integerActivations(args, args.weight.groupSize);
}

/**
 * Columns per exact integer sum of the W8A16 forward: |int16 · int8| <= 2^15 · 2^7 = 2^22, so a sum of
 * 256 such products stays within 2^30 and the SIMD kernels' int32 lanes are exact.
 */
export const W8A16_RUN = 256;

/**
 * The spec of the W8A16 forward (activations quantized per token to int16 by
 * `quantizeActivationsInt16`): as `referenceLinearW8A8`, except that each group's columns are summed
 * in runs of `W8A16_RUN` = 256 from the group's start (the last run of a group may be shorter), each
 * run's exact integer sum then taking the float32 step:
 *
 *   total = 0;  for each group g, each run j of g:  total = fround(total + fround(fround(acc_gj) · fround(s_x · s_w[g])))
 *   y = fround(total + (bias ?? 0))
 *
 * Shape: xq (m, k) int16, xScales (m), weight (n, k) -> out (m, n).
 *
 * Example:
 *   const { xq, xScales } = quantizeActivationsInt16(x, m, k);
 *   referenceLinearW8A16({ xq, xScales, m, weight: layer.packed, bias: null, out: new Float32Array(m * n) });
 */
export function referenceLinearW8A16(args: LinearW8A16Args): void {
  integerActivations(args, W8A16_RUN);
}

/** W8A8 and W8A16: exact integer sums over runs of `run` columns of each group, then the float32 steps. */
function integerActivations({ xq, xScales, m, weight, bias, out }: LinearW8A8Args | LinearW8A16Args, run: number): void {
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
        const sxs = f(sx * scales[o * groups + g]);
        const end = (g + 1) * groupSize;
        for (let start = g * groupSize; start < end; start += run) {
          let acc = 0;
          for (let i = start; i < Math.min(start + run, end); i++) acc += xq[xBase + i] * values[wBase + i];
          total = f(total + f(f(acc) * sxs));
        }
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
 * Creates the reference backend: `referenceLinear`, `referenceLinearW8A8` and `referenceLinearW8A16` as a `Backend`, the one
 * every layer starts on (stateless: `dispose` does nothing).
 *
 * Shape: as `Backend.linear`: x (m, k) -> out (m, n).
 *
 * Example:
 *   qfc.to(createReferenceBackend()).forward(x);
 */
export function createReferenceBackend(): W8A8Backend & W8A16Backend {
  return {
    name: 'reference',
    mode: 'js-float64',
    supports: () => true,
    linear: referenceLinear,
    linearW8A8: referenceLinearW8A8,
    linearW8A16: referenceLinearW8A16,
    dispose: () => undefined,
  };
}
