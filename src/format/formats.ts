import { QuantizationError, ShapeError } from '../errors.js';
import { Tensor, formatShape, numel } from '../tensor.js';
import { GGUF_Q8_0 } from './q8_0.js';
import { roundHalfEven } from './round.js';
import { blockLength, scaleShape, type QuantRange, type ResolvedScheme } from './scheme.js';

/** float32 machine epsilon, 2^-23: the smallest scale, so an all-zero block never divides by zero. */
export const EPS = 1.1920928955078125e-7;

/**
 * One row of the format table: how a block of float weights becomes integers and one scale, and
 * back, bit for bit with the row's reference (DESIGN §2). The reference functions work on a run
 * `[from, to)` of a row-major array with the block's one scale, so every granularity and every row
 * share the block iteration of `blockLength`.
 *
 * A new format (GGUF Q8_0, a 4-bit packing) is one more entry in `FORMATS` with its own three
 * functions; importers and the converter read its fields instead of special-casing it.
 *
 * Example:
 *   FORMATS['int8-full'].scaleOf(127.5);   // 1: absmax / 127.5
 */
export interface WeightFormat {
  /** Key in `FORMATS`, e.g. 'int8-full'. */
  readonly id: string;
  /** Bits per stored value. */
  readonly bits: number;
  /** Smallest and largest stored integer. */
  readonly qmin: number;
  readonly qmax: number;
  /** absmax / divisor is the scale before rounding. */
  readonly divisor: number;
  /** Elements per scale fixed by the format (GGUF Q8_0: 32), or null: the scheme's granularity decides. */
  readonly blockSize: number | null;
  /** dtype the format stores its scales in ('float32'; GGUF Q8_0: 'float16'). */
  readonly scaleDtype: 'float32' | 'float16';
  /** The reference scale of a block whose largest |w| is `absmax` (a float32 value). */
  scaleOf(absmax: number): number;
  /** The reference quantization of `w[from, to)` with `scale`, into `q[from, to)`. */
  quantizeBlock(w: Float32Array, from: number, to: number, scale: number, q: Int8Array): void;
  /** The reference dequantization of `q[from, to)` with `scale`, into `out[from, to)` (float32). */
  dequantizeBlock(q: Int8Array, from: number, to: number, scale: number, out: Float32Array): void;
}

/**
 * Symmetric int8 with PyTorch's arithmetic (ATen `quantize_val`): `scale = max(fround(absmax /
 * divisor), EPS)`, `q = clamp(roundHalfEven(fround(w * fround(1 / scale))), qmin, qmax)`,
 * `w' = fround(q * scale)`.
 */
function symmetricInt8(id: string, qmin: number, qmax: number, divisor: number): WeightFormat {
  return {
    id,
    bits: 8,
    qmin,
    qmax,
    divisor,
    blockSize: null,
    scaleDtype: 'float32',
    // float32 division (exact as double division then one rounding), then PyTorch's eps guard.
    scaleOf: (absmax) => Math.max(Math.fround(absmax / divisor), EPS),
    quantizeBlock(w, from, to, scale, q) {
      const inv = Math.fround(1 / scale);
      for (let i = from; i < to; i++) {
        const v = roundHalfEven(Math.fround(w[i] * inv));
        q[i] = v < qmin ? qmin : v > qmax ? qmax : v;
      }
    },
    dequantizeBlock(q, from, to, scale, out) {
      for (let i = from; i < to; i++) out[i] = q[i] * scale;
    },
  };
}

/**
 * The format table, one row per format. Today: symmetric int8, full range (q in [-128, 127],
 * absmax / 127.5: PyTorch observers, torchao, compressed-tensors) and restricted range (q in
 * [-127, 127], absmax / 127: optimum-quanto, bitsandbytes).
 */
export const FORMATS = {
  'int8-full': symmetricInt8('int8-full', -128, 127, 127.5),
  'int8-restricted': symmetricInt8('int8-restricted', -127, 127, 127),
  // ggml's Q8_0 (src/format/q8_0.ts): blocks of 32, d = amax / 127 without EPS, ties away from zero, half scales.
  'gguf-q8_0': GGUF_Q8_0,
} as const satisfies Readonly<Record<string, WeightFormat>>;

/** A key of the format table. */
export type FormatId = keyof typeof FORMATS;

/**
 * The format table row a scheme quantizes with.
 *
 * Example:
 *   formatOf(layer.scheme).qmin;   // -128 for range 'full'
 */
export function formatOf(scheme: Pick<ResolvedScheme, 'range'>): WeightFormat {
  return FORMATS[`int8-${scheme.range}`];
}

/**
 * Bounds of each range and the divisor that maps absmax to the scale (the int8 rows of `FORMATS`).
 *
 * Example:
 *   RANGES.full;   // { qmin: -128, qmax: 127, divisor: 127.5 }
 */
export const RANGES: Readonly<Record<QuantRange, { qmin: number; qmax: number; divisor: number }>> = {
  full: bounds(FORMATS['int8-full']),
  restricted: bounds(FORMATS['int8-restricted']),
};

