import { FormatError, brandedInstanceCheck, describeValue } from '../errors.js';
import { DTYPE_BYTES, TYPED_ARRAY_OF, Tensor, type DType, type DataTypeMap, type TypedArrayClass } from '../tensor.js';
import { JsonNumber, JsonObject, JsonSyntaxError, LONE_SURROGATE, parseStrictJson, type JsonValue } from './json-strict.js';

/**
 * Every safetensors dtype the reference crate knows (`safetensors::tensor::Dtype`), in its enum
 * order (increasing alignment); the writer sorts tensors by this order, descending, then by name,
 * exactly as `safetensors::tensor::prepare`.
 */
export const SAFETENSORS_DTYPES = [
  'BOOL', 'F4', 'F6_E2M3', 'F6_E3M2', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'F8_E8M0', 'F8_E4M3FNUZ', 'F8_E5M2FNUZ',
  'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'C64', 'F64', 'I64', 'U64',
] as const;

/** A dtype name of the safetensors format ('F32', 'I8', ...); see `SAFETENSORS_DTYPES`. */
export type SafetensorsDType = (typeof SAFETENSORS_DTYPES)[number];

/** Bits per element of each safetensors dtype (`Dtype::bitsize`: F4 is 4, F6_* are 6, C64 is 64). */
export const SAFETENSORS_DTYPE_BITS: Readonly<Record<SafetensorsDType, number>> = {
  BOOL: 8, F4: 4, F6_E2M3: 6, F6_E3M2: 6, U8: 8, I8: 8, F8_E5M2: 8, F8_E4M3: 8, F8_E8M0: 8, F8_E4M3FNUZ: 8, F8_E5M2FNUZ: 8,
  I16: 16, U16: 16, F16: 16, BF16: 16, I32: 32, U32: 32, F32: 32, C64: 64, F64: 64, I64: 64, U64: 64,
};

/** Bytes per element of each safetensors dtype: bits / 8, so fractional for F4 (0.5) and F6_* (0.75). */
export const SAFETENSORS_DTYPE_BYTES: Readonly<Record<SafetensorsDType, number>> = Object.fromEntries(
  SAFETENSORS_DTYPES.map((d) => [d, SAFETENSORS_DTYPE_BITS[d] / 8]),
) as Record<SafetensorsDType, number>;

const DTYPE_SET: ReadonlySet<string> = new Set(SAFETENSORS_DTYPES);

/** The safetensors dtype each Tensor dtype is stored as. */
export const SAFETENSORS_DTYPE_OF: Readonly<Record<DType, SafetensorsDType>> = {
  float32: 'F32', int8: 'I8', float16: 'F16', bfloat16: 'BF16', float64: 'F64', int32: 'I32', uint8: 'U8', int64: 'I64',
};

const TENSOR_DTYPE_OF: Readonly<Partial<Record<SafetensorsDType, DType>>> = Object.fromEntries(
  Object.entries(SAFETENSORS_DTYPE_OF).map(([k, v]) => [v, k]),
);

/** The reference crate's limit on the JSON header (`MAX_HEADER_SIZE`). */
export const MAX_HEADER_SIZE = 100_000_000;

const U64_MAX = (1n << 64n) - 1n;

/**
 * The rules a safetensors file can break, named as the reference crate's `SafeTensorError` variants,
 * plus three this library adds: `DuplicateKey` (a tensor name or metadata key twice, which the crate
 * accepts keeping the last), `InvalidName` (the writer: a name that is not valid Unicode, or
 * `__metadata__`) and `UnsupportedDtype` (a Tensor dtype with no safetensors dtype).
 */
export type SafetensorsRule =
  | 'HeaderTooSmall'
  | 'HeaderTooLarge'
  | 'InvalidHeaderLength'
  | 'InvalidHeader'
  | 'InvalidHeaderDeserialization'
  | 'DuplicateKey'
  | 'InvalidOffset'
  | 'ValidationOverflow'
  | 'MisalignedSlice'
  | 'TensorInvalidInfo'
  | 'MetadataIncompleteBuffer'
  | 'UnsupportedDtype'
  | 'InvalidName';

/**
 * A safetensors file (or a tensor set to write) breaks a rule. `rule` is the reference crate's
 * error name; `tensor` is the tensor it concerns, or null for the header as a whole.
 *
 * Example:
 *   try { readSafetensors(bytes); }
 *   catch (e) { if (e instanceof SafetensorsFormatError) console.error(e.rule, e.tensor, e.message); }
 */
export class SafetensorsFormatError extends FormatError {
  /** `instanceof` also holds across the package's CommonJS and ES module builds (see `brandedInstanceCheck`). */
  static override readonly [Symbol.hasInstance] = /* @__PURE__ */ brandedInstanceCheck(this, 'SafetensorsFormatError');

