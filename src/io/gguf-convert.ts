import { FormatError, QuantizationError, checkOptions, oneOf } from '../errors.js';
import { FORMATS, dequantizeBlocks } from '../format/formats.js';
import { QK8_0, joinQ8_0, q8_0ScaleValue, quantizeRowsQ8_0, splitQ8_0 } from '../format/q8_0.js';
import { Tensor, formatShape, numel, type DType } from '../tensor.js';
import { compressedTensorsInfo, compressedTensorsNames, layerScheme, quantizationConfig, unpackedLayers } from './compressed-tensors.js';
import { GGML_TYPE, GGML_TYPES, readGguf, writeGguf, type GgufFile, type GgufScalar, type GgufScalarType, type GgufTensorSpec, type GgufValue } from './gguf.js';
import { tensorBytes, tensorFromBytes } from './safetensors.js';

/**
 * GGUF <-> safetensors conversion (browser-safe, bytes in, bytes out).
 *
 * GGUF -> safetensors: a 2-D Q8_0 `*.weight` becomes a per-group (32) int8 layer in the
 * compressed-tensors layout (`<name>.weight` I8 (out, in), `<name>.weight_scale` F16 (out, in / 32),
 * the half scales exactly as stored, range restricted); other Q8_0 tensors (3-D expert stacks) are
 * dequantized to F32 (`dequantize_row_q8_0`); F32/F16/BF16/F64/I8/I32/I64 tensors are copied. Every
 * GGUF metadata pair (with its type), each tensor's GGUF type and the tensor order go into the
 * safetensors metadata entry `gguf` (JSON), so converting back restores the same file.
 * Tensor names stay GGUF's (`blk.0.attn_q.weight`): see docs/io.md for why they are not renamed.
 *
 * safetensors -> GGUF (type q8_0): an int8 layer with group 32, range restricted and half-exact
 * scales is written as Q8_0 losslessly; a float 2-D `*.weight` (or a tensor that was Q8_0 in the
 * GGUF it came from) is quantized with ggml's `quantize_row_q8_0_ref`, bit for bit; a weight whose
 * rows are not a multiple of 32 (or whose scale would overflow half) stays float, with a warning;
 * every other tensor is copied in its dtype (a tensor that came from GGUF keeps its GGUF type).
 */

/** Version of the `gguf` safetensors metadata entry written by `ggufToSafetensors`. */
export const GGUF_METADATA_VERSION = 1;

/** ggml `LLAMA_FTYPE_MOSTLY_Q8_0`, the `general.file_type` of a Q8_0 file; `GGML_QNT_VERSION`. */
export const GGUF_FILE_TYPE_Q8_0 = 7;
export const GGML_QNT_VERSION = 2;

/** The ggml type each Tensor dtype is stored as, and back (uint8 has no ggml type). */
const GGML_OF_DTYPE: Readonly<Partial<Record<DType, number>>> = {
  float32: GGML_TYPE.F32, float16: GGML_TYPE.F16, bfloat16: GGML_TYPE.BF16, float64: GGML_TYPE.F64,
  int8: GGML_TYPE.I8, int32: GGML_TYPE.I32, int64: GGML_TYPE.I64,
};
const DTYPE_OF_GGML: Readonly<Record<number, DType>> = Object.fromEntries(Object.entries(GGML_OF_DTYPE).map(([k, v]) => [v, k as DType]));
const FLOAT_DTYPES: ReadonlySet<DType> = new Set(['float32', 'float16', 'bfloat16', 'float64']);

/** A 2-D Q8_0 tensor named `weight` or `*.weight` is a Linear weight; the layer name drops `.weight`. */
function layerNameOf(tensorName: string): string | null {
  if (tensorName === 'weight') return '';
  return tensorName.endsWith('.weight') ? tensorName.slice(0, -'.weight'.length) : null;
}

// ---- the `gguf` metadata entry: GGUF metadata with types, as JSON --------------------------------

