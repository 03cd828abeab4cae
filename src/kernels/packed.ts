import { BackendError } from '../errors.js';
import type { KernelWeight } from './types.js';

/**
 * The packed weight layout of the fast CPU kernels (wasm SIMD and the JS fallback), defined once here:
 *
 * - Output rows go in blocks of `ROWS` = 4 (`n` is padded with zero rows to `np = 4·nb`).
 * - Each group of `groupSize` columns is zero-padded to `gp`, a multiple of `CHUNK` = 16, so a row has
 *   `kp = groups·gp` columns (per channel: one group, `kp` = k rounded up to 16).
 * - Block `b` is `4·kp` bytes at `b·4·kp`: for each 16-column chunk `c`, 16 bytes of row 0, then rows
 *   1, 2, 3, so `values[b·4·kp + c·64 + r·16 + j]` is weight (4b + r, column c·16 + j of the padded row).
 * - Scales: `scales[(b·groups + g)·4 + r]` is the scale of row 4b + r, group g (1 for padding rows).
 * - Activations are copied with the same group padding (`padActivations`); the padded columns are 0,
 *   so they add exact zeros to every sum.
 *
 * One pointer walks four rows at once and every 16-byte load is one SIMD vector; the scale of a
 * (row, group) multiplies that group's partial sum once.
 */
export const ROWS = 4;
export const CHUNK = 16;

/** Sizes of a packed weight. */
export interface PackedLayout {
  readonly n: number;
  readonly k: number;
  readonly groupSize: number;
  readonly groups: number;
  /** Padded group length (multiple of 16). */
  readonly gp: number;
  /** Chunks of 16 columns per group. */
  readonly cpg: number;
  /** Padded row length: groups · gp. */
  readonly kp: number;
  /** Row blocks: ceil(n / 4). */
  readonly nb: number;
  /** Padded rows: 4 · nb. */
  readonly np: number;
  /** Bytes of packed values: np · kp. */
  readonly valueBytes: number;
  /** Number of packed scales: nb · groups · 4. */
  readonly scaleCount: number;
}

/** The packed sizes of a kernel weight. */
export function packedLayout(weight: KernelWeight): PackedLayout {
  const { n, k, groupSize } = weight;
  const groups = k / groupSize;
  const gp = Math.ceil(groupSize / CHUNK) * CHUNK;
  const kp = groups * gp;
  const nb = Math.ceil(n / ROWS);
  const np = nb * ROWS;
  return { n, k, groupSize, groups, gp, cpg: gp / CHUNK, kp, nb, np, valueBytes: np * kp, scaleCount: nb * groups * ROWS };
}

/** Offset in the packed values of output row `o`'s first byte (its block, then its 16-byte slot). */
function rowBase(kp: number, o: number): number {
  const b = (o / ROWS) | 0;
  return b * ROWS * kp + (o - b * ROWS) * CHUNK;
}

/** Offset of column `j` of group `g` of the row at `base`: groups padded to `gp`, chunks of 16 interleaved by 4 rows. */
function packedAt(base: number, gp: number, g: number, j: number): number {
  const col = g * gp + j; // column in the padded row
  const chunk = (col / CHUNK) | 0;
  return base + chunk * ROWS * CHUNK + (col - chunk * CHUNK);
}

/**
 * Writes `weight` in the packed layout into `values` (valueBytes) and `scales` (scaleCount), which
 * may be views on wasm memory. Every byte is written, padding included.
 */
export function packWeight(weight: KernelWeight, layout: PackedLayout, values: Int8Array, scales: Float32Array): void {
  const { n, k, groupSize, groups, gp, kp, nb } = layout;
  const src = weight.values;
  if (src.length !== n * k) {
    throw new BackendError(`packWeight: got ${src.length} int8 values for a ${n}x${k} weight, expected ${n * k}`);
  }
  const srcScales = weight.scales;
  values.fill(0);
  for (let o = 0; o < n; o++) {
    const b = (o / ROWS) | 0;
    const r = o - b * ROWS;
    const base = rowBase(kp, o);
    for (let g = 0; g < groups; g++) {
      for (let j = 0; j < groupSize; j++) values[packedAt(base, gp, g, j)] = src[o * k + g * groupSize + j];
      scales[(b * groups + g) * ROWS + r] = srcScales[o * groups + g];
    }
  }
  for (let o = n; o < nb * ROWS; o++) {
    const b = (o / ROWS) | 0;
    for (let g = 0; g < groups; g++) scales[(b * groups + g) * ROWS + (o - b * ROWS)] = 1;
  }
}

/**
 * The inverse of `packWeight` for the values: writes the row-major (n, k) int8 weight held in `values`
 * (the packed layout) into `into` (length n·k), dropping the padding.
 */