  constructor(
    readonly rule: SafetensorsRule,
    readonly tensor: string | null,
    readonly detail: string,
    /** The file it concerns, when known (the Node helpers set it). */
    readonly file: string | null = null,
  ) {
    super(`${file === null ? 'safetensors' : file}: ${tensor === null ? 'header' : `tensor ${JSON.stringify(tensor)}`}: ${rule}: ${detail}`);
  }

  /** The same error, naming `file`. */
  inFile(file: string): SafetensorsFormatError {
    return new SafetensorsFormatError(this.rule, this.tensor, this.detail, file);
  }
}

/** Where one tensor lives in a file. Offsets are relative to the data section (after the header). */
export interface SafetensorsEntry {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  /** The dimensions as numbers (exact up to 2^53 - 1; see `exactShape`). */
  readonly shape: readonly number[];
  /**
   * Present only when a dimension is above 2^53 - 1, which the format allows in a tensor with zero
   * elements (another dimension is 0): the shape exactly as written; `shape` then holds the nearest doubles.
   */
  readonly exactShape?: readonly bigint[];
  /** [begin, end) in bytes from the start of the data section. */
  readonly dataOffsets: readonly [number, number];
}

/** A validated header: the tensors in file order (by offset) and the `__metadata__` strings. */
export interface SafetensorsHeader {
  /** Bytes of the JSON header (the little-endian u64 at the start of the file). */
  readonly headerSize: number;
  /** Byte position of the data section in the file: 8 + headerSize. */
  readonly dataStart: number;
  readonly entries: readonly SafetensorsEntry[];
  /** `__metadata__` (string to string, null-prototype), or null when the file has none. */
  readonly metadata: Record<string, string> | null;
}

/**
 * Checks the first 8 bytes of a file of `fileSize` bytes and returns the header length N,
 * with the reference crate's rules: file >= 8 bytes; N <= 100,000,000; 8 + N <= file size.
 *
 * Example:
 *   const n = readHeaderSize(bytes.subarray(0, 8), bytes.length);   // then parse bytes[8, 8 + n)
 */
/**
 * What a file that fails the first checks probably is, from its first bytes: a hint for the error.
 * PyTorch's `torch.save` writes a zip archive (`PK\x03\x04`) or, before 1.6, a bare pickle
 * (protocol 2+ starts with 0x80); a sharded checkpoint's `*.safetensors.index.json` is JSON.
 */
export function notSafetensorsHint(prefix: Uint8Array): string {
  if (prefix[0] === 0x50 && prefix[1] === 0x4b) {
    return 'this is a zip archive, as PyTorch\'s torch.save writes (pytorch_model.bin, *.pt): not a safetensors file; ' +
      'convert it to safetensors first (in Python: safetensors.torch.save_file(torch.load(path), "model.safetensors"))';
  }
  if (prefix[0] === 0x80) {
    return 'this is a Python pickle, as older PyTorch torch.save writes (pytorch_model.bin, *.pt): not a safetensors file; ' +
      'convert it to safetensors first (in Python: safetensors.torch.save_file(torch.load(path), "model.safetensors"))';
  }
  let i = 0;
  while (i < prefix.length && (prefix[i] === 0x20 || prefix[i] === 0x0a || prefix[i] === 0x0d || prefix[i] === 0x09)) i++;
  if (prefix[i] === 0x7b || prefix[i] === 0x5b) {
    return 'this is JSON, not a safetensors file; a sharded checkpoint\'s *.safetensors.index.json only lists ' +
      'which shard holds each tensor (its weight_map): open the shard files it names instead';
  }
  return 'not a safetensors file (a safetensors file starts with the little-endian u64 length of its JSON header)';
}

/**
 * Checks the first 8 bytes of a file of `fileSize` bytes and returns the header length N,
 * with the reference crate's rules: file >= 8 bytes; N <= 100,000,000; 8 + N <= file size.
 * A file that fails them gets a hint of what it is (`notSafetensorsHint`).
 *
 * Example:
 *   const n = readHeaderSize(bytes.subarray(0, 8), bytes.length);   // then parse bytes[8, 8 + n)
 */