/** JSON of one scalar: 64-bit integers as decimal strings; -0, NaN and ±Infinity as strings. */
function scalarToJson(type: GgufScalarType, v: GgufScalar): unknown {
  if (typeof v === 'bigint') return v.toString();
  if ((type === 'f32' || type === 'f64') && (!Number.isFinite(v) || Object.is(v, -0))) return Object.is(v, -0) ? '-0' : String(v);
  return v;
}

function scalarFromJson(type: GgufScalarType, v: unknown, where: string): GgufScalar {
  if (type === 'u64' || type === 'i64') {
    if (typeof v === 'string' && /^-?[0-9]{1,20}$/.test(v)) return BigInt(v);
  } else if (type === 'f32' || type === 'f64') {
    if (typeof v === 'number') return v;
    if (v === 'NaN' || v === 'Infinity' || v === '-Infinity' || v === '-0') return Number(v);
  } else return v as GgufScalar; // checked by writeGguf
  throw new FormatError(`gguf metadata: ${where} holds ${JSON.stringify(v)}, not a ${type} value`);
}

/**
 * The `gguf` safetensors metadata value: GGUF metadata with types, each tensor's GGUF type and the
 * tensor order, as JSON `{ version, names, kv: [[key, type, value] | [key, 'arr', itemType, values]], tensors: [[name, type]] }`
 * (`names`: 'hf' when the safetensors tensors were renamed to Hugging Face names; `tensors` keeps GGUF's).
 *
 * Example:
 *   ggufMetadataJson(readGguf(bytes));   // '{"version":1,"kv":[["general.architecture","str","llama"],...],...}'
 */
export function ggufMetadataJson(file: Pick<GgufFile, 'metadata' | 'tensors'>, names: 'gguf' | 'hf' = 'gguf'): string {
  const kv: unknown[] = [];
  for (const [key, v] of file.metadata) {
    kv.push(v.type === 'arr' ? [key, 'arr', v.itemType, v.value.map((x) => scalarToJson(v.itemType, x))] : [key, v.type, scalarToJson(v.type, v.value)]);
  }
  return JSON.stringify({ version: GGUF_METADATA_VERSION, names, kv, tensors: file.tensors.map((t) => [t.name, t.typeName]) });
}

/**
 * Parses the `gguf` safetensors metadata value back into typed GGUF metadata, the tensor order and
 * each tensor's GGUF type name. A FormatError if it is not what `ggufMetadataJson` writes.
 *
 * Example:
 *   parseGgufMetadataJson(st.metadata.gguf).metadata.get('general.architecture');   // { type: 'str', value: 'llama' }
 */
export function parseGgufMetadataJson(text: string): { metadata: Map<string, GgufValue>; tensorTypes: Map<string, string>; names: 'gguf' | 'hf' } {
  let root: { version?: unknown; kv?: unknown; tensors?: unknown; names?: unknown };
  try {
    root = JSON.parse(text) as typeof root;
  } catch (e) {
    throw new FormatError(`gguf metadata is not valid JSON (${(e as Error).message}); it is written by ggufToSafetensors`);
  }
  if (root === null || typeof root !== 'object' || root.version !== GGUF_METADATA_VERSION || !Array.isArray(root.kv) || !Array.isArray(root.tensors)) {
    throw new FormatError(`gguf metadata must be { version: ${GGUF_METADATA_VERSION}, kv: [...], tensors: [...] }; got version ${JSON.stringify(root?.version)}`);
  }
  const metadata = new Map<string, GgufValue>();
  for (const entry of root.kv as unknown[]) {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'string') {
      throw new FormatError(`gguf metadata: kv entry ${JSON.stringify(entry)} is not [key, type, value]`);
    }
    const [key, type] = entry as [string, string];
    if (metadata.has(key)) throw new FormatError(`gguf metadata: key '${key}' appears twice`);
    if (type === 'arr') {
      const itemType = entry[2] as GgufScalarType;
      if (!Array.isArray(entry[3])) throw new FormatError(`gguf metadata: '${key}' is an array without values`);
      metadata.set(key, { type: 'arr', itemType, value: (entry[3] as unknown[]).map((x, i) => scalarFromJson(itemType, x, `${key}[${i}]`)) });
    } else {
      metadata.set(key, { type, value: scalarFromJson(type as GgufScalarType, entry[2], key) } as GgufValue);
    }
  }
  const tensorTypes = new Map<string, string>();
  for (const t of root.tensors as unknown[]) {
    if (!Array.isArray(t) || typeof t[0] !== 'string' || typeof t[1] !== 'string') throw new FormatError(`gguf metadata: tensor entry ${JSON.stringify(t)} is not [name, type]`);
    tensorTypes.set(t[0], t[1]);
  }
  if (root.names !== undefined && root.names !== 'gguf' && root.names !== 'hf') throw new FormatError(`gguf metadata: names is ${JSON.stringify(root.names)}; expected "gguf" or "hf"`);
  return { metadata, tensorTypes, names: root.names === 'hf' ? 'hf' : 'gguf' };
}

