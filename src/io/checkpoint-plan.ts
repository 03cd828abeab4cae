/**
 * Planning a checkpoint conversion, before any byte is read or written (browser-safe): which 2-D
 * weights become int8 layers, which stay in float and why, GPT-2 Conv1D detection, the pre-flight
 * list of layers that cannot be quantized as asked, and Hugging Face's shard layout.
 */
import picomatch from 'picomatch';
import { QuantizationError, FormatError } from '../errors.js';
import { layerOf } from '../format/names.js';
import { resolveScheme, type QuantScheme, type ResolvedScheme } from '../format/scheme.js';
import { matchesTarget } from './compressed-tensors.js';
import type { SafetensorsDType } from './safetensors.js';

/**
 * Layers left in float by default, as compressed-tensors and llm-compressor do: the output head and
 * the embeddings (matched against the layer name, i.e. the tensor name without `.weight`).
 */
export const DEFAULT_IGNORE: readonly string[] = ['lm_head', '*.lm_head', '*embed*', '*wte', '*wpe'];

/** Float dtypes a Linear weight may have in the input. */
export const FLOAT_DTYPES: ReadonlySet<string> = new Set(['F32', 'F16', 'BF16', 'F64']);

/** GPT-2's Conv1D layers (transformers `modeling_gpt2`), which store their weight as (in, out). */
const GPT2_CONV1D = /(^|\.)(c_attn|c_proj|c_fc|q_attn)$/;

/** A tensor of the input checkpoint, as its header describes it. */
export interface CheckpointEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: readonly number[];
  /** The shard it is in (for messages). */
  file?: string;
}

/** Options of `planCheckpoint`. */
export interface PlanOptions {
  scheme?: QuantScheme;
  /** Patterns of layers to keep in float, added to DEFAULT_IGNORE: globs, or `re:` regexes as compressed-tensors matches them. */
  ignore?: readonly string[];
  /** Whether DEFAULT_IGNORE applies (default true). */
  defaultIgnore?: boolean;
  /** Quantize GPT-2 Conv1D weights transposed to (out, in), instead of keeping them in float. */
  transposeConv1d?: boolean;
  /** `model_type` from config.json, if any. */
  modelType?: string | null;
}

/** One weight that becomes an int8 layer. */
export interface PlannedLayer {
  name: string;
  weight: CheckpointEntry;
  /** (out, in) of the saved layer (the stored weight is (in, out) when `transpose`). */
  outFeatures: number;
  inFeatures: number;
  /** A Conv1D weight, quantized transposed. */
  transpose: boolean;
  scheme: ResolvedScheme;
}

/** What `planCheckpoint` decides. */
export interface CheckpointPlan {
  layers: PlannedLayer[];
  /** Linear-shaped float weights left in float, with the reason ('ignored' or 'conv1d'). */
  kept: { name: string; reason: 'ignored' | 'conv1d' }[];
  /** Human-readable warnings (patterns that match nothing, Conv1D weights kept in float). */
  warnings: string[];
}

/** A layer-name matcher for one ignore pattern: `re:` as compressed-tensors (RE2, anchored at the start), else a glob. */
function patternMatcher(pattern: string): (name: string) => boolean {
  if (pattern.startsWith('re:')) return (name) => matchesTarget(pattern, name);
  const glob = picomatch(pattern, { dot: true });
  return (name) => glob(name);
}

/**
 * Whether a 2-D weight is a Conv1D weight stored as (in, out) rather than a Linear (out, in): its
 * bias has the length of the second dimension (and not of the first), or the name is one of GPT-2's
 * Conv1D layers under `model_type: "gpt2"`.
 *
 * Example:
 *   isConv1D('h.0.attn.c_attn', [128, 384], [384], null);   // true
 */
export function isConv1D(name: string, shape: readonly number[], biasShape: readonly number[] | null, modelType: string | null): boolean {
  if (biasShape !== null && biasShape.length === 1 && biasShape[0] === shape[1] && shape[0] !== shape[1]) return true;
  return modelType === 'gpt2' && GPT2_CONV1D.test(name);
}

/**
 * Decides, from the headers alone, what converting `entries` does: every 2-D float `*.weight` not
 * ignored (DEFAULT_IGNORE unless `defaultIgnore: false`, plus `ignore`) becomes an int8 layer; a
 * GPT-2 Conv1D weight stays in float with a warning, or is quantized transposed with
 * `transposeConv1d`; an ignore pattern that matches nothing is a warning naming it. Layers that
 * cannot be quantized as asked (the group size does not divide in_features, a bias that fits
 * neither layout) are all listed in one QuantizationError, with file and layer names.
 *
 * Example:
 *   planCheckpoint([{ name: 'fc.weight', dtype: 'F32', shape: [4, 8] }], { scheme: { granularity: 'channel' } }).layers[0].name;   // 'fc'
 */