export function readHeaderSize(prefix: Uint8Array, fileSize: number): number {
  if (fileSize < 8 || prefix.length < 8) {
    throw new SafetensorsFormatError(
      'HeaderTooSmall',
      null,
      `the file has ${fileSize} bytes; a safetensors file starts with an 8-byte header length${fileSize > 0 ? `: ${notSafetensorsHint(prefix)}` : ''}`,
    );
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_SIZE)) {
    throw new SafetensorsFormatError('HeaderTooLarge', null, `${notSafetensorsHint(prefix)} (read as a header length, its first 8 bytes give ${n}, above the limit of ${MAX_HEADER_SIZE})`);
  }
  if (8n + n > BigInt(fileSize)) {
    throw new SafetensorsFormatError(
      'InvalidHeaderLength',
      null,
      `header length ${n} needs ${8n + n} bytes but the file has ${fileSize}: the file is truncated, or ${notSafetensorsHint(prefix)}`,
    );
  }
  return Number(n);
}

function shown(v: JsonValue | undefined): string {
  if (v === undefined) return '(missing field)';
  if (v instanceof JsonNumber) return v.raw;
  if (v instanceof JsonObject) return 'an object';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  return JSON.stringify(v);
}

function deserialization(name: string | null, detail: string): SafetensorsFormatError {
  return new SafetensorsFormatError('InvalidHeaderDeserialization', name, detail);
}

/** A `usize` as serde_json reads one: a non-negative integer literal below 2^64 (`2.0`, `1e2`, `-0` are floats). */
function usize(v: JsonValue | undefined, name: string, field: string): bigint {
  if (v instanceof JsonNumber && /^(0|[1-9][0-9]*)$/.test(v.raw)) {
    const b = BigInt(v.raw);
    if (b <= U64_MAX) return b;
  }
  throw deserialization(name, `${field} holds ${shown(v)}; expected an integer in [0, 2^64)`);
}

function usizeArray(v: JsonValue | undefined, name: string, field: string, length?: number): bigint[] {
  if (!Array.isArray(v) || (length !== undefined && v.length !== length)) {
    throw deserialization(name, `${field} holds ${shown(v)}; expected an array of ${length ?? 'any number of'} non-negative integers`);
  }
  return v.map((x, i) => usize(x, name, `${field}[${i}]`));
}

interface RawEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: bigint[];
  begin: bigint;
  end: bigint;
}

/** A `Dtype` as serde reads a unit enum variant: `"F32"`, or the externally tagged `{"F32": null}`. */
function parseDtype(v: JsonValue | undefined, name: string): SafetensorsDType {
  let tag: JsonValue | undefined = v;
  if (v instanceof JsonObject && v.pairs.length === 1 && v.pairs[0][1] === null) tag = v.pairs[0][0];
  if (typeof tag !== 'string' || !DTYPE_SET.has(tag)) {
    throw deserialization(name, `unknown dtype ${typeof tag === 'string' ? JSON.stringify(tag) : shown(v)}; expected one of ${SAFETENSORS_DTYPES.join(', ')}`);
  }
  return tag as SafetensorsDType;
}

const ENTRY_FIELDS = ['dtype', 'shape', 'data_offsets'] as const;

/**
 * One `TensorInfo` as serde's derived Deserialize reads it: an object with the three fields (each at
 * most once; other fields ignored) or a sequence `[dtype, shape, data_offsets]`.
 */
function parseEntry(name: string, v: JsonValue): RawEntry {
  let fields: (JsonValue | undefined)[];
  if (Array.isArray(v)) {
    if (v.length !== 3) throw deserialization(name, `the entry is an array of ${v.length}; expected [dtype, shape, data_offsets] or an object`);
    fields = v;
  } else if (v instanceof JsonObject) {
    fields = [undefined, undefined, undefined];
    for (const [k, x] of v.pairs) {
      const i = (ENTRY_FIELDS as readonly string[]).indexOf(k);
      if (i < 0) continue;
      if (fields[i] !== undefined) throw deserialization(name, `duplicate field ${k}`);
      fields[i] = x;
    }
  } else {
    throw deserialization(name, `the entry is ${shown(v)}; expected an object { dtype, shape, data_offsets }`);
  }
  const dtype = parseDtype(fields[0], name);
  const shape = usizeArray(fields[1], name, 'shape');
  const [begin, end] = usizeArray(fields[2], name, 'data_offsets', 2);
  return { name, dtype, shape, begin, end };
}