// ---- Hugging Face names ----------------------------------------------------------------------

/**
 * GGUF tensor names and their Hugging Face names for the architectures this library maps ('llama',
 * 'qwen2'), as llama.cpp's gguf-py `tensor_mapping.py` pairs them; `{N}` is the block number.
 */
const HF_TENSOR_NAMES: readonly (readonly [string, string])[] = [
  ['token_embd.weight', 'model.embed_tokens.weight'],
  ['output_norm.weight', 'model.norm.weight'],
  ['output.weight', 'lm_head.weight'],
  ['blk.{N}.attn_norm.weight', 'model.layers.{N}.input_layernorm.weight'],
  ['blk.{N}.attn_q.weight', 'model.layers.{N}.self_attn.q_proj.weight'],
  ['blk.{N}.attn_k.weight', 'model.layers.{N}.self_attn.k_proj.weight'],
  ['blk.{N}.attn_v.weight', 'model.layers.{N}.self_attn.v_proj.weight'],
  ['blk.{N}.attn_q.bias', 'model.layers.{N}.self_attn.q_proj.bias'],
  ['blk.{N}.attn_k.bias', 'model.layers.{N}.self_attn.k_proj.bias'],
  ['blk.{N}.attn_v.bias', 'model.layers.{N}.self_attn.v_proj.bias'],
  ['blk.{N}.attn_output.weight', 'model.layers.{N}.self_attn.o_proj.weight'],
  ['blk.{N}.ffn_norm.weight', 'model.layers.{N}.post_attention_layernorm.weight'],
  ['blk.{N}.ffn_gate.weight', 'model.layers.{N}.mlp.gate_proj.weight'],
  ['blk.{N}.ffn_up.weight', 'model.layers.{N}.mlp.up_proj.weight'],
  ['blk.{N}.ffn_down.weight', 'model.layers.{N}.mlp.down_proj.weight'],
];

/** Architectures whose names `HF_TENSOR_NAMES` maps. */
export const HF_NAME_ARCHITECTURES: readonly string[] = ['llama', 'qwen2'];

/** A renaming between GGUF and Hugging Face names; `heads` when the rows are llama's rotary permutation. */
type Rename = (name: string) => { name: string; heads: number | null } | null;

function pattern(template: string): RegExp {
  return new RegExp(`^${template.replace(/[.]/g, '\\.').replace('{N}', '(0|[1-9][0-9]*)')}$`);
}

const HF_PATTERNS = HF_TENSOR_NAMES.map(([g, h]) => ({ gguf: pattern(g), hf: pattern(h), g, h }));

function headCount(metadata: ReadonlyMap<string, GgufValue>, key: string): number | null {
  const v = metadata.get(key);
  if (v === undefined) return null;
  if (v.type !== 'u32' && v.type !== 'i32' && v.type !== 'u64') {
    throw new FormatError(`gguf: ${key} is ${v.type}; mapping to Hugging Face names needs one head count for every layer (a u32)`);
  }
  return Number(v.value);
}

