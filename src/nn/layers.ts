import { ShapeError, brandedInstanceCheck } from '../errors.js';
import { defaultGenerator, type Generator } from '../random.js';
import { Tensor, formatShape } from '../tensor.js';
import { Module } from './module.js';

/** float32 machine epsilon (2^-23): `torch.finfo(torch.float32).eps`, RMSNorm's eps when none is given. */
const FLOAT32_EPS = 1.1920928955078125e-7;

/**
 * A float as Python's `repr` prints it ('1e-05', '0.001', '1.0', '1e-12'): shortest round-trip
 * digits, exponent form below 1e-4 or from 1e16 on, with a sign and at least two exponent digits.
 */
export function pythonFloat(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mantissa, exp] = x.toExponential().split('e');
  const e = Number(exp);
  if (e < -4 || e >= 16) return `${mantissa}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  const fixed = String(x);
  return fixed.includes('.') ? fixed : `${fixed}.0`;
}

/** A float32 tensor, else a ShapeError naming the layer and what it expects. */
function checkFloat(x: Tensor, who: string, expected: string): Float32Array {
  if (!(x instanceof Tensor) || x.dtype !== 'float32') {
    throw new ShapeError(`${who}.forward: expected a float32 Tensor of shape ${expected}, got ${x instanceof Tensor ? `a ${x.dtype} tensor` : typeof x}`);
  }
  return x.data as Float32Array;
}

/** `normalized_shape` as PyTorch keeps it: an int becomes a 1-tuple. Only the last dimension is supported. */
function checkNormalizedShape(shape: number | readonly number[], who: string): number[] {
  const s = typeof shape === 'number' ? [shape] : [...shape];
  if (s.length !== 1 || !Number.isSafeInteger(s[0]) || s[0] < 1) {
    throw new ShapeError(`${who}: normalized_shape must be a positive integer (the last dimension), got ${formatShape(s)}; only one normalized dimension is supported`);
  }
  return s;
}

/** Checks that x ends in `dim`; returns the number of rows (the product of the leading dims). */
function rowsOf(x: Tensor, dim: number, who: string): number {
  checkFloat(x, who, `(*, ${dim})`);
  if (x.ndim === 0 || x.shape[x.ndim - 1] !== dim) {
    throw new ShapeError(`${who}.forward: input of shape ${formatShape(x.shape)} does not end in ${dim}; expected (*, ${dim})`);
  }
  return x.size / dim;
}

/** Options of `Embedding`: as `nn.Embedding`'s `padding_idx`, plus the init switch and random stream of `Linear`. */
export interface EmbeddingOptions {
  /** A row that is zero after init (and printed), as PyTorch's `padding_idx`; negative counts from the end. */
  paddingIdx?: number;
  /** Default true: weight ~ N(0, 1) as `nn.Embedding`; false: zeros, no random number drawn. */
  init?: boolean;
  /** Random stream for the init; default: the generator `manualSeed` seeds. */
  generator?: Generator;
}

/**
 * Fills `data` with N(0, 1) exactly as ATen's CPU `normal_` for tensors of 16 or more elements: 24-bit
 * uniforms in [0, 1) first, then Box-Muller over each block of 16 (u1 = 1 - data[i], u2 = data[i + 8],
 * data[i] = r·cos(2π·u2), data[i + 8] = r·sin(2π·u2)); a size that is not a multiple of 16 redraws
 * the last 16 and transforms them again. Each step is rounded to float32 where ATen's C++ rounds; libm's float
 * log/cos/sin may still differ from these correctly rounded ones in the last bit.
 */
function normalFill(data: Float32Array, generator: Generator): void {
  const f = Math.fround;
  const fill16 = (at: number): void => {
    for (let j = 0; j < 8; j++) {
      // ATen's float32 steps, each rounded where C++ rounds to float (theta is computed in double).
      const u1 = f(1 - data[at + j]);
      const u2 = data[at + j + 8];
      const radius = f(Math.sqrt(f(-2 * f(Math.log(u1)))));
      const theta = f(2 * Math.PI * u2);
      data[at + j] = radius * f(Math.cos(theta));
      data[at + j + 8] = radius * f(Math.sin(theta));
    }
  };
  for (let i = 0; i < data.length; i++) data[i] = (generator.nextUint32() & 0xffffff) / 16777216;
  for (let i = 0; i + 16 <= data.length; i += 16) fill16(i);
  if (data.length % 16 !== 0) {
    const at = data.length - 16;
    for (let i = at; i < data.length; i++) data[i] = (generator.nextUint32() & 0xffffff) / 16777216;
    fill16(at);
  }
}

/**
 * `torch.nn.Embedding`: a lookup table, row `i` of `weight` for token `i`.
 *
 * Shape: ids (*) (int32 / uint8 / int64 Tensor, or a number array for (n,)) -> (*, embedding_dim);
 * weight (num_embeddings, embedding_dim).
 *
 * Example:
 *   const emb = new Embedding(256, 128);
 *   String(emb);   // 'Embedding(256, 128)'
 *   emb.forward([104, 105]).shape;   // [2, 128]
 */
export class Embedding extends Module {
  /** `instanceof` also holds across the package's CommonJS and ES module builds (see `brandedInstanceCheck`). */
  static override readonly [Symbol.hasInstance] = /* @__PURE__ */ brandedInstanceCheck(this, 'Embedding');

  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  readonly paddingIdx: number | null;
  readonly weight: Tensor<'float32'>;

  constructor(numEmbeddings: number, embeddingDim: number, options: EmbeddingOptions = {}) {
    super();
    for (const [name, v] of [['num_embeddings', numEmbeddings], ['embedding_dim', embeddingDim]] as const) {
      if (!Number.isSafeInteger(v) || v < 0) throw new ShapeError(`Embedding: ${name} must be a non-negative integer, got ${v}`);
    }
    this.numEmbeddings = numEmbeddings;
    this.embeddingDim = embeddingDim;
    const p = options.paddingIdx;
    if (p !== undefined && !(Number.isInteger(p) && p >= -numEmbeddings && p < numEmbeddings)) {
      throw new ShapeError(`Embedding: paddingIdx must be an integer in [-${numEmbeddings}, ${numEmbeddings}), got ${p}`);
    }
    this.paddingIdx = p === undefined ? null : p < 0 ? p + numEmbeddings : p;
    this.weight = Tensor.zeros([numEmbeddings, embeddingDim], 'float32');
    if (options.init !== false && this.weight.size > 0) {
      normalFill(this.weight.data, options.generator ?? defaultGenerator());
      if (this.paddingIdx !== null) this.weight.data.fill(0, this.paddingIdx * embeddingDim, (this.paddingIdx + 1) * embeddingDim);
    }
  }

  /** The rows of `weight` for `ids`; an id outside [0, num_embeddings) is a ShapeError naming it. */
  forward(ids: Tensor | readonly number[]): Tensor<'float32'> {
    let values: ArrayLike<number | bigint>;
    let shape: readonly number[];
    if (ids instanceof Tensor) {
      if (ids.dtype !== 'int32' && ids.dtype !== 'int64' && ids.dtype !== 'uint8') {
        throw new ShapeError(`Embedding.forward: expected an int32, int64 or uint8 Tensor of ids, got a ${ids.dtype} tensor`);
      }
      values = ids.data as ArrayLike<number | bigint>;
      shape = ids.shape;
    } else {
      values = ids;
      shape = [ids.length];
    }
    const d = this.embeddingDim;
    const out = new Float32Array(values.length * d);
    for (let i = 0; i < values.length; i++) {
      const id = Number(values[i]);
      if (!(Number.isInteger(id) && id >= 0 && id < this.numEmbeddings)) {
        throw new ShapeError(`Embedding.forward: ids[${i}] = ${String(values[i])} is out of range; expected an integer in [0, ${this.numEmbeddings})`);
      }
      out.set(this.weight.data.subarray(id * d, (id + 1) * d), i * d);
    }
    return new Tensor(out, [...shape, d], 'float32');
  }

  override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}${this.paddingIdx === null ? '' : `, padding_idx=${this.paddingIdx}`}`;
  }
}

