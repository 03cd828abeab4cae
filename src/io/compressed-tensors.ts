import { RE2JS } from 're2js';
import { FormatError, QuantizationError, ShapeError, checkOptions, describeValue, oneOf, ownEntry } from '../errors.js';
import { layerOf, tensorName } from '../format/names.js';
import { QuantizedLinear, type ActivationMode } from '../nn/quantized-linear.js';
import { Tensor, formatShape, numel } from '../tensor.js';
import { readSafetensors, writeSafetensors, type RawTensor } from './safetensors.js';

type Scheme = QuantizedLinear['scheme'];

/** Scale dtypes a file may store; scales are float32 in memory whatever the file holds. */
export type ScaleDType = 'float32' | 'float16' | 'bfloat16';

/** Every `ScaleDType`, for checking a user-given one. */
export const SCALE_DTYPES: readonly ScaleDType[] = ['float32', 'float16', 'bfloat16'];

/**
 * The compressed-tensors layouts of an int8 Linear this library writes and reads:
 * - 'pack-quantized': `weight_packed` I32 (out, ceil(in / 4)) holding the bytes `uint8(q + 128)`,
 *   `weight_shape` I64 [out, in], `weight_scale`. What compressed-tensors writes for weight-only
 *   int8 (W8A16) and the only layout vLLM loads weight-only int8 from (CompressedTensorsWNA16).
 * - 'int-quantized': `weight` I8 (out, in), `weight_scale`. What compressed-tensors writes for W8A8
 *   (CompressedTensorsW8A8Int8 in vLLM); vLLM refuses it for weight-only layers.
 */
export type CompressedTensorsFormat = 'pack-quantized' | 'int-quantized';

/** Every `CompressedTensorsFormat`. */
export const COMPRESSED_TENSORS_FORMATS: readonly CompressedTensorsFormat[] = ['pack-quantized', 'int-quantized'];

/**
 * The `version` written into a quantization_config: the compressed-tensors release whose layout
 * (field names, packing, QuantizationArgs fields) this library follows. Readers do not check it.
 */
export const COMPRESSED_TENSORS_VERSION = '0.12.2';

/** The keys of `SaveCompressedTensorsOptions`, for the unknown-option check. */
export const SAVE_KEYS: readonly (keyof SaveCompressedTensorsOptions)[] = ['scaleDtype', 'tensors', 'ignore', 'metadata', 'format'];

/** `weights` of a compressed-tensors config group (QuantizationArgs), the fields this library writes and reads. */
export interface CompressedTensorsWeights {
  num_bits: number;
  type: string;
  symmetric: boolean;
  strategy: string | null;
  group_size: number | null;
  dynamic?: boolean | string;
  observer?: string | null;
  [key: string]: unknown;
}

/** One `config_groups` entry: which layers (`targets`) use which weight scheme. */
export interface CompressedTensorsGroup {
  targets: string[];
  weights: CompressedTensorsWeights | null;
  input_activations?: unknown;
  output_activations?: unknown;
  format?: string | null;
  [key: string]: unknown;
}

/** A compressed-tensors `quantization_config`, as found in a Hugging Face `config.json`. */
export interface QuantizationConfig {
  quant_method: 'compressed-tensors';
  format: string;
  quantization_status?: string;
  config_groups: Record<string, CompressedTensorsGroup>;
  ignore: string[];
  [key: string]: unknown;
}

/** Version of this library's own `int8_linear` metadata entry (ranges per config group). */
export const INT8_LINEAR_FORMAT_VERSION = 1;

/**
 * Tensor names of a quantized Linear called `name` in a compressed-tensors file.
 *
 * Example:
 *   compressedTensorsNames('model.fc1').weightScale;   // 'model.fc1.weight_scale'
 */
export function compressedTensorsNames(name: string): {
  weight: string; weightScale: string; bias: string; weightPacked: string; weightShape: string; weightZeroPoint: string; weightGIdx: string;
} {
  return {
    weight: tensorName(name, 'weight'),
    weightScale: tensorName(name, 'weightScale'),
    bias: tensorName(name, 'bias'),
    weightPacked: tensorName(name, 'weightPacked'),
    weightShape: tensorName(name, 'weightShape'),
    weightZeroPoint: tensorName(name, 'weightZeroPoint'),
    // compressed-tensors' activation-order permutation (GPTQ actorder "group").
    weightGIdx: name === '' ? 'weight_g_idx' : `${name}.weight_g_idx`,
  };
}

/**
 * The pack-quantized layout of 8-bit values, as compressed-tensors' `pack_to_int32(q, 8)`: each
 * int8 `q` becomes the byte `uint8(q + 128)` (equivalently `q ^ 0x80`), four bytes per int32 in
 * little-endian order (element `c` of a row is byte `c % 4` of word `c / 4`), each row padded with
 * zero bytes to a multiple of 4 elements. The safetensors bytes of `weight_packed` are therefore
 * the rows of offset bytes, padded; no bit crosses a row.
 *
 * Shape: values (rows, cols) int8 -> (rows, ceil(cols / 4)) int32.
 *
 * Example:
 *   packInt8Rows(new Int8Array([1, 2]), 1, 2);   // Int32Array [33409] = 129 + 130 * 256, as pack_to_int32's docstring
 */
export function packInt8Rows(values: Int8Array, rows: number, cols: number): Int32Array {
  const words = Math.ceil(cols / 4);
  const out = new Int32Array(rows * words);
  const bytes = new Uint8Array(out.buffer);
  for (let r = 0; r < rows; r++) {
    const src = r * cols;
    const dst = r * words * 4;
    // Int32Array views are little-endian on every platform JavaScript runs on (as safetensors).
    for (let c = 0; c < cols; c++) bytes[dst + c] = (values[src + c] + 128) & 0xff;
  }
  return out;
}