/**
 * The GGUF -> Hugging Face renaming (`toHf`) and its inverse for the file's architecture. llama's
 * attn_q / attn_k rows are stored permuted for rotary embeddings (convert_hf_to_gguf.py
 * `LlamaModel.permute`, with `{arch}.attention.head_count` and `head_count_kv`): they are permuted back.
 */
function hfRenames(metadata: ReadonlyMap<string, GgufValue>): { toHf: Rename; toGguf: Rename } {
  const arch = metadata.get('general.architecture')?.value;
  if (typeof arch !== 'string' || !HF_NAME_ARCHITECTURES.includes(arch)) {
    throw new FormatError(`gguf: Hugging Face names are known for architectures ${HF_NAME_ARCHITECTURES.join(', ')}, not '${String(arch)}'; keep the GGUF names`);
  }
  const nHead = arch === 'llama' ? headCount(metadata, `${arch}.attention.head_count`) : null;
  const nKv = arch === 'llama' ? (headCount(metadata, `${arch}.attention.head_count_kv`) ?? nHead) : null;
  const headsOf = (g: string): number | null => (g.endsWith('.attn_q.weight') ? nHead : g.endsWith('.attn_k.weight') ? nKv : null);
  const needHeads = (g: string): number | null => {
    const h = headsOf(g);
    if (arch === 'llama' && (g.endsWith('.attn_q.weight') || g.endsWith('.attn_k.weight')) && h === null) {
      throw new FormatError(`gguf: ${g} is stored permuted for rotary embeddings; un-permuting it needs llama.attention.head_count, which the file lacks`);
    }
    return h;
  };
  const rename = (from: 'gguf' | 'hf'): Rename => (name) => {
    for (const p of HF_PATTERNS) {
      const m = p[from].exec(name);
      if (m === null) continue;
      const block = m[1] ?? '';
      const g = p.g.replace('{N}', block);
      return { name: (from === 'gguf' ? p.h : p.g).replace('{N}', block), heads: needHeads(g) };
    }
    return null;
  };
  return { toHf: rename('gguf'), toGguf: rename('hf') };
}

/**
 * llama's rotary row permutation (convert_hf_to_gguf.py `LlamaModel.permute`) of a tensor's rows,
 * or its inverse (`toHf`): with head dim hd, GGUF row h·hd + 2j + i is Hugging Face row
 * h·hd + i·hd/2 + j (i in {0, 1}, j < hd/2). Works on any dtype (int8 values, their scales, floats).
 */
function permuteRows(t: Tensor, heads: number, toHf: boolean, name: string): Tensor {
  const rows = t.shape[0];
  if (!(heads > 0) || rows % (2 * heads) !== 0) {
    throw new FormatError(`gguf: ${name} has ${rows} rows, which ${heads} heads of even size cannot split; check the head counts in the metadata`);
  }
  const hd = rows / heads;
  const width = t.data.length / rows;
  const out = new (t.data.constructor as new (n: number) => typeof t.data)(t.data.length);
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < hd / 2; j++) {
      for (let i = 0; i < 2; i++) {
        const g = h * hd + 2 * j + i;
        const r = h * hd + i * (hd / 2) + j;
        const [to, from] = toHf ? [r, g] : [g, r];
        (out as Int8Array).set((t.data as Int8Array).subarray(from * width, (from + 1) * width), to * width);
      }
    }
  }
  return new Tensor(out, t.shape, t.dtype);
}

// ---- GGUF -> safetensors ---------------------------------------------------------------------

/** What `ggufToSafetensors` gives back: the tensors and metadata of the safetensors file, and a report. */
export interface GgufToSafetensors {
  /** In GGUF order; Q8_0 layers as `<name>.weight` (int8) and `<name>.weight_scale` (float16). */
  readonly tensors: Record<string, Tensor>;
  /** `format: 'pt'`, `gguf` (see `ggufMetadataJson`), and with any Q8_0 layer `quantization_config` and `int8_linear`. */
  readonly metadata: Record<string, string>;
  /** Layers made from Q8_0 weights (names without `.weight`). */
  readonly layers: readonly string[];
  /** Q8_0 tensors that are not 2-D `*.weight`, dequantized to float32. */
  readonly dequantized: readonly string[];
  readonly copied: readonly string[];
  readonly warnings: readonly string[];
}

