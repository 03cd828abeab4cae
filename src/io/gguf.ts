import { FormatError } from '../errors.js';

/**
 * GGUF v3 containers, read and written as ggml does (docs/gguf.md, ggml/src/gguf.cpp), bytes in and
 * bytes out (no Node APIs). Layout, little-endian:
 *
 *   "GGUF" u32 version u64 n_tensors u64 n_kv
 *   n_kv x { string key, u32 type, value }            (an array: u32 item type, u64 count, items)
 *   n_tensors x { string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset }
 *   zero padding to `general.alignment` (default 32), then the data section: each tensor at its
 *   offset (relative to the section, a multiple of the alignment), zero-padded to the alignment.
 *
 * A string is a u64 byte length then UTF-8 bytes. Dimensions are innermost first: `ne[0]` is the
 * contiguous one, so a Linear weight of PyTorch shape (out, in) has `ne = [in, out]`; `shape` below
 * is always PyTorch's order, `ne` reversed.
 */

/** The rules a GGUF file can break; `GgufFormatError.rule` names the one broken. */
export type GgufRule =
  | 'InvalidMagic'
  | 'UnsupportedVersion'
  | 'Truncated'
  | 'TooMany'
  | 'StringTooLong'
  | 'InvalidUtf8'
  | 'EmptyKey'
  | 'DuplicateKey'
  | 'InvalidValueType'
  | 'InvalidValue'
  | 'InvalidAlignment'
  | 'InvalidName'
  | 'DuplicateTensor'
  | 'InvalidDimensions'
  | 'ValidationOverflow'
  | 'UnknownTensorType'
  | 'BlockMismatch'
  | 'InvalidOffset'
  | 'DataOutOfBounds';

/**
 * A GGUF file (or a tensor set to write) breaks a rule. `rule` names it; `where` is the metadata key
 * or tensor it concerns, or null for the file as a whole.
 *
 * Example:
 *   try { readGguf(bytes); }
 *   catch (e) { if (e instanceof GgufFormatError) console.error(e.rule, e.where, e.message); }
 */
export class GgufFormatError extends FormatError {
  constructor(
    readonly rule: GgufRule,
    readonly where: string | null,
    detail: string,
  ) {
    super(`gguf: ${where === null ? 'file' : where}: ${rule}: ${detail}`);
  }
}

/** "GGUF" as bytes. */
export const GGUF_MAGIC = Uint8Array.of(0x47, 0x47, 0x55, 0x46);
/** The version this library writes (it reads 2 and 3, which share one layout). */
export const GGUF_VERSION = 3;
/** Alignment when `general.alignment` is absent (ggml `GGUF_DEFAULT_ALIGNMENT`). */
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** ggml's limits (gguf.cpp): bytes of one string, items of one array. */
export const GGUF_MAX_STRING_LENGTH = 1024 * 1024 * 1024;
export const GGUF_MAX_ARRAY_ELEMENTS = 1024 * 1024 * 1024;
/** Tensor names are shorter than ggml's `GGML_MAX_NAME` (64 bytes, with the terminating NUL). */
export const GGML_MAX_NAME = 64;
/** Dimensions of a tensor at most (ggml `GGML_MAX_DIMS`). */
export const GGML_MAX_DIMS = 4;

/**
 * ggml tensor types by id: name, elements per block, bytes per block (ggml.c `type_traits`, sizes of
 * the block structs of ggml-common.h). Ids absent here (4, 5, 31-33, 36-38) were removed from ggml.
 */