/**
 * Inverse of `packInt8Rows` (compressed-tensors' `unpack_from_int32(packed, 8, shape)`): byte `c`
 * of a row, minus 128, for c < cols; the padding bytes are not read.
 *
 * Shape: packed (rows, ceil(cols / 4)) int32 -> (rows, cols) int8.
 *
 * Example:
 *   unpackInt8Rows(new Int32Array([33409]), 1, 2);   // Int8Array [1, 2]
 */
export function unpackInt8Rows(packed: Int32Array, rows: number, cols: number): Int8Array {
  const words = Math.ceil(cols / 4);
  const bytes = new Uint8Array(packed.buffer, packed.byteOffset, packed.byteLength);
  const out = new Int8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const src = r * words * 4;
    const dst = r * cols;
    for (let c = 0; c < cols; c++) out[dst + c] = bytes[src + c] - 128;
  }
  return out;
}

/** The per-layer facts a quantization_config records: the weight scheme and whether activations are int8 (W8A8). */
export type LayerQuantization = Scheme & { activations?: ActivationMode };

/**
 * compressed-tensors' QuantizationArgs for 8-bit symmetric int weights with this scheme, every field
 * as `model_dump()` writes it (channel: group_size null; static; no activation order).
 */
function weightsArgs(s: Scheme): CompressedTensorsWeights {
  return {
    num_bits: 8, type: 'int', symmetric: true, group_size: s.groupSize, strategy: s.granularity, block_structure: null,
    dynamic: false, actorder: null, scale_dtype: null, zp_dtype: null, observer: 'minmax', observer_kwargs: {},
  };
}

/**
 * The `input_activations` of W8A8 as compressed-tensors' preset `INT8` / `W8A8` has it and vLLM's
 * `_is_dynamic_token_w8a8` accepts: int8, symmetric, one scale per token computed at run time.
 */
export const W8A8_INPUT_ACTIVATIONS: Readonly<Record<string, unknown>> = Object.freeze({
  num_bits: 8, type: 'int', symmetric: true, group_size: null, strategy: 'token', block_structure: null,
  dynamic: true, actorder: null, scale_dtype: null, zp_dtype: null, observer: null, observer_kwargs: {},
});

/**
 * The compressed-tensors `quantization_config` for layers quantized with the given schemes: one
 * config group per distinct (scheme, activations) pair (targets `["Linear"]` when every layer
 * shares one, else the layer names), `ignore` listing the Linear layers left in float, and the
 * format of each group: weight-only layers `pack-quantized` (or `options.format`), W8A8 layers
 * (`activations: 'int8'`) `int-quantized` with dynamic per-token `input_activations`; the global
 * `format` is the one format, or `mixed-precision` with each group carrying its own. W8A8 with group
 * scales is a QuantizationError: vLLM's W8A8 int8 kernel (and compressed-tensors' preset) takes
 * per-tensor or per-channel weight scales only. Also returns the `int8_linear` metadata value that
 * records each group's range (compressed-tensors itself always uses the full range, absmax / 127.5).
 *
 * Example:
 *   quantizationConfig({ fc1: qfc1.scheme, fc2: qfc2.scheme }, ['lm_head']).config.config_groups.group_0.weights.strategy;   // 'channel'
 */
export function quantizationConfig(
  layers: Readonly<Record<string, LayerQuantization>>,
  ignore: readonly string[] = [],
  options: { format?: CompressedTensorsFormat; compressionRatio?: number | null } = {},
): { config: QuantizationConfig; int8Linear: string } {
  checkOptions('quantizationConfig', options, ['format', 'compressionRatio'], FormatError);
  const weightOnlyFormat = options.format === undefined ? 'pack-quantized' : oneOf('quantizationConfig: format', options.format, COMPRESSED_TENSORS_FORMATS, FormatError);
  const groups = new Map<string, { scheme: Scheme; w8a8: boolean; names: string[] }>();
  for (const [name, s] of Object.entries(layers)) {
    const w8a8 = s.activations === 'int8';
    if (w8a8 && s.granularity === 'group') {
      throw new QuantizationError(
        `layer '${name}': W8A8 (activations 'int8') with group scales (group_size ${s.groupSize}) has no compressed-tensors ` +
          `layout that vLLM runs (its W8A8 int8 kernel takes per-tensor or per-channel weight scales); ` +
          `use granularity 'channel' with int8 activations, or keep group scales weight-only`,
      );
    }
    const key = `${s.granularity}/${s.groupSize ?? ''}/${s.range}/${w8a8 ? 'w8a8' : 'w8a16'}`;
    const g = groups.get(key) ?? { scheme: s, w8a8, names: [] };
    g.names.push(name);
    groups.set(key, g);
  }
  const config_groups: Record<string, CompressedTensorsGroup> = {};
  const ranges: Record<string, string> = {};
  const formats = new Set<string>();
  let i = 0;
  for (const { scheme, w8a8, names } of groups.values()) {
    const id = `group_${i++}`;
    const format = w8a8 ? 'int-quantized' : weightOnlyFormat;
    formats.add(format);
    config_groups[id] = {
      targets: groups.size === 1 ? ['Linear'] : names,
      weights: weightsArgs(scheme),
      input_activations: w8a8 ? { ...W8A8_INPUT_ACTIVATIONS } : null,
      output_activations: null,
      format,
    };
    ranges[id] = scheme.range;
  }
  const config: QuantizationConfig = {
    version: COMPRESSED_TENSORS_VERSION,
    quant_method: 'compressed-tensors',
    format: formats.size === 1 ? [...formats][0] : formats.size === 0 ? weightOnlyFormat : 'mixed-precision',
    quantization_status: 'compressed',
    config_groups,
    ignore: [...ignore],
    kv_cache_scheme: null,
    global_compression_ratio: options.compressionRatio ?? null,
  };
  return { config, int8Linear: JSON.stringify({ version: INT8_LINEAR_FORMAT_VERSION, ranges }) };
}