/** `__metadata__`: null, or an object of strings; returns it and the first duplicate key, if any. */
function parseMetadata(v: JsonValue): { metadata: Record<string, string> | null; duplicate: string | null } {
  if (v === null) return { metadata: null, duplicate: null };
  if (!(v instanceof JsonObject)) throw deserialization('__metadata__', `__metadata__ is ${shown(v)}; expected an object mapping strings to strings`);
  const out: Record<string, string> = Object.create(null);
  let duplicate: string | null = null;
  for (const [k, val] of v.pairs) {
    if (typeof val !== 'string') {
      throw deserialization('__metadata__', `__metadata__[${JSON.stringify(k)}] is ${shown(val)}; metadata values must be strings (JSON-encode structured values)`);
    }
    if (duplicate === null && Object.hasOwn(out, k)) duplicate = k;
    out[k] = val;
  }
  return { metadata: out, duplicate };
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A hint when a header that fails to parse does not even start like a JSON object. */
function notJsonHint(text: string): string {
  return /^[ \t\n\r]*\{/.test(text) ? '' : `; ${notSafetensorsHint(new TextEncoder().encode(text.slice(0, 8)))}`;
}

/**
 * Parses and validates a header exactly as the reference crate (`SafeTensors::read_metadata`):
 * UTF-8 JSON (serde_json's grammar and its 127-level nesting limit); an object whose
 * `__metadata__` (at most once) is null or strings to strings and whose every other member is a
 * tensor entry (an object with `dtype`, `shape`, `data_offsets`, or the array
 * `[dtype, shape, data_offsets]`; a known dtype; non-negative integers below 2^64); then, with the
 * entries sorted by offsets: contiguous from 0 (no overlap, no hole; `InvalidOffset`), element
 * count times the dtype's bits below 2^64 (`ValidationOverflow`), a whole number of bytes
 * (`MisalignedSlice`, for F4/F6), `end - begin` equal to that (`TensorInfo`), and the last end equal
 * to the data section's length, `fileSize - 8 - headerBytes.length` (`MetadataIncompleteBuffer`).
 * One difference, by choice: a tensor name or metadata key twice is `DuplicateKey` (the crate keeps the last).
 *
 * Example:
 *   const n = readHeaderSize(bytes, bytes.length);
 *   const header = parseSafetensorsHeader(bytes.subarray(8, 8 + n), bytes.length);
 *   header.entries[0];   // { name, dtype: 'F32', shape: [128, 64], dataOffsets: [0, 32768] }
 */
export function parseSafetensorsHeader(headerBytes: Uint8Array, fileSize: number): SafetensorsHeader {
  let text: string;
  try {
    text = UTF8.decode(headerBytes);
  } catch {
    throw new SafetensorsFormatError('InvalidHeader', null, `the header is not valid UTF-8${notJsonHint('')}`);
  }
  let root: JsonValue;
  try {
    root = parseStrictJson(text);
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e;
    throw deserialization(null, `the header is not valid JSON: ${e.message}${notJsonHint(text)}`);
  }
  if (!(root instanceof JsonObject)) throw deserialization(null, `the header is ${shown(root)}; expected a JSON object${notJsonHint(text)}`);
  let metadata: Record<string, string> | null = null;
  let seenMetadata = false;
  let duplicate: string | null = null;
  const names = new Set<string>();
  const raw: RawEntry[] = [];
  for (const [name, v] of root.pairs) {
    if (name === '__metadata__') {
      if (seenMetadata) throw deserialization(null, 'duplicate field __metadata__');
      seenMetadata = true;
      const m = parseMetadata(v);
      metadata = m.metadata;
      if (m.duplicate !== null) duplicate ??= `__metadata__ key ${JSON.stringify(m.duplicate)}`;
      continue;
    }
    raw.push(parseEntry(name, v));
    if (names.has(name)) duplicate ??= `tensor ${JSON.stringify(name)}`;
    names.add(name);
  }
  if (duplicate !== null) {
    throw new SafetensorsFormatError(
      'DuplicateKey',
      null,
      `${duplicate} appears twice; readers disagree on which one counts (the Rust crate keeps the last, others the first), so this library refuses the file`,
    );
  }
  raw.sort((a, b) => (a.begin !== b.begin ? (a.begin < b.begin ? -1 : 1) : a.end < b.end ? -1 : a.end > b.end ? 1 : 0));
  let start = 0n;
  for (const e of raw) {
    if (e.begin !== start || e.end < e.begin) {
      throw new SafetensorsFormatError(
        'InvalidOffset',
        e.name,
        `data_offsets [${e.begin}, ${e.end}] but the data of the tensors before it ends at ${start}; ` +
          'offsets must be contiguous from 0, without overlap or hole',
      );
    }
    start = e.end;
    const nbits = checkedBits(e.name, e.dtype, e.shape);
    if (nbits % 8n !== 0n) {
      throw new SafetensorsFormatError('MisalignedSlice', e.name, `${e.dtype} shape [${e.shape.join(', ')}] is ${nbits} bits, not a whole number of bytes`);
    }
    if (e.end - e.begin !== nbits / 8n) {
      throw new SafetensorsFormatError(
        'TensorInvalidInfo',
        e.name,
        `data_offsets [${e.begin}, ${e.end}] span ${e.end - e.begin} bytes but ${e.dtype} shape [${e.shape.join(', ')}] needs ${nbits / 8n}`,
      );
    }
  }
  const dataLength = BigInt(fileSize) - 8n - BigInt(headerBytes.length);
  if (start !== dataLength) {
    throw new SafetensorsFormatError(
      'MetadataIncompleteBuffer',
      raw.length > 0 ? raw[raw.length - 1].name : null,
      `the tensors end at byte ${start} of the data section but it has ${dataLength} bytes; the file is truncated or has trailing data`,
    );
  }
  // Every offset is now <= the file size, so a safe integer; a dimension may still be huge when
  // another is 0 (the crate accepts that): such an entry keeps its exact shape beside the doubles.
  const entries = raw.map((e): SafetensorsEntry => {
    const shape = e.shape.map(Number);
    const dataOffsets: [number, number] = [Number(e.begin), Number(e.end)];
    return e.shape.some((d) => d > MAX_SAFE)
      ? { name: e.name, dtype: e.dtype, shape, exactShape: e.shape, dataOffsets }
      : { name: e.name, dtype: e.dtype, shape, dataOffsets };
  });
  return { headerSize: headerBytes.length, dataStart: 8 + headerBytes.length, entries, metadata };
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Element count times the dtype's bits, checked against u64 overflow at each step as `Metadata::validate`. */
function checkedBits(name: string, dtype: SafetensorsDType, shape: readonly bigint[]): bigint {
  let count = 1n;
  for (const d of shape) {
    count *= d;
    if (count > U64_MAX) throw new SafetensorsFormatError('ValidationOverflow', name, `shape [${shape.join(', ')}] has more than 2^64 - 1 elements`);
  }
  const nbits = count * BigInt(SAFETENSORS_DTYPE_BITS[dtype]);
  if (nbits > U64_MAX) throw new SafetensorsFormatError('ValidationOverflow', name, `shape [${shape.join(', ')}] of ${dtype} has more than 2^64 - 1 bits`);
  return nbits;
}

/**
 * Whether a tensor of this entry can be a Tensor: a dtype with a Tensor dtype (F32, F16, BF16, F64,
 * I8, U8, I32, I64) and every dimension a safe integer.
 *
 * Example:
 *   isTensorEntry({ name: 'm', dtype: 'BOOL', shape: [3], dataOffsets: [0, 3] });   // false: read it as a RawTensor
 */
export function isTensorEntry(entry: SafetensorsEntry): boolean {
  return TENSOR_DTYPE_OF[entry.dtype] !== undefined && entry.exactShape === undefined;
}

/**
 * A Tensor over `bytes` (the entry's data) itself, without a copy: `bytes.byteOffset` must be a
 * multiple of the element size (a fresh buffer always is). Throws UnsupportedDtype when
 * `isTensorEntry(entry)` is false.
 *
 * Shape: `entry.shape`.
 *
 * Example:
 *   tensorOverBytes({ name: 'b', dtype: 'F32', shape: [2], dataOffsets: [0, 8] }, new Uint8Array(8)).data;   // Float32Array(2)
 */
export function tensorOverBytes(entry: SafetensorsEntry, bytes: Uint8Array): Tensor {
  const dtype = TENSOR_DTYPE_OF[entry.dtype];
  if (dtype === undefined || entry.exactShape !== undefined) {
    throw new SafetensorsFormatError(
      'UnsupportedDtype',
      entry.name,
      (dtype === undefined
        ? `dtype ${entry.dtype} is valid safetensors but has no int8-linear Tensor dtype (supported: ${Object.keys(TENSOR_DTYPE_OF).join(', ')})`
        : `shape [${(entry.exactShape as readonly bigint[]).join(', ')}] has a dimension above 2^53 - 1, which no Tensor can hold`) +
        '; readSafetensors returns it in `raw` (dtype, shape, bytes), openSafetensors(...).readBytes reads its bytes',
    );
  }
  const Ctor = TYPED_ARRAY_OF[dtype] as TypedArrayClass<DataTypeMap[DType]>;
  return new Tensor(new Ctor(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.length / DTYPE_BYTES[dtype]) as DataTypeMap[DType], entry.shape, dtype);
}

/**
 * A Tensor over a copy of `bytes` (the entry's data), as `tensorOverBytes` (same errors).
 *
 * Shape: `entry.shape`.
 *
 * Example:
 *   tensorFromBytes({ name: 'b', dtype: 'F32', shape: [2], dataOffsets: [0, 8] }, bytes).data;   // Float32Array(2)
 */
export function tensorFromBytes(entry: SafetensorsEntry, bytes: Uint8Array): Tensor {
  if (!isTensorEntry(entry)) return tensorOverBytes(entry, bytes);
  // A fresh ArrayBuffer is aligned for every element size, whatever the file offset was.
  return tensorOverBytes(entry, bytes.slice());
}

/**
 * The bytes of a tensor's data, viewed without copying (little-endian, as safetensors stores them).
 *
 * Example:
 *   tensorBytes(new Tensor(new Float32Array([1]), [1]));   // Uint8Array [0, 0, 128, 63]
 */
export function tensorBytes(t: Tensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/**
 * A tensor kept as bytes: one whose dtype has no Tensor dtype (BOOL, F4, F6_*, F8_*, I16, U16, U32,
 * U64, C64) or whose shape has a dimension above 2^53 - 1 (legal when another is 0). Readable,
 * writable and copied byte for byte; never quantized.
 *
 * Shape: `shape`, exactly as in the file (a bigint only where a dimension is above 2^53 - 1).
 *
 * Example:
 *   const { raw } = readSafetensors(bytes);
 *   raw['mask'];   // { dtype: 'BOOL', shape: [3], bytes: Uint8Array [1, 0, 1] }
 *   writeSafetensors({ ...tensors, ...raw });   // the same file again
 */
export interface RawTensor {
  readonly dtype: SafetensorsDType;
  readonly shape: readonly (number | bigint)[];
  readonly bytes: Uint8Array;
}

/**
 * The RawTensor of an entry over `bytes` (its data, not copied).
 *
 * Shape: the entry's, exact (bigint only for dimensions above 2^53 - 1).
 *
 * Example:
 *   rawTensor({ name: 'm', dtype: 'BOOL', shape: [2], dataOffsets: [0, 2] }, new Uint8Array([1, 0]));   // { dtype: 'BOOL', shape: [2], bytes }
 */
export function rawTensor(entry: SafetensorsEntry, bytes: Uint8Array): RawTensor {
  const shape = entry.exactShape === undefined ? entry.shape : entry.exactShape.map((d) => (d > MAX_SAFE ? d : Number(d)));
  return { dtype: entry.dtype, shape, bytes };
}

/**
 * Reads a whole safetensors file from memory, validating it exactly as the reference Rust crate
 * does (see `parseSafetensorsHeader`); any violation is a SafetensorsFormatError (a FormatError)
 * naming the tensor and the rule. Tensors are copies, so `bytes` can be dropped afterwards.
 * Tensors of every dtype the crate knows are read: those a Tensor can hold in `tensors`, the others
 * (see `RawTensor`) in `raw`. Works in browsers (no Node APIs).
 *
 * Shape: every tensor keeps the shape stored in the file.
 *
 * Example:
 *   const { tensors, metadata } = readSafetensors(new Uint8Array(await (await fetch(url)).arrayBuffer()));
 *   tensors['fc1.weight'].shape;   // [128, 64]
 *   tensors['fc1.weight'].toFloat32();
 */
export function readSafetensors(source: Uint8Array | ArrayBuffer): {
  tensors: Record<string, Tensor>;
  raw: Record<string, RawTensor>;
  metadata: Record<string, string> | null;
} {
  const bytes = source instanceof ArrayBuffer ? new Uint8Array(source) : source;
  if (!(bytes instanceof Uint8Array)) {
    throw new FormatError(`readSafetensors: expected the bytes of a safetensors file (a Uint8Array or an ArrayBuffer), got ${describeValue(source)}`);
  }
  const n = readHeaderSize(bytes, bytes.length);
  const header = parseSafetensorsHeader(bytes.subarray(8, 8 + n), bytes.length);
  const tensors: Record<string, Tensor> = Object.create(null);
  const raw: Record<string, RawTensor> = Object.create(null);
  for (const e of header.entries) {
    const data = bytes.subarray(header.dataStart + e.dataOffsets[0], header.dataStart + e.dataOffsets[1]);
    if (isTensorEntry(e)) tensors[e.name] = tensorFromBytes(e, data);
    else raw[e.name] = rawTensor(e, data.slice());
  }
  return { tensors, raw, metadata: header.metadata };
}

/** What the writer needs to know of a tensor before its data: name, dtype, shape (bigint dimensions allowed, for those above 2^53 - 1). */
export interface SafetensorsSpec {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  readonly shape: readonly (number | bigint)[];
}

/** A planned file: the header bytes (8-byte length + padded JSON) and the entries in write order. */
export interface SafetensorsPlan {
  readonly header: Uint8Array;
  readonly entries: readonly SafetensorsEntry[];
  /** Total file size: header.length + the data section. */
  readonly fileSize: number;
}


function checkName(name: string, what: string): void {
  if (typeof name !== 'string' || LONE_SURROGATE.test(name)) {
    throw new SafetensorsFormatError('InvalidName', String(name), `${what} must be a string of valid Unicode (no lone surrogates)`);
  }
}

/** Compares by Unicode code point, which is UTF-8 byte order (Rust's `String` ordering). */
function codePointCompare(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i) as number;
    const y = b.codePointAt(i) as number;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

/** A spec's dimensions as exact integers; anything else is refused as the reader would refuse it. */
function specDims(s: SafetensorsSpec): bigint[] {
  if (!Array.isArray(s.shape)) throw deserialization(s.name, `the shape is ${String(s.shape)}; expected an array of non-negative integers`);
  return s.shape.map((d, i) => {
    if (typeof d === 'bigint' ? d >= 0n && d <= U64_MAX : Number.isSafeInteger(d) && d >= 0) return BigInt(d);
    throw deserialization(s.name, `shape[${i}] is ${String(d)}; expected an integer in [0, 2^64) (a bigint above 2^53 - 1)`);
  });
}

/**
 * Lays out a file as the reference crate's writer does: tensors sorted by dtype alignment
 * (descending, in `SAFETENSORS_DTYPES` order) then name; offsets contiguous from 0; `__metadata__`
 * first; the JSON padded with spaces to a multiple of 8 bytes so every tensor's data is 8-byte aligned.
 * Refuses, with the reader's rule, whatever the reader would refuse: a header above 100,000,000
 * bytes (`HeaderTooLarge`, as the crate's `serialize`), a shape that is not integers in [0, 2^64),
 * a size that overflows (or, in JS, passes 2^53 bytes), a sub-byte tensor that is not whole bytes.
 *
 * Example:
 *   const plan = planSafetensors([{ name: 'w', dtype: 'F32', shape: [2, 3] }]);
 *   plan.entries[0].dataOffsets;   // [0, 24]
 */
export function planSafetensors(specs: Iterable<SafetensorsSpec>, metadata: Readonly<Record<string, string>> | null = null): SafetensorsPlan {
  const sorted = [...specs];
  const seen = new Set<string>();
  for (const s of sorted) {
    checkName(s.name, 'a tensor name');
    if (s.name === '__metadata__') {
      throw new SafetensorsFormatError('InvalidName', s.name, "'__metadata__' is reserved for the metadata; rename the tensor");
    }
    if (seen.has(s.name)) throw new SafetensorsFormatError('DuplicateKey', s.name, 'two tensors have this name');
    seen.add(s.name);
    if (!DTYPE_SET.has(s.dtype)) {
      throw new SafetensorsFormatError('UnsupportedDtype', s.name, `unknown dtype ${JSON.stringify(s.dtype)}; expected one of ${SAFETENSORS_DTYPES.join(', ')}`);
    }
  }
  const rank = (d: SafetensorsDType): number => SAFETENSORS_DTYPES.indexOf(d);
  sorted.sort((a, b) => rank(b.dtype) - rank(a.dtype) || codePointCompare(a.name, b.name));
  const parts: string[] = [];
  if (metadata !== null) {
    const kv: string[] = [];
    for (const [k, v] of Object.entries(metadata)) {
      checkName(k, 'a metadata key');
      if (typeof v !== 'string') {
        throw new SafetensorsFormatError('InvalidHeaderDeserialization', '__metadata__', `metadata value of ${JSON.stringify(k)} is a ${typeof v}; values must be strings`);
      }
      checkName(v, 'a metadata value');
      kv.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
    }
    parts.push(`"__metadata__":{${kv.join(',')}}`);
  }
  let offset = 0n;
  const entries: SafetensorsEntry[] = [];
  for (const s of sorted) {
    const dims = specDims(s);
    const nbits = checkedBits(s.name, s.dtype, dims);
    if (nbits % 8n !== 0n) {
      throw new SafetensorsFormatError('MisalignedSlice', s.name, `${s.dtype} shape [${dims.join(', ')}] is ${nbits} bits, not a whole number of bytes; pad it to whole bytes`);
    }
    const begin = offset;
    offset += nbits / 8n;
    if (offset > MAX_SAFE) throw new SafetensorsFormatError('ValidationOverflow', s.name, `the data section would pass 2^53 - 1 bytes at this tensor, more than a JS file offset can address`);
    const shape = dims.map(Number);
    const dataOffsets: [number, number] = [Number(begin), Number(offset)];
    entries.push(dims.some((d) => d > MAX_SAFE) ? { name: s.name, dtype: s.dtype, shape, exactShape: dims, dataOffsets } : { name: s.name, dtype: s.dtype, shape, dataOffsets });
    parts.push(`${JSON.stringify(s.name)}:{"dtype":"${s.dtype}","shape":[${dims.join(',')}],"data_offsets":[${begin},${offset}]}`);
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded > MAX_HEADER_SIZE) {
    throw new SafetensorsFormatError(
      'HeaderTooLarge',
      null,
      `the header would be ${padded} bytes, above the format's limit of ${MAX_HEADER_SIZE} that every reader (this one and the Rust crate) enforces; ` +
        'nothing was written: shorten the metadata or split the tensors over several files',
    );
  }
  const header = new Uint8Array(8 + padded).fill(0x20, 8 + json.length);
  new DataView(header.buffer).setBigUint64(0, BigInt(padded), true);
  header.set(json, 8);
  return { header, entries, fileSize: header.length + Number(offset) };
}

/**
 * Checks a plan with the reader itself (`readHeaderSize` and `parseSafetensorsHeader` on its header),
 * and that its entries are the header's: what passes is a file `readSafetensors` reads. The
 * streaming writer calls it before it opens a file, so a hand-made plan cannot write a bad file either.
 *
 * Example:
 *   checkSafetensorsPlan(planSafetensors([{ name: 'w', dtype: 'F32', shape: [2, 3] }]));   // passes
 */
export function checkSafetensorsPlan(plan: SafetensorsPlan): void {
  const n = readHeaderSize(plan.header, plan.fileSize);
  if (plan.header.length !== 8 + n) {
    throw new SafetensorsFormatError('InvalidHeaderLength', null, `the plan's header has ${plan.header.length} bytes but its length field says 8 + ${n}`);
  }
  const parsed = parseSafetensorsHeader(plan.header.subarray(8), plan.fileSize).entries;
  const planned = [...plan.entries].sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  const same = (e: SafetensorsEntry, p: SafetensorsEntry): boolean => e.name === p.name && e.dataOffsets[0] === p.dataOffsets[0] && e.dataOffsets[1] === p.dataOffsets[1];
  if (planned.length !== parsed.length || planned.some((e, i) => !same(e, parsed[i]))) {
    throw new SafetensorsFormatError('InvalidOffset', null, "the plan's entries are not the tensors its header describes; make plans with planSafetensors");
  }
}

/** A tensor to write: a Tensor, or a RawTensor (dtype, shape, bytes) for the dtypes a Tensor cannot hold. */
function specOf(name: string, t: Tensor | RawTensor): SafetensorsSpec & { bytes: Uint8Array } {
  if (t instanceof Tensor) return { name, dtype: SAFETENSORS_DTYPE_OF[t.dtype], shape: t.shape, bytes: tensorBytes(t) };
  if (typeof t === 'object' && t !== null && t.bytes instanceof Uint8Array && typeof t.dtype === 'string') return { name, dtype: t.dtype, shape: t.shape, bytes: t.bytes };
  throw new SafetensorsFormatError('InvalidName', name, `the value is ${String(t)}; expected a Tensor or a RawTensor { dtype, shape, bytes }`);
}

/**
 * Serializes tensors (and optional string metadata) to safetensors bytes, byte-identical to the
 * reference crate's `serialize`: same tensor order, same JSON, same padding. Refuses (before
 * allocating the output) anything `readSafetensors` would refuse; see `planSafetensors`. Works in browsers.
 *
 * Shape: each tensor is stored with its own shape and dtype.
 *
 * Example:
 *   const bytes = writeSafetensors({ 'fc.weight': q.values, 'fc.weight_scale': q.scale }, { format: 'pt' });
 *   readSafetensors(bytes).tensors['fc.weight_scale'].shape;   // [1024, 1]
 */
export function writeSafetensors(
  tensors: Readonly<Record<string, Tensor | RawTensor>> | ReadonlyMap<string, Tensor | RawTensor>,
  metadata: Readonly<Record<string, string>> | null = null,
): Uint8Array {
  const list = (tensors instanceof Map ? [...tensors] : Object.entries(tensors)).map(([name, t]) => specOf(name, t));
  const plan = planSafetensors(list, metadata);
  const byName = new Map(list.map((s) => [s.name, s.bytes]));
  for (const e of plan.entries) {
    const bytes = byName.get(e.name) as Uint8Array;
    if (bytes.length !== e.dataOffsets[1] - e.dataOffsets[0]) {
      throw new SafetensorsFormatError('TensorInvalidInfo', e.name, `${bytes.length} bytes given but ${e.dtype} shape [${(e.exactShape ?? e.shape).join(', ')}] needs ${e.dataOffsets[1] - e.dataOffsets[0]}`);
    }
  }
  const out = new Uint8Array(plan.fileSize);
  out.set(plan.header, 0);
  for (const e of plan.entries) out.set(byName.get(e.name) as Uint8Array, plan.header.length + e.dataOffsets[0]);
  return out;
}