/**
 * Converts a GGUF file (Q8_0, F32, F16, BF16, F64, I8, I32, I64 tensors) to the tensors and metadata
 * of a safetensors file: Q8_0 weights become per-group (32) int8 layers with their half scales as
 * stored, as described at the top of this module. Tensors of other ggml types (Q4_K, ...) are refused,
 * all listed in one FormatError; nothing is converted by approximation.
 *
 * Shape: GGUF `ne` [in, out] -> weight (out, in) int8, weight_scale (out, in / 32) float16.
 *
 * Example:
 *   const st = ggufToSafetensors(ggufBytes);
 *   const bytes = writeSafetensors(st.tensors, st.metadata);
 *   loadCompressedTensors(bytes).layers['blk.0.attn_q'].weightScale.shape;   // [4096, 128]
 */
export function ggufToSafetensors(source: Uint8Array | GgufFile, options: { names?: 'gguf' | 'hf' } = {}): GgufToSafetensors {
  checkOptions('ggufToSafetensors', options, ['names'], FormatError);
  const names = options.names === undefined ? 'gguf' : oneOf('ggufToSafetensors: names', options.names, ['gguf', 'hf'], FormatError);
  const file = source instanceof Uint8Array ? readGguf(source) : source;
  const toHf = names === 'hf' ? hfRenames(file.metadata).toHf : null;
  const refused = file.tensors.filter((t) => t.type !== GGML_TYPE.Q8_0 && DTYPE_OF_GGML[t.type] === undefined);
  if (refused.length > 0) {
    throw new FormatError(
      `gguf: ${refused.length} tensor(s) are in ggml types this library does not convert: ` +
        `${refused.slice(0, 8).map((t) => `${t.name} (${t.typeName})`).join(', ')}${refused.length > 8 ? ', ...' : ''}; ` +
        'it reads q8_0, f32, f16, bf16, f64, i8, i32 and i64: convert from a Q8_0 or F16 GGUF instead',
    );
  }
  const tensors: Record<string, Tensor> = Object.create(null);
  const layers: string[] = [];
  const dequantized: string[] = [];
  const copied: string[] = [];
  const warnings: string[] = [];
  const floatWeights: string[] = [];
  const put = (name: string, t: Tensor): void => {
    if (name in tensors) throw new FormatError(`gguf: tensor '${name}' would be written twice (a GGUF tensor has the name of a Q8_0 layer's scale)`);
    tensors[name] = t;
  };
  for (const t of file.tensors) {
    const bytes = file.data(t);
    const renamed = toHf?.(t.name) ?? null;
    if (toHf !== null && renamed === null) warnings.push(`${t.name}: no Hugging Face name for it; kept as is`);
    const name = renamed?.name ?? t.name;
    const heads = renamed?.heads ?? null;
    const rows = (x: Tensor): Tensor => (heads === null ? x : permuteRows(x, heads, true, t.name));
    const layer = layerNameOf(name);
    if (t.type !== GGML_TYPE.Q8_0) {
      const dtype = DTYPE_OF_GGML[t.type];
      put(name, rows(copyTensor(bytes, t.shape, dtype)));
      copied.push(name);
      if (layer !== null && t.shape.length === 2 && FLOAT_DTYPES.has(dtype)) floatWeights.push(layer);
      continue;
    }
    const n = numel(t.shape);
    const { values, scaleBits } = splitQ8_0(bytes, n);
    if (layer !== null && t.shape.length === 2) {
      const [out, inF] = t.shape;
      const names = compressedTensorsNames(layer);
      put(names.weight, rows(new Tensor(values, [out, inF], 'int8')));
      put(names.weightScale, rows(new Tensor(scaleBits, [out, inF / QK8_0], 'float16')));
      layers.push(layer);
      continue;
    }
    const w = new Float32Array(n);
    dequantizeBlocks(values, Float32Array.from(scaleBits, q8_0ScaleValue), QK8_0, FORMATS['gguf-q8_0'], w);
    put(name, new Tensor(w, [...t.shape], 'float32'));
    dequantized.push(name);
    warnings.push(`${t.name}: Q8_0 ${formatShape(t.shape)} is not a 2-D weight; stored dequantized as float32`);
  }
  const metadata: Record<string, string> = { format: 'pt', gguf: ggufMetadataJson(file, toHf !== null ? 'hf' : 'gguf') };
  if (layers.length > 0) {
    const scheme = { granularity: 'group', groupSize: QK8_0, range: 'restricted', bits: 8 } as const;
    const { config, int8Linear } = quantizationConfig(Object.fromEntries(layers.map((l) => [l, scheme])), floatWeights);
    metadata.quantization_config = JSON.stringify(config);
    metadata.int8_linear = int8Linear;
  }
  return { tensors, metadata, layers, dequantized, copied, warnings };
}