/** Options of `LayerNorm` and `RMSNorm`, as PyTorch's `eps` and `elementwise_affine` (and LayerNorm's `bias`, PyTorch 2.1). */
export interface NormOptions {
  /** Added to the variance (LayerNorm, default 1e-5) or mean square (RMSNorm, default float32 eps). */
  eps?: number;
  /** Default true: learnable `weight` (ones) (and LayerNorm's `bias`, zeros). */
  elementwiseAffine?: boolean;
}

/**
 * `torch.nn.LayerNorm` over the last dimension: `(x - mean) / sqrt(var + eps) * weight + bias`, with
 * the biased variance; computed in float64 per row, rounded to float32.
 *
 * Shape: input (*, dim) -> output (*, dim); weight and bias (dim).
 *
 * Example:
 *   const ln = new LayerNorm(128);
 *   String(ln);   // 'LayerNorm((128,), eps=1e-05, elementwise_affine=True)'
 */
export class LayerNorm extends Module {
  /** `instanceof` also holds across the package's CommonJS and ES module builds (see `brandedInstanceCheck`). */
  static override readonly [Symbol.hasInstance] = /* @__PURE__ */ brandedInstanceCheck(this, 'LayerNorm');

  readonly normalizedShape: number[];
  readonly eps: number;
  readonly elementwiseAffine: boolean;
  readonly weight: Tensor<'float32'> | null;
  readonly bias: Tensor<'float32'> | null;