export function unpackValues(layout: PackedLayout, values: Int8Array, into: Int8Array): void {
  const { n, k, groupSize, groups, gp, kp } = layout;
  for (let o = 0; o < n; o++) {
    const base = rowBase(kp, o);
    for (let g = 0; g < groups; g++) {
      for (let j = 0; j < groupSize; j++) into[o * k + g * groupSize + j] = values[packedAt(base, gp, g, j)];
    }
  }
}

/**
 * Chunks of 16 padded columns per exact integer sum when the integer forwards sum `run` columns at a
 * time from each group's start (W8A8: a whole group; W8A16: W8A16_RUN): a group's padding is at its
 * end, so runs of padded chunks cover the same columns as the reference's runs.
 */
export function chunksPerRun(layout: PackedLayout, run: number): number {
  return Math.min(layout.cpg, Math.ceil(run / CHUNK));
}

/**
 * Copies activations `x` (m, k) into `dst` (m, kp) with the layout's group padding (zeros). `dst`
 * may be a Float32Array (W8A32), an Int16Array (W8A8, int8 values widened; W8A16) or an Int8Array
 * (W8A8 on the relaxed-SIMD kernel, before `splitPlanes`).
 */
export function padActivations(
  x: Float32Array | Int8Array | Int16Array,
  m: number,
  layout: PackedLayout,
  dst: Float32Array | Int16Array | Int8Array,
): void {
  const { k, groupSize, groups, gp, kp } = layout;
  if (kp === k) {
    dst.set(x.subarray(0, m * k));
    return;
  }
  for (let r = 0; r < m; r++) {
    for (let g = 0; g < groups; g++) {
      const from = r * k + g * groupSize;
      const to = r * kp + g * gp;
      dst.set(x.subarray(from, from + groupSize), to);
      dst.fill(0, to + groupSize, to + gp);
    }
  }
}

/**
 * The x layout of the relaxed-SIMD W8A8 kernel, from int8 activations already padded to (m, kp) by
 * `padActivations` (`src`, as 32-bit words): every 16-column chunk becomes 32 bytes of `dst`, 16 of
 * l = x & 127, then 16 of n = 1 if x < 0 else 0, so x = l - 128·n exactly and both planes are in
 * [0, 127], where i32x4.relaxed_dot_i8x16_i7x16_add_s gives the same result on every engine. Padding
 * (x = 0) gives l = n = 0. Four columns per word: ~30x faster than a loop per byte (measured, 128x4096).
 */
export function splitPlanes(src: Uint32Array, dst: Uint32Array): void {
  const words = CHUNK / 4;
  for (let c = 0, d = 0; c < src.length; c += words, d += 2 * words) {
    for (let j = 0; j < words; j++) {
      const v = src[c + j];
      dst[d + j] = v & 0x7f7f7f7f;
      dst[d + words + j] = (v >>> 7) & 0x01010101;
    }
  }
}

/**
 * The x layout of the relaxed-SIMD W8A16 kernel (op 4 of kernel.wat), from int16 activations already
 * padded to (m, kp) by `padActivations` (`src`, as 32-bit words, two columns each): with
 * u = x + 32768 (= x ^ 0x8000) in [0, 65535], every 16-column chunk becomes 48 bytes of `dst`, 16 of
 * p0 = u & 127, 16 of p1 = (u >> 7) & 127, 16 of p2 = u >> 14 (in [0, 3]), so u = p0 + 128·p1 +
 * 16384·p2 exactly and every plane is in [0, 127], where i32x4.relaxed_dot_i8x16_i7x16_add_s gives the
 * same result on every engine (the kernel takes 32768·Σw off). Two source words give one word of each
 * plane: `bytes` moves the two 7-bit fields at bits 0 and 16 of a word to bytes 0 and 1.
 *
 * Shape: src (m·kp / 2) words -> dst (3·m·kp / 4) words.
 *
 * Example:
 *   splitPlanes16(new Uint32Array(new Int16Array([-32768, 32767, 0, 1, ...]).buffer), dst);   // p0 of the first 4: [0, 127, 0, 1]
 */
export function splitPlanes16(src: Uint32Array, dst: Uint32Array): void {
  const bytes = (t: number): number => (t | (t >>> 8)) & 0xffff;
  const words = CHUNK / 4;
  for (let c = 0, d = 0; c < src.length; c += 2 * words, d += 3 * words) {
    for (let j = 0; j < words; j++) {
      const a = src[c + 2 * j] ^ 0x80008000; // u of columns 4j, 4j + 1 (little-endian: the low half first)
      const b = src[c + 2 * j + 1] ^ 0x80008000; // columns 4j + 2, 4j + 3
      dst[d + j] = bytes(a & 0x007f007f) | (bytes(b & 0x007f007f) << 16);
      dst[d + words + j] = bytes((a >>> 7) & 0x007f007f) | (bytes((b >>> 7) & 0x007f007f) << 16);
      dst[d + 2 * words + j] = bytes((a >>> 14) & 0x00030003) | (bytes((b >>> 14) & 0x00030003) << 16);
    }
  }
}
