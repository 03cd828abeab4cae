import { FormatError, describeValue } from '../errors.js';
import { DTYPE_BYTES, Tensor, type DType, type DataTypeMap } from '../tensor.js';
import { JsonNumber, JsonSyntaxError, parseStrictJson, type JsonValue } from './json-strict.js';

/**
 * safetensors dtypes, in the reference crate's enum order (increasing alignment); the writer sorts
 * tensors by this order, descending, then by name, exactly as `safetensors::tensor::prepare`.
 */
export const SAFETENSORS_DTYPES = [
  'BOOL', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'F64', 'I64', 'U64',
] as const;

/** A dtype name of the safetensors format ('F32', 'I8', ...); see `SAFETENSORS_DTYPES`. */
export type SafetensorsDType = (typeof SAFETENSORS_DTYPES)[number];

/** Bytes per element of each safetensors dtype. */
export const SAFETENSORS_DTYPE_BYTES: Readonly<Record<SafetensorsDType, number>> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
};

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
 * The rules a safetensors file can break, named as the reference crate's `SafeTensorError` variants
 * (plus `DuplicateKey`, `InvalidName` and `UnsupportedDtype`, which this library adds).
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
  constructor(
    readonly rule: SafetensorsRule,
    readonly tensor: string | null,
    detail: string,
  ) {
    super(`safetensors: ${tensor === null ? 'header' : `tensor ${JSON.stringify(tensor)}`}: ${rule}: ${detail}`);
  }
}

/** Where one tensor lives in a file. Offsets are relative to the data section (after the header). */
export interface SafetensorsEntry {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
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
export function readHeaderSize(prefix: Uint8Array, fileSize: number): number {
  if (fileSize < 8 || prefix.length < 8) {
    throw new SafetensorsFormatError('HeaderTooSmall', null, `the file has ${fileSize} bytes; a safetensors file starts with an 8-byte header length`);
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_SIZE)) {
    throw new SafetensorsFormatError('HeaderTooLarge', null, `header length ${n} exceeds the limit of ${MAX_HEADER_SIZE} bytes`);
  }
  if (8n + n > BigInt(fileSize)) {
    throw new SafetensorsFormatError(
      'InvalidHeaderLength',
      null,
      `header length ${n} needs ${8n + n} bytes but the file has ${fileSize}; the file is truncated or not safetensors`,
    );
  }
  return Number(n);
}

function usize(v: JsonValue | undefined, name: string, field: string): bigint {
  if (v instanceof JsonNumber && /^(0|[1-9][0-9]*)$/.test(v.raw)) {
    const b = BigInt(v.raw);
    if (b <= U64_MAX) return b;
  }
  const shown = v instanceof JsonNumber ? v.raw : JSON.stringify(v instanceof Map ? Object.fromEntries(v) : v);
  throw new SafetensorsFormatError('InvalidHeaderDeserialization', name, `${field} holds ${shown}; expected an integer in [0, 2^64)`);
}