export const GGML_TYPES: Readonly<Record<number, { readonly name: string; readonly blockSize: number; readonly typeSize: number }>> = {
  0: { name: 'f32', blockSize: 1, typeSize: 4 },
  1: { name: 'f16', blockSize: 1, typeSize: 2 },
  2: { name: 'q4_0', blockSize: 32, typeSize: 18 },
  3: { name: 'q4_1', blockSize: 32, typeSize: 20 },
  6: { name: 'q5_0', blockSize: 32, typeSize: 22 },
  7: { name: 'q5_1', blockSize: 32, typeSize: 24 },
  8: { name: 'q8_0', blockSize: 32, typeSize: 34 },
  9: { name: 'q8_1', blockSize: 32, typeSize: 36 },
  10: { name: 'q2_K', blockSize: 256, typeSize: 84 },
  11: { name: 'q3_K', blockSize: 256, typeSize: 110 },
  12: { name: 'q4_K', blockSize: 256, typeSize: 144 },
  13: { name: 'q5_K', blockSize: 256, typeSize: 176 },
  14: { name: 'q6_K', blockSize: 256, typeSize: 210 },
  15: { name: 'q8_K', blockSize: 256, typeSize: 292 },
  16: { name: 'iq2_xxs', blockSize: 256, typeSize: 66 },
  17: { name: 'iq2_xs', blockSize: 256, typeSize: 74 },
  18: { name: 'iq3_xxs', blockSize: 256, typeSize: 98 },
  19: { name: 'iq1_s', blockSize: 256, typeSize: 50 },
  20: { name: 'iq4_nl', blockSize: 32, typeSize: 18 },
  21: { name: 'iq3_s', blockSize: 256, typeSize: 110 },
  22: { name: 'iq2_s', blockSize: 256, typeSize: 82 },
  23: { name: 'iq4_xs', blockSize: 256, typeSize: 136 },
  24: { name: 'i8', blockSize: 1, typeSize: 1 },
  25: { name: 'i16', blockSize: 1, typeSize: 2 },
  26: { name: 'i32', blockSize: 1, typeSize: 4 },
  27: { name: 'i64', blockSize: 1, typeSize: 8 },
  28: { name: 'f64', blockSize: 1, typeSize: 8 },
  29: { name: 'iq1_m', blockSize: 256, typeSize: 56 },
  30: { name: 'bf16', blockSize: 1, typeSize: 2 },
  34: { name: 'tq1_0', blockSize: 256, typeSize: 54 },
  35: { name: 'tq2_0', blockSize: 256, typeSize: 66 },
  39: { name: 'mxfp4', blockSize: 32, typeSize: 17 },
  40: { name: 'nvfp4', blockSize: 64, typeSize: 36 },
  41: { name: 'q1_0', blockSize: 128, typeSize: 18 },
  42: { name: 'q2_0', blockSize: 64, typeSize: 18 },
};

/** ggml type ids this library names in code. */
export const GGML_TYPE = { F32: 0, F16: 1, Q8_0: 8, I8: 24, I16: 25, I32: 26, I64: 27, F64: 28, BF16: 30 } as const;