  constructor(normalizedShape: number | readonly number[], options: NormOptions = {}) {
    super();
    this.normalizedShape = checkNormalizedShape(normalizedShape, 'LayerNorm');
    this.eps = options.eps ?? 1e-5;
    this.elementwiseAffine = options.elementwiseAffine ?? true;
    const dim = this.normalizedShape[0];
    this.weight = this.elementwiseAffine ? new Tensor(new Float32Array(dim).fill(1), [dim], 'float32') : null;
    this.bias = this.elementwiseAffine ? Tensor.zeros([dim], 'float32') : null;
  }

  forward(x: Tensor): Tensor<'float32'> {
    const dim = this.normalizedShape[0];
    const rows = rowsOf(x, dim, 'LayerNorm');
    const src = x.data as Float32Array;
    const out = new Float32Array(src.length);
    const w = this.weight?.data;
    const b = this.bias?.data;
    for (let r = 0; r < rows; r++) {
      const base = r * dim;
      let mean = 0;
      for (let i = 0; i < dim; i++) mean += src[base + i];
      mean /= dim;
      let variance = 0;
      for (let i = 0; i < dim; i++) variance += (src[base + i] - mean) ** 2;
      const inv = 1 / Math.sqrt(variance / dim + this.eps);
      for (let i = 0; i < dim; i++) {
        const y = (src[base + i] - mean) * inv;
        out[base + i] = w === undefined || b === undefined ? y : y * w[i] + b[i];
      }
    }
    return new Tensor(out, x.shape, 'float32');
  }

  override extraRepr(): string {
    return `(${this.normalizedShape[0]},), eps=${pythonFloat(this.eps)}, elementwise_affine=${this.elementwiseAffine ? 'True' : 'False'}`;
  }
}

/**
 * RMSNorm over the last dimension, as Llama's `LlamaRMSNorm` and PyTorch 2.4's `nn.RMSNorm` (PyTorch
 * 1.13 has none): `x * rsqrt(mean(x²) + eps) * weight`, computed in float64 per row, rounded to
 * float32. The default eps is PyTorch's `eps=None`: float32's machine epsilon; it prints as PyTorch
 * 2.4 prints it, `eps=None` when none was given. Llama checkpoints give one (1e-5 or 1e-6).
 *
 * Shape: input (*, dim) -> output (*, dim); weight (dim).
 *
 * Example:
 *   const norm = new RMSNorm(128, { eps: 1e-5 });
 *   String(norm);   // 'RMSNorm((128,), eps=1e-05, elementwise_affine=True)'
 */
export class RMSNorm extends Module {
  /** `instanceof` also holds across the package's CommonJS and ES module builds (see `brandedInstanceCheck`). */
  static override readonly [Symbol.hasInstance] = /* @__PURE__ */ brandedInstanceCheck(this, 'RMSNorm');

  readonly normalizedShape: number[];
  /** The eps given, or null (printed `None`; float32 eps is used). */
  readonly eps: number | null;
  readonly elementwiseAffine: boolean;
  readonly weight: Tensor<'float32'> | null;

  constructor(normalizedShape: number | readonly number[], options: NormOptions = {}) {
    super();
    this.normalizedShape = checkNormalizedShape(normalizedShape, 'RMSNorm');
    this.eps = options.eps ?? null;
    this.elementwiseAffine = options.elementwiseAffine ?? true;
    const dim = this.normalizedShape[0];
    this.weight = this.elementwiseAffine ? new Tensor(new Float32Array(dim).fill(1), [dim], 'float32') : null;
  }

  forward(x: Tensor): Tensor<'float32'> {
    const dim = this.normalizedShape[0];
    const rows = rowsOf(x, dim, 'RMSNorm');
    const src = x.data as Float32Array;
    const out = new Float32Array(src.length);
    const w = this.weight?.data;
    const eps = this.eps ?? FLOAT32_EPS;
    for (let r = 0; r < rows; r++) {
      const base = r * dim;
      let sq = 0;
      for (let i = 0; i < dim; i++) sq += src[base + i] * src[base + i];
      const inv = 1 / Math.sqrt(sq / dim + eps);
      for (let i = 0; i < dim; i++) out[base + i] = w === undefined ? src[base + i] * inv : src[base + i] * inv * w[i];
    }
    return new Tensor(out, x.shape, 'float32');
  }

