import { getFloat16 } from '@petamoriken/float16';
import type { WeightFormat } from './formats.js';

/**
 * GGUF / ggml Q8_0, defined once, exactly as ggml has it (ggml-common.h `block_q8_0`,
 * ggml-quants.c `quantize_row_q8_0_ref` / `dequantize_row_q8_0`):
 *
 *   block_q8_0 { ggml_half d; int8_t qs[32]; }      34 bytes, no padding, little-endian
 *
 * A row of `k` floats (k a multiple of 32) is k / 32 consecutive blocks. Per block:
 *   amax = max |x|                       (float32)
 *   d    = amax / 127                    (float32 division: `fround(amax / 127)`)
 *   id   = d ? 1 / d : 0                 (float32, from the float32 d, not the half-rounded one)
 *   qs   = roundf(x * id)                (float32 product; C roundf: half away from zero)
 *   d is stored as IEEE half, round to nearest even (ggml's `GGML_FP32_TO_FP16`)
 * and back: x' = qs * half_to_float(d) (float32). An all-zero block has d = 0 and qs = 0. The range is
 * the restricted one, q in [-127, 127].
 */

/** Elements per Q8_0 block (ggml `QK8_0`). */
export const QK8_0 = 32;

/** Bytes per Q8_0 block: a half scale then 32 int8 values. */
export const Q8_0_BLOCK_BYTES = 2 + QK8_0;

/**
 * C's `roundf` on a float32 value: round to nearest, ties away from zero (`roundf(2.5) = 3`,
 * `roundf(-2.5) = -3`), which is what ggml uses, unlike PyTorch's ties-to-even. `|x| + 0.5` is
 * exact in double for every float32 x (at most 25 significant bits), so `floor` sees the true sum.
 *
 * Example:
 *   roundHalfAwayFromZero(-3.5);   // -4
 */
export function roundHalfAwayFromZero(x: number): number {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

/**
 * The float32 scale `d` of a Q8_0 block whose largest |x| is `absmax`: `fround(absmax / 127)`, no
 * epsilon (an all-zero block has d = 0, as in ggml). This is the value quantization divides by;
 * the file stores it rounded to half (`q8_0StoredScale`).
 *
 * Example:
 *   q8_0ScaleOf(127);   // 1
 */
export function q8_0ScaleOf(absmax: number): number {
  return Math.fround(absmax / 127);
}

const HALF = new DataView(new ArrayBuffer(2));
const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/**
 * The half-float bits ggml stores for the float32 scale `d` (round to nearest even, subnormals
 * included; from 65520 up it overflows to Infinity, 0x7c00, exactly as `GGML_FP32_TO_FP16`). Done on
 * the float32 bits: keep the top 10 mantissa bits (fewer for a half subnormal) and round the rest,
 * ties to even; a carry rolls into the exponent. Tested against @petamoriken/float16's `setFloat16`
 * (which costs about 2 µs a call, too slow for one call per 32 weights).
 *
 * Example:
 *   q8_0ScaleBits(1.00048828125);   // 0x3c00: the tie 1 + 2^-11 goes to the even neighbour, 1
 */
export function q8_0ScaleBits(d: number): number {
  F32[0] = d;
  const b = U32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0); // Inf, NaN (quiet)
  const e = exp - 112; // the half exponent field: float32 bias 127, half bias 15
  if (e >= 31) return sign | 0x7c00;
  let shift: number;
  let m: number;
  let base: number;
  if (e > 0) {
    shift = 13;
    m = mant;
    base = e << 10;
  } else {
    if (e < -10) return sign; // below 2^-25: rounds to zero
    shift = 14 - e; // a half subnormal: m * 2^-24 with the implicit bit made explicit
    m = mant | 0x800000;
    base = 0;
  }
  const kept = m >>> shift; // shift <= 24, so the masks below fit in 32 bits
  const rest = m & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return sign | (base + kept + (rest > half || (rest === half && (kept & 1) === 1) ? 1 : 0));
}

/**
 * The float32 value of the half scale bits (`GGML_FP16_TO_FP32`, exact).
 *
 * Example:
 *   q8_0ScaleValue(0x3c00);   // 1
 */
export function q8_0ScaleValue(bits: number): number {
  HALF.setUint16(0, bits, true);
  return getFloat16(HALF, 0, true);
}

/**
 * The scale a Q8_0 block of largest |x| `absmax` dequantizes with: its float32 d rounded to half.
 *
 * Example:
 *   q8_0StoredScale(127.06201171875);   // 1 (d = 1 + 2^-11 rounds to even)
 */
export function q8_0StoredScale(absmax: number): number {
  return q8_0ScaleValue(q8_0ScaleBits(q8_0ScaleOf(absmax)));
}

/**
 * `quantize_row_q8_0_ref` on one block: `q[i] = roundf(fround(w[i] * id))` for i in [from, to),
 * with `id = d ? fround(1 / d) : 0` from the float32 `d` of `q8_0ScaleOf`. ggml converts to int8
 * without a clamp; with d from the block's own absmax |q| <= 127 always, and the clamp to [-127, 127]
 * only guards a caller-given smaller scale.
 *
 * Example:
 *   const q = new Int8Array(2);
 *   q8_0QuantizeBlock(new Float32Array([2.5, -127]), 0, 2, 1, q);   // q = [3, -127]
 */
export function q8_0QuantizeBlock(w: Float32Array, from: number, to: number, d: number, q: Int8Array): void {
  const id = d !== 0 ? Math.fround(1 / d) : 0;
  for (let i = from; i < to; i++) {
    const v = roundHalfAwayFromZero(Math.fround(w[i] * id));
    q[i] = v < -127 ? -127 : v > 127 ? 127 : v;
  }
}

