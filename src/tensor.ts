import { getFloat16, setFloat16 } from '@petamoriken/float16';
import { ShapeError, brandedInstanceCheck, describeValue, ownEntry } from './errors.js';

/**
 * Element types a Tensor can hold. float16/bfloat16 hold raw 16-bit patterns in a Uint16Array
 * (`toFloat32()` decodes them); int64 holds a BigInt64Array (safetensors I64, e.g. class labels).
 */
export type DType = 'float32' | 'int8' | 'float16' | 'bfloat16' | 'float64' | 'int32' | 'uint8' | 'int64';

/** The typed array that backs each dtype. */
export interface DataTypeMap {
  float32: Float32Array;
  int8: Int8Array;
  float16: Uint16Array;
  bfloat16: Uint16Array;
  float64: Float64Array;
  int32: Int32Array;
  uint8: Uint8Array;
  int64: BigInt64Array;
}

/** Any tensor's `data`: the typed array of one of the dtypes (see `DataTypeMap`). */
export type TensorData = DataTypeMap[DType];

/** Bytes per element of each dtype. */
export const DTYPE_BYTES: Readonly<Record<DType, number>> = {
  float32: 4,
  int8: 1,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int32: 4,
  uint8: 1,
  int64: 8,
};

/** A typed array class: made empty of a length, or as a view on bytes. */
export interface TypedArrayClass<T> {
  new (length: number): T;
  new (buffer: ArrayBuffer, byteOffset: number, length: number): T;
}

/** The typed array class that backs each dtype (float16/bfloat16: raw bits in a Uint16Array). */
export const TYPED_ARRAY_OF: Readonly<{ [D in DType]: TypedArrayClass<DataTypeMap[D]> }> = {
  float32: Float32Array,
  int8: Int8Array,
  float16: Uint16Array,
  bfloat16: Uint16Array,
  float64: Float64Array,
  int32: Int32Array,
  uint8: Uint8Array,
  int64: BigInt64Array,
};

/** The typed-array class of a dtype; any other string (also an inherited name such as 'toString') is a ShapeError. */
function arrayFor(dtype: DType): new (n: number) => TensorData {
  const Ctor = ownEntry(TYPED_ARRAY_OF, dtype);
  if (Ctor === undefined) {
    throw new ShapeError(`Tensor: dtype ${describeValue(dtype)} is not one of ${Object.keys(TYPED_ARRAY_OF).map((d) => `'${d}'`).join(', ')}`);
  }
  return Ctor;
}

function inferDType(data: TensorData): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof BigInt64Array) return 'int64';
  throw new ShapeError(
    `Tensor: cannot infer the dtype of ${describeValue(data)}; expected a typed array (Float32Array, Int8Array, ...); ` +
      `pass it explicitly, e.g. new Tensor(bits, shape, 'float16') for a Uint16Array of half-float bits`,
  );
}