  override extraRepr(): string {
    return `(${this.normalizedShape[0]},), eps=${this.eps === null ? 'None' : pythonFloat(this.eps)}, elementwise_affine=${this.elementwiseAffine ? 'True' : 'False'}`;
  }
}

/** An elementwise activation: applies `fn` (in float64, rounded to float32) to every element. */
abstract class Elementwise extends Module {
  protected abstract fn(x: number): number;

  forward(x: Tensor): Tensor<'float32'> {
    const src = checkFloat(x, this.constructor.name, '(*)');
    const out = new Float32Array(src.length);
    for (let i = 0; i < src.length; i++) out[i] = this.fn(src[i]);
    return new Tensor(out, x.shape, 'float32');
  }
}

/**
 * `torch.nn.ReLU`: max(0, x).
 *
 * Shape: any -> the same shape.
 *
 * Example:
 *   new ReLU().forward(new Tensor(new Float32Array([-1, 2]), [2])).data;   // [0, 2]
 */
export class ReLU extends Elementwise {
  /** `instanceof` also holds across the package's CommonJS and ES module builds (see `brandedInstanceCheck`). */
  static override readonly [Symbol.hasInstance] = /* @__PURE__ */ brandedInstanceCheck(this, 'ReLU');

  protected fn(x: number): number {
    return x > 0 ? x : 0;
  }
}

/**
 * `torch.nn.SiLU` (swish): x · sigmoid(x), the gate of Llama's SwiGLU MLP.
 *
 * Shape: any -> the same shape.
 *
 * Example:
 *   new SiLU().forward(new Tensor(new Float32Array([1]), [1])).data;   // [0.7310586]
 */
export class SiLU extends Elementwise {
  /** `instanceof` also holds across the package's CommonJS and ES module builds (see `brandedInstanceCheck`). */
  static override readonly [Symbol.hasInstance] = /* @__PURE__ */ brandedInstanceCheck(this, 'SiLU');

  protected fn(x: number): number {
    return x / (1 + Math.exp(-x));
  }
}

/**
 * erfc(a) for a >= 0 in float64 (about 1e-14 relative): the Taylor series of erf below 2.5, where its
 * terms stay below e^6.25 (few digits lost), else the continued fraction
 * erfc(a) = e^(-a²)/√π · 1/(a + 1/2/(a + 1/(a + 3/2/(a + ...)))) by the modified Lentz method.
 * Hand-written: the npm erf packages bring a hundred dependencies (@stdlib) or are unmaintained.
 */
function erfc(a: number): number {
  if (a < 2.5) {
    let term = a;
    let sum = a;
    const a2 = a * a;
    for (let n = 1; n < 80; n++) {
      term *= -a2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  // Lentz: f = b0 + a1/(b1 + a2/(b2 + ...)) with b = a, a_k = k/2.
  const tiny = 1e-300;
  let f = a;
  let c = a;
  let d = 0;
  for (let k = 1; k < 200; k++) {
    const ak = k / 2;
    d = a + ak * d;
    d = d === 0 ? tiny : 1 / d;
    c = a + ak / c;
    if (c === 0) c = tiny;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-a * a) / (Math.sqrt(Math.PI) * f);
}

/** GELU's two forms, as PyTorch's `approximate` argument. */
export type GeluApproximate = 'none' | 'tanh';

/**
 * `torch.nn.GELU`: x · Φ(x) = x/2 · (1 + erf(x/√2)) ('none', the default), or the tanh form
 * x/2 · (1 + tanh(√(2/π) · (x + 0.044715 x³))) ('tanh'). For x < 0 the exact form is computed as
 * x/2 · erfc(-x/√2), which keeps the small values of the left tail accurate.
 *
 * Shape: any -> the same shape.
 *
 * Example:
 *   String(new GELU({ approximate: 'tanh' }));   // "GELU(approximate='tanh')"
 */
export class GELU extends Elementwise {
  /** `instanceof` also holds across the package's CommonJS and ES module builds (see `brandedInstanceCheck`). */
  static override readonly [Symbol.hasInstance] = /* @__PURE__ */ brandedInstanceCheck(this, 'GELU');

  readonly approximate: GeluApproximate;

  constructor(options: { approximate?: GeluApproximate } = {}) {
    super();
    const a = options.approximate ?? 'none';
    if (a !== 'none' && a !== 'tanh') throw new ShapeError(`GELU: approximate must be 'none' or 'tanh', got '${String(a)}'`);
    this.approximate = a;
  }

  protected fn(x: number): number {
    if (this.approximate === 'tanh') return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    const a = x / Math.SQRT2;
    return a >= 0 ? 0.5 * x * (2 - erfc(a)) : 0.5 * x * erfc(-a);
  }

  override extraRepr(): string {
    return `approximate='${this.approximate}'`;
  }
}