export function planCheckpoint(entries: readonly CheckpointEntry[], options: PlanOptions = {}): CheckpointPlan {
  const { scheme = {}, ignore = [], defaultIgnore = true, transposeConv1d = false, modelType = null } = options;
  const user = ignore.filter((p) => p !== '').map((p) => ({ pattern: p, match: patternMatcher(p), used: false }));
  const defaults = defaultIgnore ? DEFAULT_IGNORE.map(patternMatcher) : [];
  const byName = new Map(entries.map((e) => [e.name, e]));
  const plan: CheckpointPlan = { layers: [], kept: [], warnings: [] };
  const problems: string[] = [];
  for (const e of entries) {
    const name = layerOf(e.name, 'weight');
    if (name === null || e.shape.length !== 2 || !FLOAT_DTYPES.has(e.dtype) || e.shape[0] === 0 || e.shape[1] === 0) continue;
    let ignored = defaults.some((m) => m(name));
    for (const u of user) {
      if (u.match(name)) {
        u.used = true;
        ignored = true;
      }
    }
    if (ignored) {
      plan.kept.push({ name, reason: 'ignored' });
      continue;
    }
    const where = `${e.file === undefined ? '' : `${e.file}: `}layer '${name}' ${e.dtype} (${e.shape.join(', ')})`;
    const bias = byName.get(name === '' ? 'bias' : `${name}.bias`);
    const biasShape = bias === undefined ? null : bias.shape;
    const conv1d = isConv1D(name, e.shape, biasShape, modelType);
    if (conv1d && !transposeConv1d) {
      plan.kept.push({ name, reason: 'conv1d' });
      plan.warnings.push(
        `${where} is a Conv1D weight stored as (in, out) (GPT-2 layout), not a Linear (out, in): kept in float; ` +
          'pass --transpose-conv1d to quantize it as the Linear it is (scales per output feature)',
      );
      continue;
    }
    const [outF, inF] = conv1d ? [e.shape[1], e.shape[0]] : [e.shape[0], e.shape[1]];
    if (biasShape !== null && !(biasShape.length === 1 && biasShape[0] === outF)) {
      problems.push(`${where}: bias of shape (${biasShape.join(', ')}) fits neither a Linear (out = ${outF}) nor a Conv1D layout`);
      continue;
    }
    try {
      plan.layers.push({ name, weight: e, outFeatures: outF, inFeatures: inF, transpose: conv1d, scheme: resolveScheme(scheme, inF, 'quantize') });
    } catch (err) {
      if (!(err instanceof QuantizationError)) throw err;
      problems.push(`${where}${conv1d ? ' (Conv1D, transposed)' : ''}: ${err.message}`);
    }
  }
  if (problems.length > 0) {
    throw preflightError(problems, 'fix the scheme, or keep these layers in float with --ignore <name>');
  }
  for (const u of user) if (!u.used) plan.warnings.push(`--ignore ${JSON.stringify(u.pattern)} matches no quantizable layer`);
  return plan;
}

/**
 * The pre-flight error: every problem in the message (one per line) and in `problems`, so the CLI
 * can print each on its own line; a single problem is a one-line message.
 *
 * Example:
 *   throw preflightError(["layer 'a' ...: in_features 30 is not divisible by groupSize 16"], 'fix the scheme');
 */
export function preflightError(problems: readonly string[], hint: string): QuantizationError {
  // One problem stays one line, as every other bad-input error of the CLI.
  if (problems.length === 1) return new QuantizationError(`${problems[0]}; nothing was written`);
  const e = new QuantizationError(`${problems.length} layer(s) cannot be quantized as asked; nothing was written; ${hint}:\n  ${problems.join('\n  ')}`);
  return Object.assign(e, { problems: [...problems] });
}

/**
 * A size such as Hugging Face's `max_shard_size` takes ('5GB', '500MB', '2GiB', or a number of
 * bytes), in bytes: decimal units are powers of 1000, binary ones (KiB, MiB, GiB) of 1024, as
 * `transformers.utils.convert_file_size_to_int`.
 *
 * Example:
 *   parseSize('5GB');   // 5000000000
 */
export function parseSize(text: string | number): number {
  if (typeof text === 'number' && Number.isSafeInteger(text) && text > 0) return text;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)?\s*$/i.exec(String(text));
  const unit = (m?.[2] ?? 'B').toUpperCase();
  const mult: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KIB: 2 ** 10, MIB: 2 ** 20, GIB: 2 ** 30, TIB: 2 ** 40 };
  const bytes = m === null ? NaN : Math.floor(Number(m[1]) * mult[unit]);
  if (!(Number.isSafeInteger(bytes) && bytes > 0)) {
    throw new FormatError(`size ${JSON.stringify(text)} is not a size; expected e.g. 5GB, 500MB, 2GiB or a number of bytes`);
  }
  return bytes;
}

/**
 * Splits tensors of the given byte sizes into shards as Hugging Face's `save_pretrained` does: in
 * order, a new shard when the next tensor would take the current one over `maxShardSize` (a tensor
 * larger than that gets a shard of its own). Returns the shard index of each tensor.
 *
 * Example:
 *   planShards([4, 4, 4], 8);   // { shardOf: [0, 0, 1], count: 2 }
 */
export function planShards(sizes: readonly number[], maxShardSize: number): { shardOf: number[]; count: number } {
  const shardOf: number[] = [];
  let shard = 0;
  let used = 0;
  for (const size of sizes) {
    if (used > 0 && used + size > maxShardSize) {
      shard++;
      used = 0;
    }
    shardOf.push(shard);
    used += size;
  }
  return { shardOf, count: sizes.length === 0 ? 1 : shard + 1 };
}

/**
 * The file name of shard `i` (0-based) of `count`, as Hugging Face names them:
 * `model.safetensors` when there is one, else `model-00001-of-00003.safetensors`.
 *
 * Example:
 *   shardFileName(0, 2);   // 'model-00001-of-00002.safetensors'
 */
export function shardFileName(i: number, count: number): string {
  if (count === 1) return 'model.safetensors';
  const pad = (n: number): string => String(n).padStart(5, '0');
  return `model-${pad(i + 1)}-of-${pad(count)}.safetensors`;
}