/**
 * Whether the `int8_linear` value records a group with range 'restricted' (the only thing it adds to the config).
 *
 * Example:
 *   int8LinearNeeded(quantizationConfig({ fc: qfc.scheme }).int8Linear);   // false for range 'full'
 */
export function int8LinearNeeded(int8Linear: string): boolean {
  return int8Linear.includes('"restricted"');
}

/**
 * A float32 scale stored as `dtype`, checked: float16 overflows above 65504 (and would flush scales
 * below 6e-8 to 0, though EPS keeps scales above that), which would break the layer, so that is a
 * QuantizationError naming the layer.
 *
 * Shape: same as `scale`.
 *
 * Example:
 *   encodeScale(qfc.weightScale, 'bfloat16', 'fc1').dtype;   // 'bfloat16'
 */
export function encodeScale(scale: Tensor<'float32'>, dtype: ScaleDType, layer: string): Tensor {
  oneOf('scaleDtype', dtype, SCALE_DTYPES, FormatError);
  if (dtype === 'float32') return scale;
  const out = scale.toHalf(dtype);
  const back = out.toFloat32().data;
  for (let i = 0; i < back.length; i++) {
    if (!(back[i] > 0 && back[i] < Infinity)) {
      throw new QuantizationError(
        `layer '${layer}': weight_scale[${i}] = ${scale.data[i]} becomes ${back[i]} in ${dtype}; ` +
          `store scales as float32 or bfloat16 instead`,
      );
    }
  }
  return out;
}

/** Options of `saveCompressedTensors`. */
export interface SaveCompressedTensorsOptions {
  /** dtype of the stored `weight_scale`; default 'float32'. */
  scaleDtype?: ScaleDType;
  /** Other tensors to store unchanged (embeddings, norms, float Linear layers). */
  tensors?: Readonly<Record<string, Tensor>>;
  /** Names of Linear layers left unquantized, for the config's `ignore` list. */
  ignore?: readonly string[];
  /** Extra `__metadata__` entries (strings). */
  metadata?: Readonly<Record<string, string>>;
  /**
   * Layout of weight-only layers: 'pack-quantized' (default; what vLLM loads) or 'int-quantized'
   * (plain I8 `weight`; vLLM does not load it for weight-only layers). W8A8 layers are always int-quantized.
   */
  format?: CompressedTensorsFormat;
}

/**
 * The tensors of one quantized layer in its compressed-tensors layout (`format` 'pack-quantized'
 * or 'int-quantized'), scale encoded as `scaleDtype`. One place for the names and layouts, used by
 * `saveCompressedTensors` and the streaming converter.
 *
 * Example:
 *   Object.keys(layerTensors('fc', qfc, 'pack-quantized', 'float32'));   // ['fc.weight_packed', 'fc.weight_shape', 'fc.weight_scale', 'fc.bias']
 */
export function layerTensors(name: string, layer: QuantizedLinear, format: CompressedTensorsFormat, scaleDtype: ScaleDType): Record<string, Tensor> {
  const n = compressedTensorsNames(name);
  const out: Record<string, Tensor> = {};
  const { outFeatures: rows, inFeatures: cols } = layer;
  if (format === 'pack-quantized') {
    out[n.weightPacked] = new Tensor(packInt8Rows(layer.weight.data, rows, cols), [rows, Math.ceil(cols / 4)], 'int32');
    out[n.weightShape] = new Tensor(new BigInt64Array([BigInt(rows), BigInt(cols)]), [2], 'int64');
  } else {
    out[n.weight] = layer.weight;
  }
  out[n.weightScale] = encodeScale(layer.weightScale, scaleDtype, name);
  if (layer.bias !== null) out[n.bias] = layer.bias;
  return out;
}

/**
 * Saves quantized Linear layers in the compressed-tensors layout: weight-only layers
 * `pack-quantized` (`<name>.weight_packed` I32 (out, ceil(in / 4)), `<name>.weight_shape` I64 [out, in])
 * unless `format: 'int-quantized'` (`<name>.weight` I8 (out, in)); W8A8 layers (`activations: 'int8'`)
 * int-quantized; every layer `<name>.weight_scale` (F32, or F16/BF16 on request; (1,), (out, 1) or
 * (out, in / group_size)) and `<name>.bias`. The `quantization_config` goes into the safetensors
 * metadata as JSON, so the bytes describe themselves (a Hugging Face folder keeps it in config.json:
 * `quantizationConfig` gives it).
 *
 * Shape: see above; the bytes are a safetensors file.
 *
 * Example:
 *   const bytes = saveCompressedTensors({ fc1: QuantizedLinear.fromLinear(fc1) }, { scaleDtype: 'bfloat16' });
 *   loadCompressedTensors(bytes).layers.fc1.weightScale.shape;   // [128, 1]
 */
export function saveCompressedTensors(
  layers: Readonly<Record<string, QuantizedLinear>>,
  options: SaveCompressedTensorsOptions = {},
): Uint8Array {
  checkOptions('saveCompressedTensors', options, SAVE_KEYS, FormatError);
  const { scaleDtype = 'float32', tensors = {}, ignore = [], metadata = {}, format = 'pack-quantized' } = options;
  oneOf('saveCompressedTensors: scaleDtype', scaleDtype, SCALE_DTYPES, FormatError);
  oneOf('saveCompressedTensors: format', format, COMPRESSED_TENSORS_FORMATS, FormatError);
  const out: Record<string, Tensor> = Object.create(null);
  for (const [name, t] of Object.entries(tensors)) out[name] = t;
  const schemes: Record<string, LayerQuantization> = Object.create(null);
  for (const [name, layer] of Object.entries(layers)) {
    if (!(layer instanceof QuantizedLinear)) {
      throw new FormatError(`saveCompressedTensors: layer '${name}' is ${describeValue(layer)}, not a QuantizedLinear`);
    }
    schemes[name] = { ...layer.scheme, activations: layer.activations };
  }
  const { config, int8Linear } = quantizationConfig(schemes, ignore, { format });
  for (const [name, layer] of Object.entries(layers)) {
    const own = layerTensors(name, layer, layer.activations === 'int8' ? 'int-quantized' : format, scaleDtype);
    for (const [key, t] of Object.entries(own)) {
      if (key in out) throw new FormatError(`saveCompressedTensors: tensor '${key}' is both in options.tensors and a layer's state`);
      out[key] = t;
    }
  }
  return writeSafetensors(out, { format: 'pt', ...metadata, quantization_config: JSON.stringify(config), int8_linear: int8Linear });
}