/**
 * `dequantize_row_q8_0` on one block: `out[i] = fround(q[i] * scale)`, where `scale` is the stored
 * (half-decoded) d.
 *
 * Example:
 *   const out = new Float32Array(2);
 *   q8_0DequantizeBlock(new Int8Array([3, -127]), 0, 2, 0.5, out);   // out = [1.5, -63.5]
 */
export function q8_0DequantizeBlock(q: Int8Array, from: number, to: number, scale: number, out: Float32Array): void {
  for (let i = from; i < to; i++) out[i] = q[i] * scale;
}

/**
 * Quantizes float32 rows to Q8_0 blocks as `quantize_row_q8_0_ref` does, bit for bit: `x.length`
 * must be a multiple of 32 (every row length is, or the row is not Q8_0). `out` receives
 * `x.length / 32 * 34` bytes (at `outOffset`). Returns false, writing nothing, when a block's scale
 * overflows half (|x| above 127 * 65504 ≈ 8.3e6: ggml would store an infinite scale).
 *
 * Shape: x (n,) with n % 32 = 0 -> n / 32 blocks of 34 bytes.
 *
 * Example:
 *   const out = new Uint8Array(34);
 *   quantizeRowsQ8_0(new Float32Array(32).fill(1), out);   // d = half(1/127), qs all 127
 */
export function quantizeRowsQ8_0(x: Float32Array, out: Uint8Array, outOffset = 0): boolean {
  const nb = x.length / QK8_0;
  const d = new Float32Array(nb);
  for (let b = 0; b < nb; b++) {
    let amax = 0;
    for (let i = b * QK8_0; i < (b + 1) * QK8_0; i++) {
      const a = Math.abs(x[i]);
      if (a > amax) amax = a;
    }
    d[b] = q8_0ScaleOf(amax);
    if (q8_0ScaleBits(d[b]) === 0x7c00) return false;
  }
  const q = new Int8Array(x.length);
  const bits = new Uint16Array(nb);
  for (let b = 0; b < nb; b++) {
    q8_0QuantizeBlock(x, b * QK8_0, (b + 1) * QK8_0, d[b], q);
    bits[b] = q8_0ScaleBits(d[b]);
  }
  out.set(joinQ8_0(q, bits), outOffset);
  return true;
}

/**
 * Splits Q8_0 blocks into their int8 values and half scale bits, exactly as stored (no rounding):
 * the per-group (32) int8 layout of this library, range restricted.
 *
 * Shape: n / 32 blocks (34 bytes each) -> values (n,), scale bits (n / 32,).
 *
 * Example:
 *   const { values, scaleBits } = splitQ8_0(blockBytes, 4096 * 4096);
 */
export function splitQ8_0(blocks: Uint8Array, n: number): { values: Int8Array; scaleBits: Uint16Array } {
  const nb = n / QK8_0;
  const values = new Int8Array(n);
  const scaleBits = new Uint16Array(nb);
  const s8 = new Int8Array(blocks.buffer, blocks.byteOffset, nb * Q8_0_BLOCK_BYTES);
  for (let b = 0; b < nb; b++) {
    const at = b * Q8_0_BLOCK_BYTES;
    scaleBits[b] = blocks[at] | (blocks[at + 1] << 8);
    const o = b * QK8_0;
    for (let j = 0; j < QK8_0; j++) values[o + j] = s8[at + 2 + j];
  }
  return { values, scaleBits };
}

/**
 * The inverse of `splitQ8_0`: int8 values and half scale bits back into Q8_0 blocks, bit for bit.
 *
 * Shape: values (n,), scale bits (n / 32,) -> n / 32 blocks of 34 bytes.
 *
 * Example:
 *   joinQ8_0(values, scaleBits).length;   // values.length / 32 * 34
 */
export function joinQ8_0(values: Int8Array, scaleBits: Uint16Array): Uint8Array {
  const nb = scaleBits.length;
  const out = new Uint8Array(nb * Q8_0_BLOCK_BYTES);
  const s8 = new Int8Array(out.buffer);
  for (let b = 0; b < nb; b++) {
    const at = b * Q8_0_BLOCK_BYTES;
    out[at] = scaleBits[b] & 0xff;
    out[at + 1] = scaleBits[b] >>> 8;
    const o = b * QK8_0;
    for (let j = 0; j < QK8_0; j++) s8[at + 2 + j] = values[o + j];
  }
  return out;
}

/**
 * The GGUF Q8_0 row of the format table (`FORMATS['gguf-q8_0']`): ggml's own arithmetic, not the
 * int8 rows' (no EPS: an all-zero block has d = 0; ties away from zero; blocks of 32 fixed by the
 * format). `scaleOf` gives the float32 d that quantization divides by; the file stores it as half
 * (`scaleDtype`), and dequantization takes the stored value (`q8_0StoredScale`).
 *
 * Shape: none (a description of a format).
 *
 * Example:
 *   GGUF_Q8_0.scaleOf(127);   // 1
 */
export const GGUF_Q8_0: WeightFormat = {
  id: 'gguf-q8_0',
  bits: 8,
  qmin: -127,
  qmax: 127,
  divisor: 127,
  blockSize: QK8_0,
  scaleDtype: 'float16',
  scaleOf: q8_0ScaleOf,
  quantizeBlock: q8_0QuantizeBlock,
  dequantizeBlock: q8_0DequantizeBlock,
};
