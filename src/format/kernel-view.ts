import type { Tensor } from '../tensor.js';
import { blockLength, type ResolvedScheme } from './scheme.js';

/**
 * The one weight layout every kernel reads (DESIGN §5.2: defined once, everything derives from it).
 *
 * `values[o * k + i]` is the int8 weight of output channel `o` and input feature `i` (PyTorch's
 * (out_features, in_features) row-major layout). Row `o` is split into `k / groupSize` groups of
 * `groupSize` consecutive elements; group `g` of row `o` has scale `scales[o * (k / groupSize) + g]`.
 * Per channel is `groupSize = k`; per tensor is per channel with the one scale repeated on every row
 * (`kernelView` is the only place that knows this).
 *
 *   y[m, o] = Σ_g scales[o, g] · Σ_{i in group g} x[m, i] · values[o, i]  +  bias[o]
 *
 * Shape: values (n, k) int8, scales (n, k / groupSize) float32.
 *
 * Example:
 *   const w = kernelView(q.values, q.scale, q);   // from 'int8-linear/advanced'
 *   w.groupSize;                                  // k for per channel and per tensor
 */
export interface KernelWeight {
  /** out_features: rows of `values`. */
  readonly n: number;
  /** in_features: columns of `values`. */
  readonly k: number;
  readonly values: Int8Array;
  readonly scales: Float32Array;
  /** Elements of a row per scale; divides `k`. */
  readonly groupSize: number;
}

/**
 * The kernel view of a quantized weight. `values` is shared with the tensor; `scales` is always the
 * view's own array (a copy; per tensor the one scale repeated on every row), so the kernel view is
 * fixed when it is made: writing into `scale` afterwards changes nothing a kernel sees.
 *
 * Shape: values (n, k), scale (1,) | (n, 1) | (n, k / g) -> KernelWeight with scales (n · groups).
 *
 * Example:
 *   const q = quantize(fc.weight, { granularity: 'tensor' });
 *   kernelView(q.values, q.scale, q).scales.length;   // out_features: the one scale on every row
 */
export function kernelView(values: Tensor<'int8'>, scale: Tensor<'float32'>, scheme: ResolvedScheme): KernelWeight {
  const [n, k] = values.shape;
  const scales = scheme.granularity === 'tensor' ? new Float32Array(n).fill(scale.data[0]) : scale.data.slice();
  return { n, k, values: values.data, scales, groupSize: scheme.granularity === 'tensor' ? k : blockLength(n, k, scheme) };
}