/** Number of elements of a shape (1 for the scalar shape []). */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** '(1024, 1)': a shape written the way PyTorch prints torch.Size (dimensions past 2^53 as bigint, as a file may hold them). */
export function formatShape(shape: readonly (number | bigint)[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

/**
 * A dense, row-major, contiguous n-d array: `{ data, shape, dtype }`.
 *
 * The constructor checks that every dimension is a non-negative integer and that `data.length`
 * equals the product of the shape, so a Tensor is never inconsistent.
 *
 * Shape: any; `shape[0]` is the outermost (slowest-varying) dimension, as in PyTorch.
 *
 * Example:
 *   const x = new Tensor(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
 *   x.shape;  // [2, 3]
 *   x.dtype;  // 'float32'
 */
export class Tensor<D extends DType = DType> {
  /** `instanceof` also holds across the package's CommonJS and ES module builds (see `brandedInstanceCheck`). */
  static readonly [Symbol.hasInstance] = /* @__PURE__ */ brandedInstanceCheck(this, 'Tensor');

  readonly data: DataTypeMap[D];
  readonly shape: readonly number[];
  readonly dtype: D;

  constructor(data: DataTypeMap[D], shape: readonly number[], dtype?: D) {
    const inferred = dtype ?? (inferDType(data) as D);
    const Expected = arrayFor(inferred);
    if (!(data instanceof Expected)) {
      throw new ShapeError(`Tensor: dtype '${inferred}' needs a ${Expected.name}, got ${describeValue(data)}`);
    }
    if (!Array.isArray(shape)) {
      throw new ShapeError(`Tensor: shape must be an array of dimensions, e.g. [2, 3], got ${describeValue(shape)}`);
    }
    for (let i = 0; i < shape.length; i++) {
      const d = shape[i];
      if (!Number.isSafeInteger(d) || d < 0) {
        throw new ShapeError(
          `Tensor: shape [${shape.join(', ')}] has dimension ${i} = ${String(d)}; ` +
            `every dimension must be a non-negative integer`,
        );
      }
    }
    const n = numel(shape);
    if (data.length !== n) {
      throw new ShapeError(
        `Tensor: data has ${data.length} elements but shape [${shape.join(', ')}] needs ${n}; ` +
          `pass data of length ${n} or a shape whose product is ${data.length}`,
      );
    }
    this.data = data;
    this.shape = Object.freeze([...shape]);
    this.dtype = inferred;
  }

  /** A zero-filled tensor. */
  static zeros<D extends DType = 'float32'>(shape: readonly number[], dtype: D = 'float32' as D): Tensor<D> {
    return new Tensor(new (arrayFor(dtype))(numel(shape)) as DataTypeMap[D], shape, dtype);
  }

  /** Number of elements. */
  get size(): number {
    return this.data.length;
  }

  /** Number of dimensions. */
  get ndim(): number {
    return this.shape.length;
  }

  /** Bytes of element data (not counting this object). */
  get nbytes(): number {
    return this.data.length * DTYPE_BYTES[this.dtype];
  }

  /** A tensor of another shape over the same data (no copy), like PyTorch's `view`. */
  reshape(shape: readonly number[]): Tensor<D> {
    return new Tensor(this.data, shape, this.dtype);
  }

  /** A deep copy. */
  clone(): Tensor<D> {
    return new Tensor(this.data.slice() as DataTypeMap[D], this.shape, this.dtype);
  }

  /**
   * The values as float32, like PyTorch's `.float()`: this tensor itself when it is float32, else a
   * converted copy. float16 and bfloat16 bits decode exactly (every half value is a float32 value);
   * float64, int32 and int64 round to the nearest float32.
   *
   * Shape: same as this tensor.
   *
   * Example:
   *   new Tensor(new Uint16Array([0x3c00, 0xc000]), [2], 'float16').toFloat32().data;   // Float32Array [1, -2]
   */
  toFloat32(): Tensor<'float32'> {
    if (this.dtype === 'float32') return this as unknown as Tensor<'float32'>;
    const n = this.data.length;
    const out = new Float32Array(n);
    if (this.dtype === 'float16') {
      const bits = this.data as Uint16Array;
      const table = halfTable();
      for (let i = 0; i < n; i++) out[i] = table[bits[i]];
    } else if (this.dtype === 'bfloat16') {
      // bfloat16 is the high half of a float32: shift the bits into place, no rounding involved.
      const bits = this.data as Uint16Array;
      const wide = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) wide[i] = bits[i] << 16;
    } else if (this.dtype === 'int64') {
      const v = this.data as BigInt64Array;
      for (let i = 0; i < n; i++) out[i] = Number(v[i]);
    } else {
      out.set(this.data as Exclude<TensorData, Uint16Array | BigInt64Array>);
    }
    return new Tensor(out, this.shape, 'float32');
  }

  /**
   * A float32 tensor rounded to float16 or bfloat16 bits, round-to-nearest-even as PyTorch's
   * `.half()` / `.bfloat16()` (values beyond float16's range become ±Inf; NaN stays NaN).
   *
   * Shape: same as this tensor.
   *
   * Example:
   *   new Tensor(new Float32Array([1, 0.1]), [2]).toHalf('bfloat16').data;   // Uint16Array [0x3f80, 0x3dcd]
   */
  toHalf(dtype: 'float16' | 'bfloat16'): Tensor<'float16' | 'bfloat16'> {
    if (this.dtype !== 'float32') {
      throw new ShapeError(`toHalf: needs a float32 tensor, got ${this.dtype}; call toFloat32() first`);
    }
    if (dtype !== 'float16' && dtype !== 'bfloat16') {
      throw new ShapeError(`toHalf: dtype ${describeValue(dtype)} is not one of 'float16', 'bfloat16'`);
    }
    const src = this.data as Float32Array;
    const n = src.length;
    const out = new Uint16Array(n);
    if (dtype === 'float16') {
      const view = new DataView(new ArrayBuffer(2));
      for (let i = 0; i < n; i++) {
        setFloat16(view, 0, src[i], true);
        out[i] = view.getUint16(0, true);
      }
    } else {
      const bits = new Uint32Array(src.buffer, src.byteOffset, n);
      for (let i = 0; i < n; i++) {
        const b = bits[i];
        // NaN keeps a quiet-NaN payload; otherwise add half an ulp (+1 on odd: ties to even) and truncate.
        out[i] = (b & 0x7fffffff) > 0x7f800000 ? (b >>> 16) | 0x40 : (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
      }
    }
    return new Tensor(out, this.shape, dtype);
  }

  toString(): string {
    return `Tensor(shape=${formatShape(this.shape)}, dtype=${this.dtype})`;
  }
}

/**
 * The fix to append to an error about `value`, where a float32 Tensor was needed: how to convert it
 * with `toFloat32()` (as PyTorch code calls `.float()` first: ATen's quantize refuses half tensors too),
 * or '' when `value` is not a Tensor of another dtype. `name` is what the caller calls the value.
 *
 * Example:
 *   toFloat32Hint(new Tensor(new Uint16Array(2), [2], 'float16'), 'weight');
 *   // '; call weight.toFloat32() first (exact: every float16 value is a float32 value)'
 */
export function toFloat32Hint(value: unknown, name: string): string {
  if (!(value instanceof Tensor) || value.dtype === 'float32') return '';
  const how = value.dtype === 'float16' || value.dtype === 'bfloat16' ? `exact: every ${value.dtype} value is a float32 value` : 'each value rounds to the nearest float32';
  return `; call ${name}.toFloat32() first (${how})`;
}

let HALF_TABLE: Float32Array | null = null;

/** float32 value of every float16 bit pattern (256 KiB, built once on first use). */
function halfTable(): Float32Array {
  if (HALF_TABLE === null) {
    const table = new Float32Array(65536);
    const view = new DataView(new ArrayBuffer(2));
    for (let b = 0; b < 65536; b++) {
      view.setUint16(0, b, true);
      table[b] = getFloat16(view, 0, true);
    }
    HALF_TABLE = table;
  }
  return HALF_TABLE;
}