/**
 * Compiled `re:` patterns by source. Targets come from files, so they run on RE2 (re2js, a pure-JS
 * port): matching takes time linear in the name whatever the pattern, where JavaScript's
 * backtracking RegExp takes exponential time on patterns such as `(a+)+$` (ReDoS). Bounded, so a
 * stream of distinct patterns cannot grow it without limit.
 */
const PATTERNS = new Map<string, RE2JS>();
const MAX_PATTERNS = 1024;

function compileTarget(target: string): RE2JS {
  let re = PATTERNS.get(target);
  if (re === undefined) {
    try {
      re = RE2JS.compile(target.slice(3));
    } catch (e) {
      throw new FormatError(
        `quantization_config: target ${JSON.stringify(target)} is not a regular expression this library can run ` +
          `(${e instanceof Error ? e.message : String(e)}); patterns run on RE2 (linear time), which has no backreferences or lookaround`,
      );
    }
    if (PATTERNS.size >= MAX_PATTERNS) PATTERNS.clear();
    PATTERNS.set(target, re);
  }
  return re;
}

/** Whether `target` names layer `name` itself: equal, or a `re:` pattern matching from the start. */
function matchesName(target: string, name: string): boolean {
  // lookingAt: anchored at the start only, as Python's re.match.
  return target.startsWith('re:') ? compileTarget(target).matcher(name).lookingAt() : target === name;
}

/**
 * Whether a compressed-tensors target (or ignore entry) selects the Linear layer `name`: the exact
 * name, a `re:` regular expression matched from the start (Python's `re.match`; RE2 syntax, in time
 * linear in the name), or the class `Linear`. A pattern RE2 cannot compile is a FormatError naming it.
 *
 * Example:
 *   matchesTarget('re:.*proj', 'model.q_proj');   // true
 */
export function matchesTarget(target: string, name: string): boolean {
  if (typeof target !== 'string') throw new FormatError(`quantization_config: target ${describeValue(target)} is not a string (a layer name, 're:<regex>' or 'Linear')`);
  return matchesName(target, name) || target === 'Linear';
}