/** Metadata value types (`gguf_type`), by id; the names are ggml's (`GGUF_TYPE_NAME`). */
export const GGUF_VALUE_TYPES = ['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'f32', 'bool', 'str', 'arr', 'u64', 'i64', 'f64'] as const;

/** A scalar metadata type: every type but 'arr'. */
export type GgufScalarType = Exclude<(typeof GGUF_VALUE_TYPES)[number], 'arr'>;

/** One scalar: numbers for 8- to 32-bit integers and floats, bigint for 64-bit integers. */
export type GgufScalar = number | bigint | boolean | string;

/**
 * A metadata value with its GGUF type, so it is written back exactly as read. Arrays hold scalars
 * of one type (ggml refuses nested arrays, and so does this library).
 *
 * Example:
 *   const v: GgufValue = { type: 'u32', value: 32 };
 *   const tokens: GgufValue = { type: 'arr', itemType: 'str', value: ['<s>', '</s>'] };
 */
export type GgufValue =
  | { readonly type: 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64'; readonly value: number }
  | { readonly type: 'u64' | 'i64'; readonly value: bigint }
  | { readonly type: 'bool'; readonly value: boolean }
  | { readonly type: 'str'; readonly value: string }
  | { readonly type: 'arr'; readonly itemType: GgufScalarType; readonly value: readonly GgufScalar[] };

/** One tensor of a GGUF file. */
export interface GgufTensorInfo {
  readonly name: string;
  /** ggml type id (see `GGML_TYPES`) and its name ('q8_0', 'f32', ...). */
  readonly type: number;
  readonly typeName: string;
  /** Dimensions as stored, innermost first. */
  readonly ne: readonly number[];
  /** PyTorch order: `ne` reversed, so a Linear weight is (out, in). */
  readonly shape: readonly number[];
  /** Byte offset from the start of the data section. */
  readonly offset: number;
  readonly byteLength: number;
}

/** A validated GGUF file: metadata in file order, tensors in file order, and where the data starts. */
export interface GgufFile {
  readonly version: number;
  readonly alignment: number;
  readonly metadata: ReadonlyMap<string, GgufValue>;
  readonly tensors: readonly GgufTensorInfo[];
  /** Byte position of the data section in the file. */
  readonly dataStart: number;
  /** A view (no copy) of a tensor's bytes. */
  data(t: GgufTensorInfo): Uint8Array;
}

const SCALAR_BYTES: Readonly<Record<GgufScalarType, number>> = {
  u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, bool: 1, str: 8, u64: 8, i64: 8, f64: 8,
};

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const ENCODER = new TextEncoder();
/** A JS string that is not valid Unicode (UTF-8 cannot encode a lone surrogate; TextEncoder would replace it). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const I64_MAX = (1n << 63n) - 1n;

/** Smallest possible encodings, to bound counts by the bytes left: a kv (1-byte key, u8) and a tensor info. */
const MIN_KV_BYTES = 8 + 1 + 4 + 1;
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 4 + 8;

class Reader {
  pos = 0;
  private readonly view: DataView;
  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get left(): number {
    return this.bytes.length - this.pos;
  }
  need(n: number, where: string | null, what: string): void {
    if (n > this.left) {
      throw new GgufFormatError('Truncated', where, `${what} needs ${n} bytes at byte ${this.pos} but the file has ${this.left} left; the file is truncated or not GGUF`);
    }
  }
  u32(where: string | null, what: string): number {
    this.need(4, where, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  u64(where: string | null, what: string): bigint {
    this.need(8, where, what);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }
  string(where: string | null, what: string): string {
    const n = this.u64(where, `the length of ${what}`);
    if (n > BigInt(GGUF_MAX_STRING_LENGTH)) {
      throw new GgufFormatError('StringTooLong', where, `${what} is ${n} bytes long; ggml's limit is ${GGUF_MAX_STRING_LENGTH}`);
    }
    if (n > BigInt(this.left)) {
      throw new GgufFormatError('StringTooLong', where, `${what} is ${n} bytes long but the file has ${this.left} bytes left; the file is truncated or corrupt`);
    }
    const len = Number(n);
    let s: string;
    try {
      s = UTF8.decode(this.bytes.subarray(this.pos, this.pos + len));
    } catch {
      throw new GgufFormatError('InvalidUtf8', where, `${what} at byte ${this.pos} is not valid UTF-8`);
    }
    this.pos += len;
    return s;
  }
  scalar(type: GgufScalarType, where: string): GgufScalar {
    if (type === 'str') return this.string(where, 'a string value');
    const size = SCALAR_BYTES[type];
    this.need(size, where, `a ${type} value`);
    const v = this.view;
    const p = this.pos;
    this.pos += size;
    switch (type) {
      case 'u8': return v.getUint8(p);
      case 'i8': return v.getInt8(p);
      case 'u16': return v.getUint16(p, true);
      case 'i16': return v.getInt16(p, true);
      case 'u32': return v.getUint32(p, true);
      case 'i32': return v.getInt32(p, true);
      case 'f32': return v.getFloat32(p, true);
      case 'u64': return v.getBigUint64(p, true);
      case 'i64': return v.getBigInt64(p, true);
      case 'f64': return v.getFloat64(p, true);
      case 'bool': {
        const b = v.getUint8(p);
        // The spec: "Anything else is invalid" (ggml itself reads any non-zero byte as true).
        if (b > 1) throw new GgufFormatError('InvalidValue', where, `a bool is stored as byte ${b}; only 0 and 1 are valid`);
        return b === 1;
      }
    }
  }
}

function valueType(id: number, where: string, allowArray: boolean): (typeof GGUF_VALUE_TYPES)[number] {
  const t = GGUF_VALUE_TYPES[id];
  if (t === undefined || (t === 'arr' && !allowArray)) {
    throw new GgufFormatError(
      'InvalidValueType',
      where,
      `value type ${id} ${t === 'arr' ? '(an array of arrays, which ggml does not read)' : 'is unknown'}; expected 0..12 (${GGUF_VALUE_TYPES.join(', ')})`,
    );
  }
  return t;
}

function readValue(r: Reader, key: string): GgufValue {
  const type = valueType(r.u32(key, 'the value type'), key, true);
  if (type !== 'arr') return { type, value: r.scalar(type, key) } as GgufValue;
  const itemType = valueType(r.u32(key, 'the array item type'), key, false) as GgufScalarType;
  const n = r.u64(key, 'the array length');
  if (n > BigInt(GGUF_MAX_ARRAY_ELEMENTS) || n * BigInt(SCALAR_BYTES[itemType]) > BigInt(r.left)) {
    throw new GgufFormatError(
      'TooMany',
      key,
      `an array of ${n} ${itemType} items needs at least ${n * BigInt(SCALAR_BYTES[itemType])} bytes but the file has ${r.left} left (limit ${GGUF_MAX_ARRAY_ELEMENTS} items)`,
    );
  }
  const value: GgufScalar[] = new Array(Number(n));
  for (let i = 0; i < value.length; i++) value[i] = r.scalar(itemType, `${key}[${i}]`);
  return { type: 'arr', itemType, value };
}

/** `x` rounded up to a multiple of `a` (a power of two). */
function alignUp(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}

/**
 * Reads and validates a whole GGUF (v2 or v3, little-endian) file in memory, with ggml's rules
 * (gguf.cpp `gguf_init_from_reader`) and the spec's: magic; version 2 or 3 (1 and byte-swapped files
 * refused); counts bounded by the bytes left (never a huge allocation or a long loop); strings within
 * the file and ggml's 1 GiB limit, valid UTF-8; keys non-empty and unique; value types known, bools
 * 0 or 1, arrays not nested; `general.alignment` a u32 power of two; tensor names under 64 bytes and
 * unique; at most 4 dimensions, each < 2^63, the element count < 2^63; a known ggml type whose
 * block divides `ne[0]`; offsets exactly where ggml expects them (in order, each at the previous
 * tensor's padded end); every tensor's data inside the file. Any violation is a GgufFormatError
 * naming the rule and the key or tensor. Works in browsers.
 *
 * Shape: each tensor's `shape` is PyTorch's order (`ne` reversed).
 *
 * Example:
 *   const f = readGguf(new Uint8Array(await (await fetch(url)).arrayBuffer()));
 *   f.metadata.get('general.architecture');   // { type: 'str', value: 'llama' }
 *   f.tensors[0];                             // { name: 'token_embd.weight', typeName: 'q8_0', shape: [32000, 4096], ... }
 */
export function readGguf(bytes: Uint8Array): GgufFile {
  const r = new Reader(bytes);
  r.need(4, null, 'the magic "GGUF"');
  if (!GGUF_MAGIC.every((b, i) => bytes[i] === b)) {
    const shown = [...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new GgufFormatError('InvalidMagic', null, `the file starts with bytes ${shown}, not "GGUF" (47 47 55 46)`);
  }
  r.pos = 4;
  const version = r.u32(null, 'the version');
  if (version !== 2 && version !== 3) {
    const hint = (version & 0xffff) === 0 ? ' (a byte-swapped, big-endian file?)' : version === 1 ? ' (GGUF v1 is no longer supported by ggml)' : '';
    throw new GgufFormatError('UnsupportedVersion', null, `version ${version}${hint}; this library reads GGUF v2 and v3 (little-endian)`);
  }
  const nTensors = r.u64(null, 'the tensor count');
  const nKv = r.u64(null, 'the metadata count');
  if (nKv * BigInt(MIN_KV_BYTES) + nTensors * BigInt(MIN_TENSOR_INFO_BYTES) > BigInt(r.left)) {
    throw new GgufFormatError(
      'TooMany',
      null,
      `${nTensors} tensors and ${nKv} metadata pairs cannot fit in the ${r.left} bytes left (at least ${MIN_TENSOR_INFO_BYTES} and ${MIN_KV_BYTES} bytes each)`,
    );
  }
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < Number(nKv); i++) {
    const key = r.string(`metadata #${i}`, 'the key');
    if (key === '') throw new GgufFormatError('EmptyKey', `metadata #${i}`, 'a metadata key is empty');
    if (metadata.has(key)) throw new GgufFormatError('DuplicateKey', key, 'two metadata pairs have this key');
    metadata.set(key, readValue(r, key));
  }
  const alignValue = metadata.get('general.alignment');
  let alignment = GGUF_DEFAULT_ALIGNMENT;
  if (alignValue !== undefined) {
    if (alignValue.type !== 'u32' || alignValue.value === 0 || (alignValue.value & (alignValue.value - 1)) !== 0) {
      throw new GgufFormatError(
        'InvalidAlignment',
        'general.alignment',
        `is ${alignValue.type} ${String(alignValue.value)}; it must be a u32 power of two (32 by default)`,
      );
    }
    alignment = alignValue.value;
  }
  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  let expectedOffset = 0n;
  const raw: { info: Omit<GgufTensorInfo, 'offset'>; offset: bigint }[] = [];
  for (let i = 0; i < Number(nTensors); i++) {
    const name = r.string(`tensor #${i}`, 'the tensor name');
    const nameBytes = ENCODER.encode(name).length;
    if (nameBytes >= GGML_MAX_NAME) {
      throw new GgufFormatError('InvalidName', name, `the name is ${nameBytes} bytes; ggml allows at most ${GGML_MAX_NAME - 1}`);
    }
    if (names.has(name)) throw new GgufFormatError('DuplicateTensor', name, 'two tensors have this name');
    names.add(name);
    const nDims = r.u32(name, 'the number of dimensions');
    if (nDims > GGML_MAX_DIMS) throw new GgufFormatError('InvalidDimensions', name, `${nDims} dimensions; ggml allows at most ${GGML_MAX_DIMS}`);
    const ne: bigint[] = [];
    let count = 1n;
    for (let j = 0; j < nDims; j++) {
      const d = r.u64(name, `dimension ${j}`);
      if (d > I64_MAX) throw new GgufFormatError('InvalidDimensions', name, `dimension ${j} is ${d}; ggml reads dimensions as int64, so it must be below 2^63`);
      ne.push(d);
      count *= d;
    }
    if (count > I64_MAX) throw new GgufFormatError('ValidationOverflow', name, `ne [${ne.join(', ')}] has ${count} elements, more than ggml's int64 can count`);
    const type = r.u32(name, 'the tensor type');
    const traits = GGML_TYPES[type];
    if (traits === undefined) {
      throw new GgufFormatError('UnknownTensorType', name, `ggml type ${type} is unknown or was removed from ggml; known: ${Object.entries(GGML_TYPES).map(([k, v]) => `${k} ${v.name}`).join(', ')}`);
    }
    const ne0 = ne.length > 0 ? ne[0] : 1n;
    if (ne0 % BigInt(traits.blockSize) !== 0n) {
      throw new GgufFormatError('BlockMismatch', name, `a ${traits.name} row holds ${ne0} elements, not a multiple of its block of ${traits.blockSize}`);
    }
    const byteLength = (count / BigInt(traits.blockSize)) * BigInt(traits.typeSize);
    const offset = r.u64(name, 'the data offset');
    if (offset !== expectedOffset) {
      throw new GgufFormatError(
        'InvalidOffset',
        name,
        `data offset ${offset}; ggml expects ${expectedOffset}: tensors in file order, each at the previous one's end padded to ${alignment}`,
      );
    }
    expectedOffset = offset + BigInt(alignUp(Number(byteLength), alignment));
    if (byteLength > BigInt(bytes.length)) {
      throw new GgufFormatError('DataOutOfBounds', name, `${traits.name} ne [${ne.join(', ')}] needs ${byteLength} bytes, more than the whole file (${bytes.length})`);
    }
    const neNum = ne.map((d) => {
      if (d > BigInt(Number.MAX_SAFE_INTEGER)) throw new GgufFormatError('ValidationOverflow', name, `ne [${ne.join(', ')}] has a dimension above 2^53 - 1`);
      return Number(d);
    });
    raw.push({ info: { name, type, typeName: traits.name, ne: neNum, shape: [...neNum].reverse(), byteLength: Number(byteLength) }, offset });
  }
  // ggml seeks to the aligned start of the data section only when there are tensors.
  const dataStart = raw.length > 0 ? alignUp(r.pos, alignment) : r.pos;
  for (const { info, offset } of raw) {
    const end = BigInt(dataStart) + offset + BigInt(info.byteLength);
    if (end > BigInt(bytes.length)) {
      throw new GgufFormatError(
        'DataOutOfBounds',
        info.name,
        `its data [${BigInt(dataStart) + offset}, ${end}) ends past the end of the file (${bytes.length} bytes); the file is truncated`,
      );
    }
    tensors.push({ ...info, offset: Number(offset) });
  }
  return {
    version,
    alignment,
    metadata,
    tensors,
    dataStart,
    data: (t) => bytes.subarray(dataStart + t.offset, dataStart + t.offset + t.byteLength),
  };
}

/** A tensor to write: PyTorch-order shape, ggml type id, and its bytes in ggml's layout. */
export interface GgufTensorSpec {
  readonly name: string;
  readonly type: number;
  /** PyTorch order; written as `ne` = shape reversed, `n_dims` = shape.length. */
  readonly shape: readonly number[];
  readonly data: Uint8Array;
}

class Writer {
  private chunks: Uint8Array[] = [];
  size = 0;
  private push(b: Uint8Array): void {
    this.chunks.push(b);
    this.size += b.length;
  }
  bytes(b: Uint8Array): void {
    this.push(b);
  }
  private fixed(n: number, f: (v: DataView) => void): void {
    const b = new Uint8Array(n);
    f(new DataView(b.buffer));
    this.push(b);
  }
  u32(v: number): void {
    this.fixed(4, (d) => d.setUint32(0, v, true));
  }
  u64(v: number | bigint): void {
    this.fixed(8, (d) => d.setBigUint64(0, BigInt(v), true));
  }
  string(s: string): void {
    const b = ENCODER.encode(s);
    this.u64(b.length);
    this.push(b);
  }
  scalar(type: GgufScalarType, v: GgufScalar): void {
    if (type === 'str') return this.string(v as string);
    this.fixed(SCALAR_BYTES[type], (d) => {
      switch (type) {
        case 'u8': return d.setUint8(0, v as number);
        case 'i8': return d.setInt8(0, v as number);
        case 'u16': return d.setUint16(0, v as number, true);
        case 'i16': return d.setInt16(0, v as number, true);
        case 'u32': return d.setUint32(0, v as number, true);
        case 'i32': return d.setInt32(0, v as number, true);
        case 'f32': return d.setFloat32(0, v as number, true);
        case 'u64': return d.setBigUint64(0, v as bigint, true);
        case 'i64': return d.setBigInt64(0, v as bigint, true);
        case 'f64': return d.setFloat64(0, v as number, true);
        case 'bool': return d.setUint8(0, v ? 1 : 0);
      }
    });
  }
  pad(alignment: number): void {
    const n = alignUp(this.size, alignment) - this.size;
    if (n > 0) this.push(new Uint8Array(n));
  }
  concat(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

const INT_RANGES: Readonly<Partial<Record<GgufScalarType, readonly [number, number]>>> = {
  u8: [0, 255], i8: [-128, 127], u16: [0, 65535], i16: [-32768, 32767], u32: [0, 2 ** 32 - 1], i32: [-(2 ** 31), 2 ** 31 - 1],
};

function checkScalar(type: GgufScalarType, v: unknown, where: string): void {
  const range = INT_RANGES[type];
  const ok =
    range !== undefined
      ? Number.isInteger(v) && (v as number) >= range[0] && (v as number) <= range[1]
      : type === 'f32' || type === 'f64'
        ? typeof v === 'number'
        : type === 'u64'
          ? typeof v === 'bigint' && v >= 0n && v < 1n << 64n
          : type === 'i64'
            ? typeof v === 'bigint' && v >= -(1n << 63n) && v <= I64_MAX
            : type === 'bool'
              ? typeof v === 'boolean'
              : typeof v === 'string' && !LONE_SURROGATE.test(v);
  if (!ok) throw new GgufFormatError('InvalidValue', where, `${typeof v} ${String(v)} is not a valid ${type} value`);
}

/**
 * Serializes metadata and tensors to a GGUF v3 file, laid out as ggml's `gguf_write_to_buf`: the
 * header, the metadata in the given order, the tensor infos in the given order, zero padding to the
 * alignment (`general.alignment` if given, else 32), then each tensor's data zero-padded to the
 * alignment. Everything is checked first (value types and ranges, tensor names under 64 bytes and
 * unique, at most 4 dimensions, the data length of each ggml type and shape); a GgufFormatError
 * means nothing was produced. Works in browsers.
 *
 * Shape: each tensor's `shape` is PyTorch's order; the file stores it reversed (`ne`).
 *
 * Example:
 *   const bytes = writeGguf(new Map([['general.architecture', { type: 'str', value: 'llama' }]]),
 *     [{ name: 'output_norm.weight', type: GGML_TYPE.F32, shape: [4096], data: tensorBytes(norm) }]);
 */
export function writeGguf(metadata: ReadonlyMap<string, GgufValue>, tensors: readonly GgufTensorSpec[]): Uint8Array {
  const w = new Writer();
  w.bytes(GGUF_MAGIC);
  w.u32(GGUF_VERSION);
  w.u64(tensors.length);
  w.u64(metadata.size);
  let alignment = GGUF_DEFAULT_ALIGNMENT;
  for (const [key, v] of metadata) {
    if (typeof key !== 'string' || key === '') throw new GgufFormatError('EmptyKey', String(key), 'a metadata key must be a non-empty string');
    if (LONE_SURROGATE.test(key)) throw new GgufFormatError('InvalidUtf8', key, 'the key is not valid Unicode (a lone surrogate)');
    const typeId = GGUF_VALUE_TYPES.indexOf(v?.type);
    if (typeId < 0) throw new GgufFormatError('InvalidValueType', key, `value type ${JSON.stringify(v?.type)} is not one of ${GGUF_VALUE_TYPES.join(', ')}`);
    w.string(key);
    w.u32(typeId);
    if (v.type === 'arr') {
      const itemId = GGUF_VALUE_TYPES.indexOf(v.itemType);
      if (itemId < 0 || (v.itemType as string) === 'arr') throw new GgufFormatError('InvalidValueType', key, `array item type ${JSON.stringify(v.itemType)} must be a scalar type`);
      w.u32(itemId);
      w.u64(v.value.length);
      v.value.forEach((x, i) => {
        checkScalar(v.itemType, x, `${key}[${i}]`);
        w.scalar(v.itemType, x);
      });
    } else {
      checkScalar(v.type, v.value, key);
      w.scalar(v.type, v.value);
    }
    if (key === 'general.alignment') {
      if (v.type !== 'u32' || v.value === 0 || (v.value & (v.value - 1)) !== 0) {
        throw new GgufFormatError('InvalidAlignment', key, `is ${v.type} ${String(v.value)}; it must be a u32 power of two`);
      }
      alignment = v.value;
    }
  }
  const names = new Set<string>();
  let offset = 0;
  for (const t of tensors) {
    if (typeof t.name !== 'string' || LONE_SURROGATE.test(t.name)) throw new GgufFormatError('InvalidName', String(t.name), 'a tensor name must be a string of valid Unicode');
    const nameBytes = ENCODER.encode(t.name).length;
    if (nameBytes >= GGML_MAX_NAME) {
      throw new GgufFormatError('InvalidName', t.name, `the name is ${nameBytes} bytes; GGUF (ggml) allows at most ${GGML_MAX_NAME - 1}: rename the tensor`);
    }
    if (names.has(t.name)) throw new GgufFormatError('DuplicateTensor', t.name, 'two tensors have this name');
    names.add(t.name);
    const traits = GGML_TYPES[t.type];
    if (traits === undefined) throw new GgufFormatError('UnknownTensorType', t.name, `ggml type ${t.type} is unknown`);
    if (t.shape.length > GGML_MAX_DIMS || t.shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
      throw new GgufFormatError('InvalidDimensions', t.name, `shape [${t.shape.join(', ')}]: GGUF holds at most ${GGML_MAX_DIMS} non-negative dimensions`);
    }
    const ne = [...t.shape].reverse();
    const count = ne.reduce((a, d) => a * d, 1);
    if ((ne[0] ?? 1) % traits.blockSize !== 0) {
      throw new GgufFormatError('BlockMismatch', t.name, `a ${traits.name} row (ne[0] = ${ne[0]}) must be a multiple of ${traits.blockSize}`);
    }
    const need = (count / traits.blockSize) * traits.typeSize;
    if (t.data.length !== need) {
      throw new GgufFormatError('DataOutOfBounds', t.name, `${t.data.length} bytes of data but ${traits.name} shape [${t.shape.join(', ')}] needs ${need}`);
    }
    w.string(t.name);
    w.u32(ne.length);
    for (const d of ne) w.u64(d);
    w.u32(t.type);
    w.u64(offset);
    offset += alignUp(need, alignment);
  }
  w.pad(alignment);
  for (const t of tensors) {
    w.bytes(t.data);
    w.pad(alignment);
  }
  return w.concat();
}