function bounds({ qmin, qmax, divisor }: WeightFormat): { qmin: number; qmax: number; divisor: number } {
  return { qmin, qmax, divisor };
}

/** The error for the first non-finite element of a (rows, cols) float32 array. */
export type NonFiniteError = (value: number, index: number, row: number, col: number) => Error;

/**
 * The scales of a float32 (rows, cols) array under a scheme, one per block, with the format's
 * `scaleOf`. The same pass checks that every element is finite (`w - w` is 0 exactly for finite w,
 * NaN for NaN and ±Inf) and throws `nonFinite` for the first bad one, before anything is written.
 */
export function scalesOf(w: Float32Array, rows: number, cols: number, scheme: ResolvedScheme, nonFinite: NonFiniteError): Float32Array {
  const { scaleOf } = formatOf(scheme);
  const block = blockLength(rows, cols, scheme);
  const out = new Float32Array(numel(scaleShape(rows, cols, scheme)));
  let finite = 0;
  for (let b = 0; b < out.length; b++) {
    let absmax = 0;
    const end = (b + 1) * block;
    for (let i = b * block; i < end; i++) {
      const v = w[i];
      finite += v - v;
      const a = Math.abs(v);
      if (a > absmax) absmax = a;
    }
    out[b] = scaleOf(absmax);
  }
  if (finite !== 0) {
    for (let i = 0; i < w.length; i++) {
      if (!Number.isFinite(w[i])) throw nonFinite(w[i], i, Math.floor(i / cols), i % cols);
    }
  }
  return out;
}

/** `quantizeBlock` over every block: `q[i]` from `w[i]` and `scales[floor(i / block)]` (unchecked). */
export function quantizeBlocks(w: Float32Array, scales: Float32Array, block: number, format: WeightFormat, q: Int8Array): void {
  for (let b = 0; b < scales.length; b++) format.quantizeBlock(w, b * block, (b + 1) * block, scales[b], q);
}

/** `dequantizeBlock` over every block (unchecked). */
export function dequantizeBlocks(q: Int8Array, scales: Float32Array, block: number, format: WeightFormat, out: Float32Array): void {
  for (let b = 0; b < scales.length; b++) format.dequantizeBlock(q, b * block, (b + 1) * block, scales[b], out);
}

/** Throws a ShapeError unless `scale` has the shape the scheme gives a (rows, cols) weight. */
export function checkScaleShape(what: string, scale: Tensor, rows: number, cols: number, scheme: ResolvedScheme): void {
  const expected = scaleShape(rows, cols, scheme);
  if (scale.shape.length !== expected.length || scale.shape.some((d, i) => d !== expected[i])) {
    throw new ShapeError(
      `${what}: scale has shape ${formatShape(scale.shape)} but granularity '${scheme.granularity}' ` +
        `for a weight of shape ${formatShape([rows, cols])} needs ${formatShape(expected)}`,
    );
  }
}

/**
 * Quantizes a (out, in) float32 weight with scales it is given (an importer's scales, or a streaming
 * converter's per-tensor scale computed over the whole file), with the scheme's format: for int8,
 * `q = clamp(roundHalfEven(fround(w * fround(1 / scale))), qmin, qmax)`. The weight must be finite
 * and every scale finite and positive; the scale's shape must be the scheme's.
 *
 * Shape: weight (out, in), scale (1,) | (out, 1) | (out, in / groupSize) -> int8 (out, in).
 *
 * Example:
 *   const q = quantize(w);
 *   quantizeWithScales(w, q.scale, q).data;   // equals q.values.data
 */
export function quantizeWithScales(weight: Tensor<'float32'>, scale: Tensor<'float32'>, scheme: ResolvedScheme): Tensor<'int8'> {
  if (!(weight instanceof Tensor) || weight.dtype !== 'float32' || weight.ndim !== 2) {
    throw new ShapeError(`quantizeWithScales: expected a 2-D float32 weight, got ${weight instanceof Tensor ? `${weight.dtype} ${formatShape(weight.shape)}` : String(weight)}`);
  }
  const [rows, cols] = weight.shape;
  checkScaleShape('quantizeWithScales', scale, rows, cols, scheme);
  const s = scale.data;
  for (let i = 0; i < s.length; i++) {
    if (!(s[i] > 0 && s[i] < Infinity)) {
      throw new QuantizationError(`quantizeWithScales: scale[${i}] = ${s[i]}; every scale must be finite and positive`);
    }
  }
  const w = weight.data;
  for (let i = 0; i < w.length; i++) {
    if (!Number.isFinite(w[i])) {
      throw new QuantizationError(
        `quantizeWithScales: weight has a non-finite value ${w[i]} at index ${i} ([${Math.floor(i / cols)}, ${i % cols}]); only finite weights can be quantized`,
      );
    }
  }
  const q = new Int8Array(w.length);
  quantizeBlocks(w, s, blockLength(rows, cols, scheme), formatOf(scheme), q);
  return new Tensor(q, [rows, cols], 'int8');
}