/** A Tensor of `dtype` over a copy of `bytes` (any alignment). */
function copyTensor(bytes: Uint8Array, shape: readonly number[], dtype: DType): Tensor {
  const st = { float32: 'F32', float16: 'F16', bfloat16: 'BF16', float64: 'F64', int8: 'I8', int32: 'I32', int64: 'I64', uint8: 'U8' } as const;
  return tensorFromBytes({ name: '', dtype: st[dtype], shape, dataOffsets: [0, bytes.length] }, bytes);
}

// ---- safetensors -> GGUF ---------------------------------------------------------------------

/** Options of `safetensorsToGguf`. */
export interface SafetensorsToGgufOptions {
  /** `general.architecture` ([a-z0-9]+, e.g. 'llama'); default: the one carried in the `gguf` metadata. */
  architecture?: string;
  /** Layer names (without `.weight`) to keep in float instead of Q8_0. */
  ignore?: (layer: string) => boolean;
}

/** What `safetensorsToGguf` did, tensor by tensor. */
export interface SafetensorsToGgufReport {
  /** Weights quantized to Q8_0 from float. */
  readonly quantized: string[];
  /** int8 layers (group 32, restricted, half scales) written as Q8_0 without loss. */
  readonly repacked: string[];
  /** Tensors copied in their dtype. */
  readonly copied: string[];
  /** Weights kept in float, with the reason (rows not a multiple of 32, scale overflow, ignored). */
  readonly warnings: string[];
}

function setKv(m: Map<string, GgufValue>, key: string, v: GgufValue): void {
  m.set(key, v); // an existing key keeps its place, a new one goes last
}

/**
 * Converts the tensors and metadata of a safetensors file to a GGUF v3 file with Q8_0 weights, as
 * described at the top of this module. The GGUF metadata is the one carried in the `gguf` entry (if
 * the file came from GGUF) with `general.architecture` (from `options`, else carried; required),
 * `general.alignment` (carried, else 32), and with any Q8_0 tensor `general.file_type` = 7
 * (MOSTLY_Q8_0) and `general.quantization_version` = 2; tensors in the carried order, then in the
 * input's. A non-finite weight is a QuantizationError naming the index; int8 layers that Q8_0 cannot
 * hold exactly (another group size or range, scales not exact in half) and uint8 tensors are refused.
 *
 * Shape: weight (out, in) -> GGUF ne [in, out], Q8_0 rows of in / 32 blocks.
 *
 * Example:
 *   const { tensors, metadata } = readSafetensors(bytes);
 *   const { bytes: gguf, report } = safetensorsToGguf(tensors, metadata, { architecture: 'llama' });
 */