function usizeArray(v: JsonValue | undefined, name: string, field: string, length?: number): bigint[] {
  if (!Array.isArray(v) || (length !== undefined && v.length !== length)) {
    throw new SafetensorsFormatError(
      'InvalidHeaderDeserialization',
      name,
      `${field} must be an array of ${length ?? 'any number of'} non-negative integers${v === undefined ? ' (missing field)' : ''}`,
    );
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

function parseEntry(name: string, v: JsonValue): RawEntry {
  if (!(v instanceof Map)) {
    throw new SafetensorsFormatError('InvalidHeaderDeserialization', name, 'the entry must be an object { dtype, shape, data_offsets }');
  }
  const dtype = v.get('dtype');
  if (typeof dtype !== 'string' || !(SAFETENSORS_DTYPES as readonly string[]).includes(dtype)) {
    throw new SafetensorsFormatError(
      'InvalidHeaderDeserialization',
      name,
      `unknown dtype ${dtype === undefined ? '(missing field)' : JSON.stringify(dtype)}; expected one of ${SAFETENSORS_DTYPES.join(', ')}`,
    );
  }
  const shape = usizeArray(v.get('shape'), name, 'shape');
  const [begin, end] = usizeArray(v.get('data_offsets'), name, 'data_offsets', 2);
  return { name, dtype: dtype as SafetensorsDType, shape, begin, end };
}

function parseMetadata(v: JsonValue): Record<string, string> | null {
  if (v === null) return null;
  if (!(v instanceof Map)) {
    throw new SafetensorsFormatError('InvalidHeaderDeserialization', '__metadata__', '__metadata__ must be an object mapping strings to strings');
  }
  const out: Record<string, string> = Object.create(null);
  for (const [k, val] of v) {
    if (typeof val !== 'string') {
      throw new SafetensorsFormatError(
        'InvalidHeaderDeserialization',
        '__metadata__',
        `__metadata__[${JSON.stringify(k)}] is not a string; metadata values must be strings (JSON-encode structured values)`,
      );
    }
    out[k] = val;
  }
  return out;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Parses and validates a header exactly as the reference crate (`SafeTensors::read_metadata`):
 * UTF-8 JSON object; each entry a known dtype, an integer shape and two integer `data_offsets`;
 * `__metadata__` strings to strings (or null); duplicate keys rejected; entries sorted by offsets
 * must start at 0 and be contiguous (no overlap, no hole), each `end - begin` equal to its byte size
 * (element counts checked against u64 overflow), and the last end must equal the data section's
 * length, `fileSize - 8 - headerBytes.length`.
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
    throw new SafetensorsFormatError('InvalidHeader', null, 'the header is not valid UTF-8');
  }
  let root: JsonValue;
  try {
    root = parseStrictJson(text);
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e;
    const dup = /^duplicate key/.test(e.message);
    throw new SafetensorsFormatError(dup ? 'DuplicateKey' : 'InvalidHeaderDeserialization', null, `the header is not valid JSON: ${e.message}`);
  }
  if (!(root instanceof Map)) {
    throw new SafetensorsFormatError('InvalidHeaderDeserialization', null, 'the header must be a JSON object');
  }
  let metadata: Record<string, string> | null = null;
  const raw: RawEntry[] = [];
  for (const [name, v] of root) {
    if (name === '__metadata__') metadata = parseMetadata(v);
    else raw.push(parseEntry(name, v));
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
    let count = 1n;
    for (const d of e.shape) {
      count *= d;
      if (count > U64_MAX) {
        throw new SafetensorsFormatError('ValidationOverflow', e.name, `shape [${e.shape.join(', ')}] has more than 2^64 elements`);
      }
    }
    const nbytes = count * BigInt(SAFETENSORS_DTYPE_BYTES[e.dtype]);
    if (nbytes > U64_MAX) {
      throw new SafetensorsFormatError('ValidationOverflow', e.name, `shape [${e.shape.join(', ')}] of ${e.dtype} has more than 2^64 bytes`);
    }
    if (e.end - e.begin !== nbytes) {
      throw new SafetensorsFormatError(
        'TensorInvalidInfo',
        e.name,
        `data_offsets [${e.begin}, ${e.end}] span ${e.end - e.begin} bytes but ${e.dtype} shape [${e.shape.join(', ')}] needs ${nbytes}`,
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
  // another is 0 (the crate accepts that), which no Tensor can hold.
  const entries = raw.map((e): SafetensorsEntry => {
    const shape = e.shape.map((d) => {
      if (d > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new SafetensorsFormatError('ValidationOverflow', e.name, `shape [${e.shape.join(', ')}] has a dimension above 2^53 - 1`);
      }
      return Number(d);
    });
    return { name: e.name, dtype: e.dtype, shape, dataOffsets: [Number(e.begin), Number(e.end)] };
  });
  return { headerSize: headerBytes.length, dataStart: 8 + headerBytes.length, entries, metadata };
}

/**
 * A Tensor over a copy of `bytes` (the entry's data). Throws UnsupportedDtype for safetensors dtypes
 * with no Tensor dtype (BOOL, F8_*, I16, U16, U32, U64); copy such tensors as bytes instead.
 *
 * Shape: `entry.shape`.
 *
 * Example:
 *   tensorFromBytes({ name: 'b', dtype: 'F32', shape: [2], dataOffsets: [0, 8] }, bytes).data;   // Float32Array(2)
 */
export function tensorFromBytes(entry: SafetensorsEntry, bytes: Uint8Array): Tensor {
  const dtype = TENSOR_DTYPE_OF[entry.dtype];
  if (dtype === undefined) {
    throw new SafetensorsFormatError(
      'UnsupportedDtype',
      entry.name,
      `dtype ${entry.dtype} is valid safetensors but has no int8-linear Tensor dtype ` +
        `(supported: ${Object.keys(TENSOR_DTYPE_OF).join(', ')}); read its raw bytes with openSafetensors from 'int8-linear/node'`,
    );
  }
  // A fresh ArrayBuffer is aligned for every element size, whatever the file offset was.
  const copy = bytes.slice().buffer;
  const n = bytes.length / DTYPE_BYTES[dtype];
  const Ctor = {
    float32: Float32Array, int8: Int8Array, float16: Uint16Array, bfloat16: Uint16Array,
    float64: Float64Array, int32: Int32Array, uint8: Uint8Array, int64: BigInt64Array,
  }[dtype];
  return new Tensor(new Ctor(copy, 0, n) as DataTypeMap[DType], entry.shape, dtype);
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
 * Reads a whole safetensors file from memory, validating it exactly as the reference Rust crate
 * does (see `parseSafetensorsHeader`); any violation is a SafetensorsFormatError (a FormatError)
 * naming the tensor and the rule. Tensors are copies, so `bytes` can be dropped afterwards.
 * Works in browsers (no Node APIs).
 *
 * Shape: every tensor keeps the shape stored in the file.
 *
 * Example:
 *   const { tensors, metadata } = readSafetensors(new Uint8Array(await (await fetch(url)).arrayBuffer()));
 *   tensors['fc1.weight'].shape;   // [128, 64]
 *   tensors['fc1.weight'].toFloat32();
 */
export function readSafetensors(source: Uint8Array | ArrayBuffer): { tensors: Record<string, Tensor>; metadata: Record<string, string> | null } {
  const bytes = source instanceof ArrayBuffer ? new Uint8Array(source) : source;
  if (!(bytes instanceof Uint8Array)) {
    throw new FormatError(`readSafetensors: expected the bytes of a safetensors file (a Uint8Array or an ArrayBuffer), got ${describeValue(source)}`);
  }
  const n = readHeaderSize(bytes, bytes.length);
  const header = parseSafetensorsHeader(bytes.subarray(8, 8 + n), bytes.length);
  const tensors: Record<string, Tensor> = Object.create(null);
  for (const e of header.entries) {
    tensors[e.name] = tensorFromBytes(e, bytes.subarray(header.dataStart + e.dataOffsets[0], header.dataStart + e.dataOffsets[1]));
  }
  return { tensors, metadata: header.metadata };
}

/** What the writer needs to know of a tensor before its data: name, dtype, shape, byte length. */
export interface SafetensorsSpec {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
}

/** A planned file: the header bytes (8-byte length + padded JSON) and the entries in write order. */
export interface SafetensorsPlan {
  readonly header: Uint8Array;
  readonly entries: readonly SafetensorsEntry[];
  /** Total file size: header.length + the data section. */
  readonly fileSize: number;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

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

/**
 * Lays out a file as the reference crate's writer does: tensors sorted by dtype alignment
 * (descending, in `SAFETENSORS_DTYPES` order) then name; offsets contiguous from 0; `__metadata__`
 * first; the JSON padded with spaces to a multiple of 8 bytes so every tensor's data is 8-byte aligned.
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
    if (!(SAFETENSORS_DTYPES as readonly string[]).includes(s.dtype)) {
      throw new SafetensorsFormatError('UnsupportedDtype', s.name, `unknown dtype ${JSON.stringify(s.dtype)}`);
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
  let offset = 0;
  const entries: SafetensorsEntry[] = [];
  for (const s of sorted) {
    const count = s.shape.reduce((a, d) => a * d, 1);
    const end = offset + count * SAFETENSORS_DTYPE_BYTES[s.dtype];
    entries.push({ name: s.name, dtype: s.dtype, shape: [...s.shape], dataOffsets: [offset, end] });
    parts.push(`${JSON.stringify(s.name)}:{"dtype":"${s.dtype}","shape":[${s.shape.join(',')}],"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const padded = Math.ceil(json.length / 8) * 8;
  const header = new Uint8Array(8 + padded).fill(0x20, 8 + json.length);
  new DataView(header.buffer).setBigUint64(0, BigInt(padded), true);
  header.set(json, 8);
  return { header, entries, fileSize: header.length + offset };
}

/**
 * Serializes tensors (and optional string metadata) to safetensors bytes, byte-identical to the
 * reference crate's `serialize`: same tensor order, same JSON, same padding. Works in browsers.
 *
 * Shape: each tensor is stored with its own shape and dtype.
 *
 * Example:
 *   const bytes = writeSafetensors({ 'fc.weight': q.values, 'fc.weight_scale': q.scale }, { format: 'pt' });
 *   readSafetensors(bytes).tensors['fc.weight_scale'].shape;   // [1024, 1]
 */
export function writeSafetensors(
  tensors: Readonly<Record<string, Tensor>> | ReadonlyMap<string, Tensor>,
  metadata: Readonly<Record<string, string>> | null = null,
): Uint8Array {
  const list: [string, Tensor][] = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  for (const [name, t] of list) {
    if (!(t instanceof Tensor)) {
      throw new SafetensorsFormatError('InvalidName', name, `the value is ${String(t)}, not a Tensor`);
    }
  }
  const byName = new Map(list);
  const plan = planSafetensors(list.map(([name, t]) => ({ name, dtype: SAFETENSORS_DTYPE_OF[t.dtype], shape: t.shape })), metadata);
  const out = new Uint8Array(plan.fileSize);
  out.set(plan.header, 0);
  for (const e of plan.entries) out.set(tensorBytes(byName.get(e.name) as Tensor), plan.header.length + e.dataOffsets[0]);
  return out;
}