/** Checks that `value` is a list of targets (strings; each `re:` one compiles); `where` names the field. */
function checkTargets(value: unknown, where: string): string[] {
  if (!Array.isArray(value)) throw new FormatError(`quantization_config.${where} is ${describeValue(value)}; expected a list of layer names, 're:<regex>' or 'Linear'`);
  value.forEach((t, i) => {
    if (typeof t !== 'string') {
      throw new FormatError(`quantization_config.${where}[${i}] is ${describeValue(t)}; expected a string (a layer name, 're:<regex>' or 'Linear')`);
    }
    if (t.startsWith('re:')) compileTarget(t);
  });
  return value as string[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The fields of compressed-tensors' QuantizationArgs (pydantic, `extra="forbid"`: any other field is an error there too). */
const QUANTIZATION_ARGS_FIELDS = new Set([
  'num_bits', 'type', 'symmetric', 'group_size', 'strategy', 'block_structure', 'dynamic', 'actorder', 'scale_dtype', 'zp_dtype', 'observer', 'observer_kwargs',
]);
/** The fields of QuantizationScheme (a config group; also `extra="forbid"`). */
const SCHEME_FIELDS = new Set(['targets', 'weights', 'input_activations', 'output_activations', 'format']);
/** Formats whose int8 layers this library reads (naive-quantized is int-quantized's older name; mixed-precision defers to each group's format). */
const READABLE_FORMATS = ['pack-quantized', 'int-quantized', 'naive-quantized', 'mixed-precision'];

/**
 * compressed-tensors' preset schemes that hold 8-bit int weights, for config groups written as a
 * preset name with a list of targets (`"W8A16": ["Linear"]`), as `preset_name_to_scheme` expands them.
 */
const PRESETS: Readonly<Record<string, { weights: Record<string, unknown>; input_activations: Record<string, unknown> | null }>> = {
  W8A16: { weights: { num_bits: 8, type: 'int', strategy: 'group', group_size: 128, symmetric: true, dynamic: false }, input_activations: null },
  W8A8: { weights: { num_bits: 8, type: 'int', strategy: 'channel', symmetric: true, dynamic: false }, input_activations: { ...W8A8_INPUT_ACTIVATIONS } },
  INT8: { weights: { num_bits: 8, type: 'int', strategy: 'channel', symmetric: true, dynamic: false }, input_activations: { ...W8A8_INPUT_ACTIVATIONS } },
};

/** A config group as this library uses it: validated, strategy inferred, activations resolved. */
interface GroupInfo {
  id: string;
  targets: string[];
  granularity: Scheme['granularity'];
  groupSize: number | null;
  activations: ActivationMode;
  /** The group's own format, else the config's. */
  format: string;
  /** Whether the weights were calibrated with activation order "group" (a `weight_g_idx` permutation). */
  groupActorder: boolean;
}

/**
 * QuantizationArgs checked as pydantic validates them (unknown fields are an error), with the
 * strategy inferred as `validate_model_after` does (group_size null -> tensor, > 0 -> group, -1 ->
 * channel), then restricted to what this library holds: 8-bit int, symmetric, static.
 */
function parseWeights(w: unknown, where: string): Pick<GroupInfo, 'granularity' | 'groupSize' | 'groupActorder'> {
  if (!isObject(w)) throw new FormatError(`quantization_config.${where} is ${describeValue(w)}; expected an object (QuantizationArgs) or null`);
  for (const k of Object.keys(w)) {
    if (!QUANTIZATION_ARGS_FIELDS.has(k)) {
      throw new FormatError(
        `quantization_config.${where} has an unknown field ${JSON.stringify(k)}; QuantizationArgs allows only ${[...QUANTIZATION_ARGS_FIELDS].join(', ')} ` +
          `(compressed-tensors rejects extra fields too)`,
      );
    }
  }
  const numBits = w.num_bits ?? 8;
  const type = typeof w.type === 'string' ? w.type.toLowerCase() : (w.type ?? 'int');
  if (numBits !== 8 || type !== 'int') {
    throw new FormatError(`quantization_config.${where}: ${describeValue(numBits)}-bit ${describeValue(type)} weights; this library loads 8-bit int weights (num_bits 8, type "int") only`);
  }
  if ((w.symmetric ?? true) !== true) {
    throw new FormatError(
      `quantization_config.${where}.symmetric is ${describeValue(w.symmetric)}: asymmetric weights (with a weight_zero_point) are not supported; ` +
        'this library reads symmetric int8 only (q * scale, zero point 0)',
    );
  }
  if (w.dynamic !== undefined && w.dynamic !== null && w.dynamic !== false) {
    throw new FormatError(`quantization_config.${where}.dynamic is ${describeValue(w.dynamic)}; stored weights need static scales (dynamic false)`);
  }
  const gs = w.group_size ?? null;
  if (gs !== null && !(Number.isSafeInteger(gs) && ((gs as number) > 0 || gs === -1))) {
    throw new FormatError(`quantization_config.${where}.group_size is ${describeValue(gs)}; expected null, -1 (per channel) or a positive integer`);
  }
  let strategy = typeof w.strategy === 'string' ? w.strategy.toLowerCase() : (w.strategy ?? null);
  if (strategy === null) strategy = gs === null ? 'tensor' : gs === -1 ? 'channel' : 'group';
  const actorder = w.actorder ?? null;
  const groupActorder = actorder === true || actorder === 'group' || actorder === 'dynamic';
  if (strategy === 'group') {
    if (gs === null || gs === -1) throw new FormatError(`quantization_config.${where}: strategy "group" needs a positive integer group_size, got ${describeValue(gs)}`);
    return { granularity: 'group', groupSize: gs as number, groupActorder };
  }
  if (gs !== null && gs !== -1) throw new FormatError(`quantization_config.${where}: group_size ${gs} needs strategy "group", got ${describeValue(strategy)}`);
  if (strategy === 'channel' || strategy === 'tensor') return { granularity: strategy, groupSize: null, groupActorder: false };
  throw new FormatError(`quantization_config.${where}: strategy ${describeValue(strategy)} is not one this library loads ("tensor", "channel", "group")`);
}

/**
 * `input_activations` of a group: null (weight-only) or int8 symmetric per-token dynamic (W8A8 as
 * this library runs it). Static activation scales (`input_scale`) and other schemes are refused.
 */
function parseInputActivations(a: unknown, where: string): ActivationMode {
  if (a === null || a === undefined) return 'float32';
  if (!isObject(a)) throw new FormatError(`quantization_config.${where} is ${describeValue(a)}; expected an object (QuantizationArgs) or null`);
  for (const k of Object.keys(a)) {
    if (!QUANTIZATION_ARGS_FIELDS.has(k)) throw new FormatError(`quantization_config.${where} has an unknown field ${JSON.stringify(k)}; QuantizationArgs allows only ${[...QUANTIZATION_ARGS_FIELDS].join(', ')}`);
  }
  const ok = (a.num_bits ?? 8) === 8 && (a.type ?? 'int') === 'int' && (a.symmetric ?? true) === true && a.strategy === 'token' && a.dynamic === true;
  if (!ok) {
    throw new FormatError(
      `quantization_config.${where} is ${JSON.stringify(a)}; this library runs int8 activations as symmetric per-token dynamic ` +
        '({ num_bits: 8, type: "int", symmetric: true, strategy: "token", dynamic: true }) only; static or asymmetric activation scales are not supported',
    );
  }
  return 'int8';
}

/** Every config group, validated; `format` is the config's global format. */
function parseGroups(groups: Record<string, unknown>, format: string): GroupInfo[] {
  const out: GroupInfo[] = [];
  for (const [id, raw] of Object.entries(groups)) {
    let g: unknown = raw;
    if (Array.isArray(raw)) {
      // A preset: the group's name is the scheme (compressed-tensors' preset_name_to_scheme), the value its targets.
      const preset = ownEntry(PRESETS, id.toUpperCase());
      if (preset === undefined) {
        throw new FormatError(`quantization_config.config_groups.${id} is a preset list, but ${JSON.stringify(id)} is not an 8-bit int preset this library knows (${Object.keys(PRESETS).join(', ')})`);
      }
      g = { targets: raw, ...preset };
    }
    const where = `config_groups.${id}`;
    if (!isObject(g)) throw new FormatError(`quantization_config.${where} is ${describeValue(g)}; expected an object { targets, weights }`);
    for (const k of Object.keys(g)) {
      if (!SCHEME_FIELDS.has(k)) throw new FormatError(`quantization_config.${where} has an unknown field ${JSON.stringify(k)}; a config group (QuantizationScheme) has ${[...SCHEME_FIELDS].join(', ')}`);
    }
    const targets = checkTargets(g.targets, `${where}.targets`);
    if (g.output_activations !== null && g.output_activations !== undefined) {
      throw new FormatError(`quantization_config.${where}.output_activations is set; output quantization is not supported (expected null)`);
    }
    const groupFormat = g.format ?? null;
    if (groupFormat !== null && !READABLE_FORMATS.slice(0, 3).includes(groupFormat as string)) {
      throw new FormatError(`quantization_config.${where}.format ${describeValue(groupFormat)} is not supported; this library reads "pack-quantized" and "int-quantized"`);
    }
    if (groupFormat === null && format === 'mixed-precision') {
      throw new FormatError(`quantization_config.${where} has no format, but the config's format is "mixed-precision", which needs one per group`);
    }
    const activations = parseInputActivations(g.input_activations, `${where}.input_activations`);
    if (g.weights === null || g.weights === undefined) {
      if (activations === 'int8') throw new FormatError(`quantization_config.${where} quantizes activations but not weights; this library needs int8 weights`);
      continue; // a group without weight quantization quantizes nothing this library stores
    }
    const weights = parseWeights(g.weights, `${where}.weights`);
    out.push({ id, targets, ...weights, activations, format: (groupFormat as string | null) ?? format });
  }
  return out;
}

/**
 * A quantization_config checked for the shape this library reads: every field it uses has the
 * right type, else a FormatError names the field (odd but well-formed JSON never reaches the code as
 * a TypeError). A missing or null `ignore` reads as [] (compressed-tensors' default).
 */
function parseConfig(raw: unknown): { config: QuantizationConfig; groups: GroupInfo[] } {
  if (!isObject(raw)) throw new FormatError(`quantization_config is ${describeValue(raw)}; expected an object with quant_method "compressed-tensors"`);
  if (raw.quant_method !== 'compressed-tensors') {
    throw new FormatError(`quantization_config: quant_method is ${describeValue(raw.quant_method)}; expected "compressed-tensors"`);
  }
  if (!READABLE_FORMATS.includes(raw.format as string)) {
    throw new FormatError(`quantization_config: format ${describeValue(raw.format)} is not supported; this library reads "pack-quantized" and "int-quantized" (int8 weights)`);
  }
  if (!isObject(raw.config_groups)) {
    throw new FormatError(`quantization_config.config_groups is ${describeValue(raw.config_groups)}; expected an object of { targets, weights } groups`);
  }
  const groups = parseGroups(raw.config_groups, raw.format as string);
  const ignore = raw.ignore === undefined || raw.ignore === null ? [] : checkTargets(raw.ignore, 'ignore');
  return { config: { ...(raw as QuantizationConfig), ignore }, groups };
}

/** This library's `int8_linear` metadata, checked: `{ version: 1, ranges: { <group id>: 'full' | 'restricted' } }`. */
function parseInt8Linear(text: string): Record<string, unknown> {
  const own: unknown = JSON.parse(text);
  if (!isObject(own)) throw new FormatError(`int8_linear metadata is ${describeValue(own)}; expected { version: ${INT8_LINEAR_FORMAT_VERSION}, ranges }`);
  if (own.version !== INT8_LINEAR_FORMAT_VERSION) {
    throw new FormatError(`int8_linear metadata version ${describeValue(own.version)} is not ${INT8_LINEAR_FORMAT_VERSION}; upgrade int8-linear`);
  }
  const ranges = own.ranges ?? {};
  if (!isObject(ranges)) throw new FormatError(`int8_linear.ranges is ${describeValue(ranges)}; expected an object of 'full' | 'restricted' per config group`);
  for (const [id, r] of Object.entries(ranges)) oneOf(`int8_linear.ranges.${id}`, r, ['full', 'restricted'], FormatError);
  return ranges;
}

/** Granularity implied by a scale shape for an (out, in) weight, when no config says. */
function schemeOfShape(scale: readonly number[], out: number, inF: number, layer: string): { granularity: Scheme['granularity']; groupSize: number | null } {
  const size = numel(scale);
  if (size === 1 && out !== 1) return { granularity: 'tensor', groupSize: null };
  if (scale.length === 2 && scale[0] === out && scale[1] === 1) return { granularity: 'channel', groupSize: null };
  if (scale.length === 2 && scale[0] === out && scale[1] > 0 && inF % scale[1] === 0) {
    return { granularity: 'group', groupSize: inF / scale[1] };
  }
  throw new FormatError(
    `layer '${layer}': weight_scale of shape ${formatShape(scale)} fits no scheme for a weight of shape (${out}, ${inF}); ` +
      `expected (1,), (${out}, 1) or (${out}, ${inF} / group_size)`,
  );
}

function floatTensor(t: Tensor, what: string): Tensor<'float32'> {
  if (t.dtype !== 'float32' && t.dtype !== 'float16' && t.dtype !== 'bfloat16') {
    throw new FormatError(`${what} is ${t.dtype}; expected float32, float16 or bfloat16`);
  }
  return t.toFloat32();
}

/**
 * What `compressedTensorsInfo` finds: the config, this library's ranges, and the validated groups.
 *
 * Example:
 *   const { config, ranges } = compressedTensorsInfo(metadata, configJson.quantization_config);
 */
export interface CompressedTensorsInfo {
  config: QuantizationConfig | null;
  ranges: Readonly<Record<string, unknown>>;
  /** @internal the config groups, validated (same order as in the config). */
  groups?: readonly GroupInfo[];
}

/**
 * The quantization_config (from `config`, else the metadata) and this library's ranges per group.
 *
 * Example:
 *   compressedTensorsInfo(readSafetensors(bytes).metadata).config?.format;   // 'pack-quantized'
 */
export function compressedTensorsInfo(
  metadata: Readonly<Record<string, string>> | null,
  config: unknown = null,
): CompressedTensorsInfo {
  let raw: unknown = config;
  let ranges: Record<string, unknown> = {};
  const quantizationConfigText = metadata === null ? undefined : ownEntry(metadata, 'quantization_config');
  const int8LinearText = metadata === null ? undefined : ownEntry(metadata, 'int8_linear');
  try {
    if (raw === null && quantizationConfigText !== undefined) raw = JSON.parse(quantizationConfigText);
    if (int8LinearText !== undefined) ranges = parseInt8Linear(int8LinearText);
  } catch (e) {
    if (e instanceof SyntaxError) throw new FormatError(`metadata holds invalid JSON (${e.message}); expected a quantization_config object`);
    throw e;
  }
  if (raw === null) return { config: null, ranges, groups: [] };
  const parsed = parseConfig(raw);
  return { config: parsed.config, ranges, groups: parsed.groups };
}

/**
 * The config group that quantizes layer `name`, as vLLM's `find_matched_target` picks it: a target
 * naming the layer (exact or `re:`) in any group wins over the class target `Linear`; null if the
 * layer is in `ignore` or no group targets it.
 */
function groupOf(name: string, info: CompressedTensorsInfo): GroupInfo | null {
  const { config } = info;
  if (config === null) return null;
  const groups = info.groups ?? parseConfig(config).groups;
  if (config.ignore.some((t) => matchesTarget(t, name))) return null;
  return groups.find((g) => g.targets.some((t) => matchesName(t, name))) ?? groups.find((g) => g.targets.includes('Linear')) ?? null;
}

/**
 * The scheme of quantized layer `name` with an (out, in) weight and a scale of `scaleShape`: from the
 * config group that targets it (unless `ignore` lists it), else from the scale's shape; `activations`
 * is 'int8' when the group quantizes input activations (W8A8).
 *
 * Example:
 *   layerScheme('fc1', [128, 64], [128, 4], null, {});   // { granularity: 'group', groupSize: 16, range: 'full', activations: 'float32' }
 */
export function layerScheme(
  name: string,
  weightShape: readonly number[],
  scaleShape: readonly number[],
  config: QuantizationConfig | null,
  ranges: Readonly<Record<string, unknown>>,
  groups?: readonly GroupInfo[],
): Scheme & { activations: ActivationMode } {
  const [out, inF] = weightShape;
  const group = groupOf(name, { config, ranges, ...(groups === undefined ? {} : { groups }) });
  const { granularity, groupSize } = group !== null ? group : schemeOfShape(scaleShape, out, inF, name);
  return {
    granularity,
    groupSize,
    range: group !== null && ownEntry(ranges, group.id) === 'restricted' ? 'restricted' : 'full',
    activations: group?.activations ?? 'float32',
    bits: 8,
  };
}

/** What `loadCompressedTensors` gives back. */
export interface LoadedCompressedTensors {
  /** Quantized layers by name (the prefix of `<name>.weight`). */
  layers: Record<string, QuantizedLinear>;
  /** Every other tensor, unchanged. */
  tensors: Record<string, Tensor>;
  /** Tensors of dtypes a Tensor cannot hold (BOOL, F8_*, ...), as bytes (see `readSafetensors`); empty for an in-memory source without `raw`. */
  raw: Record<string, RawTensor>;
  /** The quantization_config used (from the metadata or `options.config`), or null if none. */
  config: QuantizationConfig | null;
  metadata: Record<string, string> | null;
}

/** The 2-element `weight_shape` of a pack-quantized layer, checked. */
function packedShape(t: Tensor | undefined, name: string): [number, number] {
  if (t === undefined || (t.dtype !== 'int64' && t.dtype !== 'int32') || t.size !== 2) {
    throw new FormatError(`layer '${name}': weight_packed needs a weight_shape of 2 integers (int64), got ${t === undefined ? 'none' : `${t.dtype} ${formatShape(t.shape)}`}`);
  }
  const [out, inF] = Array.from(t.data as ArrayLike<number | bigint>, Number);
  if (!(Number.isSafeInteger(out) && Number.isSafeInteger(inF) && out > 0 && inF > 0)) {
    throw new FormatError(`layer '${name}': weight_shape is [${out}, ${inF}]; expected two positive integers (out_features, in_features)`);
  }
  return [out, inF];
}

/**
 * The same tensors with every pack-quantized layer (`<name>.weight_packed` + `<name>.weight_shape`)
 * rewritten in the int-quantized layout (`<name>.weight` int8 (out, in)), for code that reads int8
 * layers by name (the GGUF writer). Other tensors are passed through; the input is not changed.
 *
 * Shape: per layer, weight_packed (out, ceil(in / 4)) int32 + weight_shape (2,) -> weight (out, in) int8.
 *
 * Example:
 *   const { tensors } = readSafetensors(bytes);            // a pack-quantized checkpoint
 *   unpackedLayers(tensors)['fc.weight'].shape;            // [out, in], int8
 */
export function unpackedLayers(tensors: Readonly<Record<string, Tensor>>): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  const used = new Set<string>();
  for (const key of Object.keys(tensors)) {
    if (key !== 'weight_packed' && !key.endsWith('.weight_packed')) continue;
    const layer = key.slice(0, Math.max(0, key.length - '.weight_packed'.length));
    out[compressedTensorsNames(layer).weight] = int8Weight(tensors, layer, used);
  }
  for (const key of Object.keys(tensors)) if (!used.has(key)) out[key] = tensors[key];
  return out;
}

/** The int8 (out, in) weight of layer `name`, from `weight` (int-quantized) or `weight_packed` + `weight_shape` (pack-quantized). */
function int8Weight(tensors: Readonly<Record<string, Tensor>>, name: string, used: Set<string>): Tensor<'int8'> {
  const n = compressedTensorsNames(name);
  const packed = tensors[n.weightPacked];
  if (packed !== undefined) {
    const [out, inF] = packedShape(tensors[n.weightShape], name);
    const words = Math.ceil(inF / 4);
    if (packed.dtype !== 'int32' || packed.ndim !== 2 || packed.shape[0] !== out || packed.shape[1] !== words) {
      throw new FormatError(
        `layer '${name}': weight_packed is ${packed.dtype} ${formatShape(packed.shape)}; 8-bit pack-quantized (out, in) = (${out}, ${inF}) needs int32 (${out}, ${words})`,
      );
    }
    used.add(n.weightPacked).add(n.weightShape);
    return new Tensor(unpackInt8Rows(packed.data as Int32Array, out, inF), [out, inF], 'int8');
  }
  const w = tensors[n.weight];
  if (w === undefined || w.dtype !== 'int8' || w.ndim !== 2) {
    throw new FormatError(
      `layer '${name}': '${n.weightScale}' needs an int8 2-D '${n.weight}' (int-quantized) or '${n.weightPacked}' with '${n.weightShape}' (pack-quantized), ` +
        `got ${w === undefined ? 'neither' : `${w.dtype} ${formatShape(w.shape)}`}`,
    );
  }
  used.add(n.weight);
  return w as Tensor<'int8'>;
}

/**
 * `weight_g_idx` (the group of each input column after GPTQ's activation reordering): accepted when
 * it is the identity order (column c in group c / group_size), which is what a file without
 * reordering holds; a real permutation is a FormatError (the kernels here take groups in order).
 */
function checkGIdx(t: Tensor | undefined, name: string, inF: number, groupSize: number | null, needed: boolean): void {
  if (t === undefined) {
    if (needed) throw new FormatError(`layer '${name}': the config says actorder "group", which needs a weight_g_idx tensor; there is none`);
    return;
  }
  const g = groupSize ?? inF;
  const ok = t.size === inF && Array.from(t.toFloat32().data).every((v, c) => v === Math.floor(c / g));
  if (!ok) {
    throw new FormatError(
      `layer '${name}': weight_g_idx permutes the input columns (GPTQ activation order "group"); this library holds groups in column order only: ` +
        're-export the checkpoint without actorder, or with actorder "weight"',
    );
  }
}

/**
 * Loads QuantizedLinear layers from a compressed-tensors safetensors file, in either layout:
 * `pack-quantized` (`<name>.weight_packed` I32 + `<name>.weight_shape`) or `int-quantized`
 * (`<name>.weight` I8, 2-D), each with a `<name>.weight_scale` (F32/F16/BF16, taken exactly as
 * stored, so values from llm-compressor load as they are) and optional `<name>.bias`. The scheme
 * comes from the `quantization_config` (in the metadata, or `options.config` from a config.json, or
 * the scale's shape when neither names the layer), W8A8 groups (int8 per-token dynamic activations)
 * load with `activations: 'int8'`; the range comes from this library's `int8_linear` metadata, else
 * 'full' (compressed-tensors' own). Asymmetric configs, a non-zero `weight_zero_point` and a
 * permuting `weight_g_idx` are refused; any inconsistency is a FormatError naming the layer.
 *
 * Shape: layers as saved; scales become float32.
 *
 * Example:
 *   const { layers, tensors } = loadCompressedTensors(bytes);
 *   layers['model.layers.0.mlp.down_proj'].forward(x);
 */
export function loadCompressedTensors(
  source: Uint8Array | { tensors: Readonly<Record<string, Tensor>>; raw?: Readonly<Record<string, RawTensor>>; metadata: Readonly<Record<string, string>> | null },
  options: { config?: unknown } = {},
): LoadedCompressedTensors {
  checkOptions('loadCompressedTensors', options, ['config'], FormatError);
  if (!(source instanceof Uint8Array) && !(isObject(source) && isObject(source.tensors))) {
    throw new FormatError(
      `loadCompressedTensors: expected the bytes of a safetensors file (a Uint8Array) or { tensors, metadata } as readSafetensors returns, got ${describeValue(source)}`,
    );
  }
  const { tensors, metadata, raw = {} } = source instanceof Uint8Array ? readSafetensors(source) : source;
  const info = compressedTensorsInfo(metadata, options.config ?? null);
  const layers: Record<string, QuantizedLinear> = Object.create(null);
  const rest: Record<string, Tensor> = Object.create(null);
  const used = new Set<string>();
  for (const key of Object.keys(tensors)) {
    const name = layerOf(key, 'weightScale');
    if (name === null) continue;
    const n = compressedTensorsNames(name);
    const w = int8Weight(tensors, name, used);
    const [out, inF] = w.shape;
    const scale = floatTensor(tensors[key], `layer '${name}': weight_scale`);
    const { granularity, groupSize, range, activations } = layerScheme(name, w.shape, scale.shape, info.config, info.ranges, info.groups);
    const zp = tensors[n.weightZeroPoint];
    if (zp !== undefined) {
      if (zp.toFloat32().data.some((v) => v !== 0)) {
        throw new FormatError(`layer '${name}': weight_zero_point has non-zero values; asymmetric quantization is not supported (symmetric only)`);
      }
      used.add(n.weightZeroPoint);
    }
    checkGIdx(tensors[n.weightGIdx], name, inF, groupSize, groupOf(name, info)?.groupActorder === true);
    if (tensors[n.weightGIdx] !== undefined) used.add(n.weightGIdx);
    const bias = tensors[n.bias];
    let layer: QuantizedLinear;
    try {
      layer = new QuantizedLinear(inF, out, {
        bias: bias !== undefined, granularity, range, ...(groupSize === null ? {} : { groupSize }), ...(activations === 'int8' ? { activations } : {}),
      });
      const state: Record<string, Tensor> = { weight: w, weight_scale: scale.reshape(layer.weightScale.shape) };
      if (bias !== undefined) state.bias = floatTensor(bias, `layer '${name}': bias`);
      layer.loadStateDict(state);
    } catch (e) {
      if (e instanceof ShapeError || e instanceof QuantizationError || e instanceof FormatError) {
        throw new FormatError(`layer '${name}' (${granularity}${groupSize === null ? '' : ` ${groupSize}`}): ${e.message}`);
      }
      throw e;
    }
    layers[name] = layer;
    used.add(key);
    if (bias !== undefined) used.add(n.bias);
  }
  for (const [k, t] of Object.entries(tensors)) if (!used.has(k)) rest[k] = t;
  return { layers, tensors: rest, raw: Object.assign(Object.create(null) as Record<string, RawTensor>, raw), config: info.config, metadata };
}