export function safetensorsToGguf(
  input: Readonly<Record<string, Tensor>>,
  metadata: Readonly<Record<string, string>> | null,
  options: SafetensorsToGgufOptions = {},
): { bytes: Uint8Array; report: SafetensorsToGgufReport } {
  checkOptions('safetensorsToGguf', options, ['architecture', 'ignore'], FormatError);
  if (options.ignore !== undefined && typeof options.ignore !== 'function') {
    throw new FormatError(`safetensorsToGguf: ignore must be a function (layer name) => boolean, got ${typeof options.ignore}`);
  }
  const carried = metadata?.gguf === undefined ? null : parseGgufMetadataJson(metadata.gguf);
  // pack-quantized layers (the library's default output) are read as int8 weights like int-quantized ones.
  const unpacked = unpackedLayers(input);
  const tensors = carried?.names === 'hf' ? ggufNamed(unpacked, carried.metadata) : unpacked;
  const kv = new Map<string, GgufValue>();
  const architecture = options.architecture ?? (carried?.metadata.get('general.architecture')?.value as string | undefined);
  if (architecture === undefined) {
    throw new FormatError('gguf: general.architecture is unknown; pass it (--arch llama, or the architecture of the model) or convert a file that came from GGUF');
  }
  if (options.architecture !== undefined && !/^[a-z0-9]+$/.test(options.architecture)) {
    throw new FormatError(`gguf: architecture '${options.architecture}' must be lowercase ASCII letters and digits ([a-z0-9]+), e.g. 'llama'`);
  }
  // general.architecture keeps its carried place, or comes first.
  if (!carried?.metadata.has('general.architecture')) kv.set('general.architecture', { type: 'str', value: architecture });
  for (const [k, v] of carried?.metadata ?? []) kv.set(k, k === 'general.architecture' ? { type: 'str', value: architecture } : v);
  if (!kv.has('general.alignment')) kv.set('general.alignment', { type: 'u32', value: 32 });

  // Quantized layers already in the file (int8 + weight_scale), as compressed-tensors describes them.
  const { config, ranges } = compressedTensorsInfo(metadata);
  const repackedScale = new Map<string, Uint16Array>();
  const notQ8: string[] = [];
  for (const key of Object.keys(tensors)) {
    if (!(key === 'weight_scale' || key.endsWith('.weight_scale'))) continue;
    const layer = key.slice(0, Math.max(0, key.length - '.weight_scale'.length));
    const w = tensors[compressedTensorsNames(layer).weight];
    if (w === undefined || w.dtype !== 'int8' || w.ndim !== 2) continue;
    const scale = tensors[key];
    const s = layerScheme(layer, w.shape, scale.shape, config, ranges);
    const f32 = scale.dtype === 'float16' ? null : scale.toFloat32();
    const bits = scale.dtype === 'float16' ? (scale.data as Uint16Array) : (f32 as Tensor<'float32'>).toHalf('float16').data;
    const exact = f32 === null || (f32.data as Float32Array).every((v, i) => Object.is(q8_0ScaleValue(bits[i]), v));
    if (s.granularity !== 'group' || s.groupSize !== QK8_0 || s.range !== 'restricted' || !exact) {
      notQ8.push(`${layer} (${s.granularity}${s.groupSize === null ? '' : ` ${s.groupSize}`}, ${s.range}${exact ? '' : ', scales not exact in float16'})`);
      continue;
    }
    repackedScale.set(layer, bits);
  }
  if (notQ8.length > 0) {
    throw new FormatError(
      `gguf: int8 layers ${notQ8.join(', ')} cannot be written as Q8_0 without requantizing (Q8_0 is group 32, range restricted, float16 scales); ` +
        'convert the float checkpoint instead',
    );
  }

  const order = [...(carried?.tensorTypes.keys() ?? [])].filter((n) => n in tensors);
  for (const n of Object.keys(tensors)) if (!carried?.tensorTypes.has(n)) order.push(n);
  const report: SafetensorsToGgufReport = { quantized: [], repacked: [], copied: [], warnings: [] };
  const specs: GgufTensorSpec[] = [];
  let anyQ8 = false;
  for (const name of order) {
    const t = tensors[name];
    const layer = layerNameOf(name);
    if (layer !== null && repackedScale.has(layer)) {
      specs.push({ name, type: GGML_TYPE.Q8_0, shape: t.shape, data: joinQ8_0(t.data as Int8Array, repackedScale.get(layer) as Uint16Array) });
      report.repacked.push(name);
      anyQ8 = true;
      continue;
    }
    if (name.endsWith('weight_scale') && repackedScale.has(name.slice(0, Math.max(0, name.length - '.weight_scale'.length)))) continue;
    const carriedType = carried?.tensorTypes.get(name);
    const wantQ8 =
      FLOAT_DTYPES.has(t.dtype) &&
      (carriedType === 'q8_0' || (carriedType === undefined && layer !== null && t.ndim === 2)) &&
      !(layer !== null && options.ignore?.(layer) === true);
    if (wantQ8) {
      const q = quantizeQ8_0Tensor(name, t, report.warnings);
      if (q !== null) {
        specs.push({ name, type: GGML_TYPE.Q8_0, shape: t.shape, data: q });
        report.quantized.push(name);
        anyQ8 = true;
        continue;
      }
    }
    const type = GGML_OF_DTYPE[t.dtype];
    if (type === undefined) throw new FormatError(`gguf: tensor '${name}' is ${t.dtype}, which GGUF has no type for; convert it to int8 or int32 first`);
    specs.push({ name, type, shape: t.shape, data: tensorBytes(t) });
    report.copied.push(name);
  }
  if (anyQ8) {
    setKv(kv, 'general.file_type', { type: 'u32', value: GGUF_FILE_TYPE_Q8_0 });
    setKv(kv, 'general.quantization_version', { type: 'u32', value: GGML_QNT_VERSION });
  }
  return { bytes: writeGguf(kv, specs), report };
}

