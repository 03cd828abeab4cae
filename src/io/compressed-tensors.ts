import { RE2JS } from 're2js';
import { FormatError, QuantizationError, ShapeError, checkOptions, describeValue, oneOf, ownEntry } from '../errors.js';
import { layerOf, tensorName } from '../format/names.js';
import { schemeKey } from '../format/scheme.js';
import { QuantizedLinear } from '../nn/quantized-linear.js';
import type { Tensor} from '../tensor.js';
import { formatShape, numel } from '../tensor.js';
import { readSafetensors, writeSafetensors, type RawTensor } from './safetensors.js';

type Scheme = QuantizedLinear['scheme'];

/** Scale dtypes a file may store; scales are float32 in memory whatever the file holds. */
export type ScaleDType = 'float32' | 'float16' | 'bfloat16';

/** Every `ScaleDType`, for checking a user-given one. */
export const SCALE_DTYPES: readonly ScaleDType[] = ['float32', 'float16', 'bfloat16'];
/** The keys of `SaveCompressedTensorsOptions`, for the unknown-option check. */
export const SAVE_KEYS: readonly (keyof SaveCompressedTensorsOptions)[] = ['scaleDtype', 'tensors', 'ignore', 'metadata'];

/** `weights` of a compressed-tensors config group (QuantizationArgs), the fields this library writes and reads. */
export interface CompressedTensorsWeights {
  num_bits: number;
  type: string;
  symmetric: boolean;
  strategy: string;
  group_size: number | null;
  dynamic?: boolean;
  observer?: string;
  [key: string]: unknown;
}

