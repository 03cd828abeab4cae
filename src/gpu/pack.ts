import type { KernelWeight } from '../kernels/types.js';

/**
 * GPU weight layout: three int8 weights per float32 (1.33 bytes per weight instead of gpu.js's 4).
 *
 * gpu.js stores every value as float32, which holds every integer below 2^24 exactly. Three int8
 * values offset by 128 (so each is a byte in [0, 255]) make one such integer. The three share a
 * column `i` and come from three consecutive output rows, so a thread computing output `o` always
 * reads the same lane `o % 3` and the group structure along `k` is untouched:
 *
 *   words[a * k + i] = (q[3a, i] + 128) + 256 · (q[3a+1, i] + 128) + 65536 · (q[3a+2, i] + 128)
 *
 * for a in [0, ceil(n / 3)), rows past `n` padded with q = 0. The kernel unpacks lane `l` exactly:
 * `floor(word · 256^-l) - 256 · floor(word · 256^-(l+1)) - 128` (a product with a power of two, floor
 * and a product below 2^24 are all exact in float32; multiplying by the exact reciprocal, rather
 * than dividing, keeps GL drivers' approximate division out of it).
 */
export const LANES = 3;

/** Packed words of a weight: `ceil(n / 3) * k` float32 values. */
export function packedLength(weight: Pick<KernelWeight, 'n' | 'k'>): number {
  return Math.ceil(weight.n / LANES) * weight.k;
}

/**
 * Packs a weight's int8 values into float32 words, three rows per word (layout above).
 *
 * Shape: values (n, k) int8 -> (ceil(n / 3), k) float32.
 *
 * Example:
 *   packInt8Rows({ n: 2, k: 1, values: Int8Array.of(-128, 1) })[0];   // 0 + 256 · 129 + 65536 · 128
 */
export function packInt8Rows(weight: Pick<KernelWeight, 'n' | 'k' | 'values'>): Float32Array {
  const { n, k, values } = weight;
  const words = new Float32Array(packedLength(weight));
  for (let o = 0; o < Math.ceil(n / LANES) * LANES; o++) {
    const base = Math.floor(o / LANES) * k;
    const mult = 256 ** (o % LANES);
    for (let i = 0; i < k; i++) words[base + i] += ((o < n ? values[o * k + i] : 0) + 128) * mult;
  }
  return words;
}

/**
 * The gpu.js kernel source (a string, so bundlers and minifiers cannot rewrite it). One thread per
 * output element of a 1-D output of `bucket * n` values (a 1-D output never exceeds
 * MAX_TEXTURE_SIZE in one dimension); threads of rows `>= rows` (padding of the M bucket) return 0
 * at once. Loop bounds are constants, never arguments: gpu.js silently caps an argument bound at
 * `loopMaxIterations`. Integer divisions are done as `floor((a + 0.5) / b)`, which stays exact on GL
 * drivers whose float division is off by an ulp. Accumulation is float32, the scale multiplies each
 * group's partial sum once, as in `referenceLinear`; the bias is added on the host.
 */
export const LINEAR_KERNEL_SOURCE = `function (x, rows) {
  const idx = this.thread.x;
  const r = Math.floor((idx + 0.5) / this.constants.n);
  if (r >= rows) {
    return 0.0;
  }
  const o = idx - r * this.constants.n;
  const a = Math.floor((o + 0.5) / 3.0);
  const lane = o - a * 3;
  let inv = 1.0;
  if (lane == 1) {
    inv = 0.00390625;
  }
  if (lane == 2) {
    inv = 0.0000152587890625;
  }
  const inv256 = inv * 0.00390625;
  const wBase = a * this.constants.k;
  const xBase = r * this.constants.k;
  let acc = 0.0;
  for (let g = 0; g < this.constants.groups; g++) {
    let partial = 0.0;
    for (let t = 0; t < this.constants.groupSize; t++) {
      const i = g * this.constants.groupSize + t;
      const word = this.constants.words[wBase + i];
      const b = Math.floor(word * inv) - Math.floor(word * inv256) * 256.0;
      partial += x[xBase + i] * (b - 128.0);
    }
    acc += partial * this.constants.scales[o * this.constants.groups + g];
  }
  return acc;
}`;