/** Tensors with Hugging Face names renamed back to GGUF's (and llama's q / k rows permuted again), scales with their weights. */
function ggufNamed(tensors: Readonly<Record<string, Tensor>>, metadata: ReadonlyMap<string, GgufValue>): Record<string, Tensor> {
  const { toGguf } = hfRenames(metadata);
  const out: Record<string, Tensor> = Object.create(null);
  for (const [name, t] of Object.entries(tensors)) {
    const scale = name.endsWith('.weight_scale');
    const r = toGguf(scale ? name.slice(0, -'_scale'.length) : name);
    const to = r === null ? name : scale ? `${r.name}_scale` : r.name;
    if (to in out) throw new FormatError(`gguf: tensors '${name}' and another both map to the GGUF name '${to}'`);
    out[to] = r?.heads == null ? t : permuteRows(t, r.heads, false, name);
  }
  return out;
}

/**
 * Q8_0 blocks of a float tensor (rows along its last dimension), or null with a warning when its
 * rows are not a multiple of 32 or a scale would overflow half. Non-finite values are an error.
 */
function quantizeQ8_0Tensor(name: string, t: Tensor, warnings: string[]): Uint8Array | null {
  const cols = t.shape.length === 0 ? 1 : t.shape[t.shape.length - 1];
  if (cols % QK8_0 !== 0) {
    warnings.push(`${name}: rows of ${cols} are not a multiple of ${QK8_0}; kept in ${t.dtype}`);
    return null;
  }
  const x = t.toFloat32().data;
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) {
      throw new QuantizationError(`gguf: tensor '${name}' has a non-finite value ${x[i]} at index ${i}; only finite weights can be quantized: fix or remove NaN/Inf values first`);
    }
  }
  const out = new Uint8Array((x.length / QK8_0) * GGML_TYPES[GGML_TYPE.Q8_0].typeSize);
  if (!quantizeRowsQ8_0(x, out)) {
    warnings.push(`${name}: a block's |w| exceeds 127 * 65504, so its Q8_0 scale would overflow float16; kept in ${t.dtype}`);
    return null;
  }
  return out;
}