/** One `config_groups` entry: which layers (`targets`) use which weight scheme. */
export interface CompressedTensorsGroup {
  targets: string[];
  weights: CompressedTensorsWeights | null;
  input_activations?: unknown;
  output_activations?: unknown;
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
export function compressedTensorsNames(name: string): { weight: string; weightScale: string; bias: string } {
  return { weight: tensorName(name, 'weight'), weightScale: tensorName(name, 'weightScale'), bias: tensorName(name, 'bias') };
}

/**
 * The compressed-tensors `quantization_config` for layers quantized with the given schemes: one
 * config group per distinct scheme (targets `["Linear"]` when every layer shares one scheme, else
 * the layer names), `format: "int-quantized"`, and `ignore` listing the Linear layers left in float.
 * Also returns the `int8_linear` metadata value that records each group's range (compressed-tensors
 * itself always uses the full range, absmax / 127.5).
 *
 * Example:
 *   quantizationConfig({ fc1: qfc1.scheme, fc2: qfc2.scheme }, ['lm_head']).config.config_groups.group_0.weights.strategy;   // 'channel'
 */
export function quantizationConfig(
  schemes: Readonly<Record<string, Scheme>>,
  ignore: readonly string[] = [],
): { config: QuantizationConfig; int8Linear: string } {
  const groups = new Map<string, { scheme: Scheme; names: string[] }>();
  for (const [name, s] of Object.entries(schemes)) {
    const key = schemeKey(s);
    const g = groups.get(key) ?? { scheme: s, names: [] };
    g.names.push(name);
    groups.set(key, g);
  }
  const config_groups: Record<string, CompressedTensorsGroup> = {};
  const ranges: Record<string, string> = {};
  let i = 0;
  for (const { scheme, names } of groups.values()) {
    const id = `group_${i++}`;
    config_groups[id] = {
      targets: groups.size === 1 ? ['Linear'] : names,
      weights: {
        num_bits: 8,
        type: 'int',
        symmetric: true,
        strategy: scheme.granularity,
        group_size: scheme.groupSize,
        dynamic: false,
        observer: 'minmax',
      },
      input_activations: null,
      output_activations: null,
    };
    ranges[id] = scheme.range;
  }
  const config: QuantizationConfig = {
    quant_method: 'compressed-tensors',
    format: 'int-quantized',
    quantization_status: 'compressed',
    config_groups,
    ignore: [...ignore],
    kv_cache_scheme: null,
  };
  return { config, int8Linear: JSON.stringify({ version: INT8_LINEAR_FORMAT_VERSION, ranges }) };
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
}

/**
 * Saves quantized Linear layers in the compressed-tensors `int-quantized` layout: per layer
 * `<name>.weight` (I8, (out, in)), `<name>.weight_scale` (F32, or F16/BF16 on request; (1,),
 * (out, 1) or (out, in / group_size)) and `<name>.bias`; the `quantization_config` goes into the
 * safetensors metadata as JSON (write it to config.json too with `quantizationConfig`).
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
  const { scaleDtype = 'float32', tensors = {}, ignore = [], metadata = {} } = options;
  oneOf('saveCompressedTensors: scaleDtype', scaleDtype, SCALE_DTYPES, FormatError);
  const out: Record<string, Tensor> = Object.create(null);
  for (const [name, t] of Object.entries(tensors)) out[name] = t;
  const schemes: Record<string, Scheme> = Object.create(null);
  for (const [name, layer] of Object.entries(layers)) {
    if (!(layer instanceof QuantizedLinear)) {
      throw new FormatError(`saveCompressedTensors: layer '${name}' is ${describeValue(layer)}, not a QuantizedLinear`);
    }
    const n = compressedTensorsNames(name);
    for (const key of [n.weight, n.weightScale, n.bias]) {
      if (key in out) throw new FormatError(`saveCompressedTensors: tensor '${key}' is both in options.tensors and a layer's state`);
    }
    out[n.weight] = layer.weight;
    out[n.weightScale] = encodeScale(layer.weightScale, scaleDtype, name);
    if (layer.bias !== null) out[n.bias] = layer.bias;
    schemes[name] = layer.scheme;
  }
  const { config, int8Linear } = quantizationConfig(schemes, ignore);
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
  // lookingAt: anchored at the start only, as Python's re.match.
  if (target.startsWith('re:')) return compileTarget(target).matcher(name).lookingAt();
  return target === name || target === 'Linear';
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

/**
 * A quantization_config checked for the shape this library reads: every field it uses has the
 * right type, else a FormatError names the field (odd but well-formed JSON never reaches the code as
 * a TypeError). A missing or null `ignore` reads as [] (compressed-tensors' default).
 */
function parseConfig(raw: unknown): QuantizationConfig {
  if (!isObject(raw)) throw new FormatError(`quantization_config is ${describeValue(raw)}; expected an object with quant_method "compressed-tensors"`);
  if (raw.quant_method !== 'compressed-tensors') {
    throw new FormatError(`quantization_config: quant_method is ${describeValue(raw.quant_method)}; expected "compressed-tensors"`);
  }
  if (raw.format !== 'int-quantized' && raw.format !== 'naive-quantized') {
    throw new FormatError(`quantization_config: format ${describeValue(raw.format)} is not supported; this library reads "int-quantized" (int8 weights)`);
  }
  if (!isObject(raw.config_groups)) {
    throw new FormatError(`quantization_config.config_groups is ${describeValue(raw.config_groups)}; expected an object of { targets, weights } groups`);
  }
  for (const [id, g] of Object.entries(raw.config_groups)) {
    if (!isObject(g)) throw new FormatError(`quantization_config.config_groups.${id} is ${describeValue(g)}; expected an object { targets, weights }`);
    checkTargets(g.targets, `config_groups.${id}.targets`);
    if (g.weights !== null && g.weights !== undefined && !isObject(g.weights)) {
      throw new FormatError(`quantization_config.config_groups.${id}.weights is ${describeValue(g.weights)}; expected an object (QuantizationArgs) or null`);
    }
  }
  const ignore = raw.ignore === undefined || raw.ignore === null ? [] : checkTargets(raw.ignore, 'ignore');
  return { ...(raw as QuantizationConfig), ignore };
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

function schemeOfGroup(group: CompressedTensorsGroup, layer: string): { granularity: Scheme['granularity']; groupSize: number | null } {
  const w = group.weights;
  if (w === null || typeof w !== 'object' || w.num_bits !== 8 || w.type !== 'int' || w.symmetric !== true) {
    throw new FormatError(
      `layer '${layer}': config group weights ${JSON.stringify(w)} are not symmetric 8-bit int; ` +
        'this library loads { num_bits: 8, type: "int", symmetric: true } only',
    );
  }
  if (w.strategy === 'group') {
    if (!Number.isSafeInteger(w.group_size) || (w.group_size as number) < 1) {
      throw new FormatError(`layer '${layer}': strategy "group" needs a positive integer group_size, got ${String(w.group_size)}`);
    }
    return { granularity: 'group', groupSize: w.group_size };
  }
  if (w.strategy === 'channel' || w.strategy === 'tensor') return { granularity: w.strategy, groupSize: null };
  throw new FormatError(`layer '${layer}': strategy "${w.strategy}" is not one of "tensor", "channel", "group"`);
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
 * The quantization_config (from `config`, else the metadata) and this library's ranges per group.
 *
 * Example:
 *   compressedTensorsInfo(readSafetensors(bytes).metadata).config?.format;   // 'int-quantized'
 */
export function compressedTensorsInfo(
  metadata: Readonly<Record<string, string>> | null,
  config: unknown = null,
): { config: QuantizationConfig | null; ranges: Readonly<Record<string, unknown>> } {
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
  return { config: raw === null ? null : parseConfig(raw), ranges };
}

/**
 * The scheme of quantized layer `name` with an (out, in) weight and a scale of `scaleShape`: from the
 * first config group whose targets match it (unless `ignore` lists it), else from the scale's shape.
 *
 * Example:
 *   layerScheme('fc1', [128, 64], [128, 4], null, {});   // { granularity: 'group', groupSize: 16, range: 'full' }
 */
export function layerScheme(
  name: string,
  weightShape: readonly number[],
  scaleShape: readonly number[],
  config: QuantizationConfig | null,
  ranges: Readonly<Record<string, unknown>>,
): Scheme {
  const [out, inF] = weightShape;
  const entry = config === null ? undefined : Object.entries(config.config_groups).find(([, g]) => Array.isArray(g?.targets) && g.targets.some((t) => matchesTarget(t, name)));
  const ignored = Array.isArray(config?.ignore) && config.ignore.some((t) => matchesTarget(t, name));
  const { granularity, groupSize } = entry !== undefined && !ignored ? schemeOfGroup(entry[1], name) : schemeOfShape(scaleShape, out, inF, name);
  return { granularity, groupSize, range: entry !== undefined && ownEntry(ranges, entry[0]) === 'restricted' ? 'restricted' : 'full', bits: 8 };
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

/**
 * Loads QuantizedLinear layers from a compressed-tensors `int-quantized` safetensors file: each
 * `<name>.weight` (I8, 2-D) with a `<name>.weight_scale` (F32/F16/BF16) and optional `<name>.bias`.
 * The scheme comes from the `quantization_config` (in the metadata, or `options.config` from a
 * config.json, or the scale's shape when neither names the layer); the range from this library's
 * `int8_linear` metadata, else 'full' (compressed-tensors' own). A symmetric `weight_zero_point`
 * must be all zeros. Any inconsistency is a FormatError naming the layer.
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
  const { config, ranges } = compressedTensorsInfo(metadata, options.config ?? null);
  const layers: Record<string, QuantizedLinear> = Object.create(null);
  const rest: Record<string, Tensor> = Object.create(null);
  const used = new Set<string>();
  for (const key of Object.keys(tensors)) {
    const name = layerOf(key, 'weightScale');
    if (name === null) continue;
    const n = compressedTensorsNames(name);
    const w = tensors[n.weight];
    if (w === undefined || w.dtype !== 'int8' || w.ndim !== 2) {
      throw new FormatError(`layer '${name}': '${key}' needs an int8 2-D '${n.weight}', got ${w === undefined ? 'none' : `${w.dtype} ${formatShape(w.shape)}`}`);
    }
    const [out, inF] = w.shape;
    const scale = floatTensor(tensors[key], `layer '${name}': weight_scale`);
    const { granularity, groupSize, range } = layerScheme(name, w.shape, scale.shape, config, ranges);
    const zpName = tensorName(name, 'weightZeroPoint');
    const zp = tensors[zpName];
    if (zp !== undefined) {
      if (zp.toFloat32().data.some((v) => v !== 0)) {
        throw new FormatError(`layer '${name}': weight_zero_point has non-zero values; only symmetric quantization is supported`);
      }
      used.add(zpName);
    }
    const bias = tensors[n.bias];
    let layer: QuantizedLinear;
    try {
      layer = new QuantizedLinear(inF, out, { bias: bias !== undefined, granularity, range, ...(groupSize === null ? {} : { groupSize }) });
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
    used.add(n.weight).add(key);
    if (bias !== undefined) used.add(n.bias);
  }
  for (const [k, t] of Object.entries(tensors)) if (!used.has(k)) rest[k] = t;
  return { layers, tensors: rest, raw: Object.assign(Object.create(null) as Record<string, RawTensor>, raw), config, metadata };
}
