/**
 * The streaming checkpoint converter (`int8-linear/node`): a float safetensors checkpoint (a file, or
 * a Hugging Face folder) in, a compressed-tensors int8 one out, a block of rows at a time. The CLI's
 * `quantize` command is this plus argument parsing, progress and printing.
 */
import { join } from 'node:path';
import { FormatError, QuantizationError, checkOptions, oneOf } from '../errors.js';
import { formatOf, quantizeBlocks, type NonFiniteError } from '../format/formats.js';
import { layerOf, tensorName } from '../format/names.js';
import { SCHEME_KEYS, resolveScheme, scaleShape, type QuantScheme, type ResolvedScheme } from '../format/scheme.js';
import type { ActivationMode } from '../nn/quantized-linear.js';
import { computeScaleFinite, dequantize, quantizeFinite } from '../quant/quantize.js';
import { Tensor, numel } from '../tensor.js';
import { DEFAULT_IGNORE, FLOAT_DTYPES, planCheckpoint, preflightError, planShards, shardFileName, type CheckpointEntry, type PlannedLayer } from './checkpoint-plan.js';
import {
  COMPRESSED_TENSORS_FORMATS, SCALE_DTYPES, encodeScale, int8LinearNeeded, packInt8Rows, quantizationConfig,
  type CompressedTensorsFormat, type QuantizationConfig, type ScaleDType,
} from './compressed-tensors.js';
import { INDEX_FILE, copyFiles, folderExtras, resolveCheckpoint, stageFolder } from './node-checkpoint.js';
import { openSafetensors, writeFileAtomic, writeSafetensorsStream, type SafetensorsFile } from './node.js';
import { SAFETENSORS_DTYPE_BYTES, SAFETENSORS_DTYPE_OF, planSafetensors, tensorBytes, tensorFromBytes, type SafetensorsEntry, type SafetensorsPlan, type SafetensorsSpec } from './safetensors.js';

export { DEFAULT_IGNORE };

/** Rows of a weight converted at a time: bounds memory to about this many float32 bytes per step. */
export const DEFAULT_CHUNK_BYTES = 16 * 1024 * 1024;

/** Hugging Face's default `max_shard_size` (5GB, decimal). */
export const DEFAULT_MAX_SHARD_SIZE = 5e9;

/** A layer whose SQNR is this many dB below the median of the checkpoint's layers is flagged in the report (4x the typical noise power or more). */
export const LOW_SQNR_MARGIN_DB = 6;

/**
 * Options of `quantizeCheckpoint`: the scheme (as `quantize`), and how the checkpoint is converted.
 *
 * Example:
 *   const options: QuantizeCheckpointOptions = { granularity: 'group', groupSize: 128, scaleDtype: 'bfloat16' };
 */
export interface QuantizeCheckpointOptions extends QuantScheme {
  /** dtype of the stored scales; default 'float32'. */
  scaleDtype?: ScaleDType;
  /** Patterns (globs, or `re:` regexes) of layers to keep in float, in addition to DEFAULT_IGNORE. */
  ignore?: readonly string[];
  /** Whether DEFAULT_IGNORE (embeddings, lm_head) applies; default true. */
  defaultIgnore?: boolean;
  /** Float32 bytes converted per step (tests use a small value to exercise chunking). */
  chunkBytes?: number;
  /** Called after each block of output is written (so a large tensor moves the bar too). */
  onProgress?: (progress: QuantizeProgress) => void;
  /** Called with each warning (an ignore pattern matching nothing, a Conv1D weight kept in float). */
  onWarning?: (message: string) => void;
  /** Aborting stops the conversion and removes the temporary file(s) at once; input and any existing output are untouched. */
  signal?: AbortSignal;
  /** Layout of weight-only layers: 'pack-quantized' (default, what vLLM loads) or 'int-quantized' (not loadable by vLLM weight-only). */
  format?: CompressedTensorsFormat;
  /** 'int8' writes W8A8 (int-quantized, dynamic per-token int8 input_activations); default 'float32' (weight-only). */
  activations?: ActivationMode;
  /** Quantize GPT-2 Conv1D weights (stored (in, out)) transposed into (out, in) Linear layers instead of keeping them in float. */
  transposeConv1d?: boolean;
  /** Folder output: the largest shard in bytes (a larger tensor gets a shard of its own); default 5GB, as Hugging Face. */
  maxShardSize?: number;
}

const OPTION_KEYS = [...SCHEME_KEYS, 'scaleDtype', 'ignore', 'defaultIgnore', 'chunkBytes', 'onProgress', 'onWarning', 'signal', 'format', 'activations', 'transposeConv1d', 'maxShardSize'];

/**
 * How far a conversion is: bytes of tensor data written (of the output's total), tensors finished, and
 * the tensor being written.
 *
 * Example:
 *   onProgress: (p) => console.error(`${p.bytesDone}/${p.bytesTotal} bytes, ${p.tensorsDone}/${p.tensors} tensors, at ${p.name}`)
 */
export interface QuantizeProgress {
  readonly bytesDone: number;
  readonly bytesTotal: number;
  readonly tensorsDone: number;
  readonly tensors: number;
  readonly name: string;
}

/**
 * One quantized layer in the report.
 *
 * Example:
 *   report.layers[0];   // { name: 'fc1', shape: [128, 64], scaleShape: [128, 1], sqnrDb: 44.6, ... }
 */
export interface LayerReport {
  name: string;
  /** The stored weight's shape ((in, out) for a transposed Conv1D weight). */
  shape: readonly number[];
  dtype: string;
  scaleShape: readonly number[];
  /** A GPT-2 Conv1D weight quantized transposed (saved as an (out, in) Linear). */
  transposed: boolean;
  /** SQNR of the stored weight (int8 times the stored scale) against the input weight, in dB. */
  sqnrDb: number;
  maxAbsError: number;
  /** Bytes of the input weight in its own dtype (BF16/F16: 2 per element, F32: 4). */
  bytesBefore: number;
  /** Bytes of the int8 weight (with packing padding) and its scales. */
  bytesAfter: number;
}

/**
 * What `quantizeCheckpoint` did: the per-layer report the CLI prints.
 *
 * Example:
 *   const { layers, copied, bytesIn, bytesOut, files } = await quantizeCheckpoint(input, output);
 */
export interface QuantizeReport {
  layers: LayerReport[];
  /** Tensors copied unchanged. */
  copied: string[];
  /** 2-D `*.weight` tensors copied because their dtype is not a float this tool quantizes (e.g. F8_E4M3), as 'name (dtype)'. */
  notQuantizable: string[];
  /** Linear-shaped weights left in float because an ignore pattern matched. */
  ignored: string[];
  /** GPT-2 Conv1D weights left in float (not transposed). */
  conv1d: string[];
  /** Layers whose SQNR is more than LOW_SQNR_MARGIN_DB below the median. */
  lowSqnr: string[];
  warnings: string[];
  /** Input files' total size (all shards). */
  bytesIn: number;
  /** Output files' total size (all shards). */
  bytesOut: number;
  /** The dtypes the quantized weights had in the input. */
  sourceDtypes: string[];
  scheme: ResolvedScheme;
  /** The quantization_config written (metadata for a file, config.json for a folder). */
  config: QuantizationConfig | null;
  /** The files written: one for a file, the shards (and index, config.json, copied files) for a folder. */
  files: string[];
}

interface Layer {
  name: string;
  /** The input file's path, for messages. */
  file: string;
  source: SafetensorsFile;
  weight: SafetensorsEntry;
  plan: PlannedLayer;
  /** Whether the int8 values are written packed (pack-quantized) or as a plain I8 weight. */
  packed: boolean;
  scheme: ResolvedScheme;
  /** Largest |w| over the whole weight, for per-tensor scales (filled by the pre-flight pass). */
  absmax: number;
  /** A transposed Conv1D weight as (out, in) float32, while a pass needs it (bounded by the largest tensor). */
  full: Float32Array | null;
  report: LayerReport;
}

/** Rows [r0, r1) of a 2-D float weight, as float32. */
async function rowsF32(file: SafetensorsFile, e: SafetensorsEntry, r0: number, r1: number): Promise<Tensor<'float32'>> {
  const cols = e.shape[1];
  const size = SAFETENSORS_DTYPE_BYTES[e.dtype];
  const bytes = await file.readBytes(e.name, r0 * cols * size, r1 * cols * size);
  return tensorFromBytes({ ...e, shape: [r1 - r0, cols] }, bytes).toFloat32();
}

function* rowBlocks(rows: number, cols: number, chunkBytes: number): Generator<[number, number]> {
  const step = Math.max(1, Math.floor(chunkBytes / (4 * Math.max(1, cols))));
  for (let r = 0; r < rows; r += step) yield [r, Math.min(rows, r + step)];
}

/** The error for a NaN or ±Inf in rows [r0, ...) of a layer's weight: names the file, the layer and the element in the whole weight. */
function nonFiniteIn(layer: Layer, r0: number): NonFiniteError {
  return (value, _index, row, col) =>
    new QuantizationError(
      `${layer.file}: layer '${layer.name}' weight has a non-finite value ${value} at [${r0 + row}, ${col}]; ` +
        `only finite weights can be quantized: fix the checkpoint, or leave the layer in float with --ignore '${layer.name}'`,
    );
}

function absmaxOf(t: Tensor<'float32'>, nonFinite: NonFiniteError): number {
  const d = t.data;
  let m = 0;
  for (let i = 0; i < d.length; i++) {
    const a = Math.abs(d[i]);
    // !(a <= m) is true for a > m and for NaN; only then is the value checked.
    if (!(a <= m)) {
      if (!(a < Infinity)) throw nonFinite(d[i], i, Math.floor(i / t.shape[1]), i % t.shape[1]);
      m = a;
    }
  }
  return m;
}

/** The per-tensor scale of a layer whose whole-weight absmax the pre-flight pass found (the format row's `scaleOf`). */
function tensorScale(layer: Layer): Tensor<'float32'> {
  return new Tensor(Float32Array.of(formatOf(layer.scheme).scaleOf(layer.absmax)), [1], 'float32');
}

/**
 * Quantizes a block of rows. Rows are independent for 'channel' and 'group'; for 'tensor' the one
 * scale comes from the whole weight (the pre-flight pass, which also checked every value is finite),
 * and the rows are quantized with it (the format's block iteration with given scales).
 */
function quantizeRows(w: Tensor<'float32'>, layer: Layer, r0: number): { values: Int8Array; scale: Tensor<'float32'> } {
  const { scheme } = layer;
  if (scheme.granularity !== 'tensor') {
    const q = quantizeFinite(w, scheme, nonFiniteIn(layer, r0));
    return { values: q.values.data, scale: q.scale };
  }
  const scale = tensorScale(layer);
  const values = new Int8Array(w.data.length);
  quantizeBlocks(w.data, scale.data, w.data.length, formatOf(scheme), values);
  return { values, scale };
}

/**
 * Rows [r0, r1) of a layer's weight in Linear (out, in) orientation, as float32: read from the file
 * for a Linear weight; for a Conv1D weight stored (in, out), the whole tensor is read once per pass
 * and transposed (memory: one tensor, the bound the converter keeps).
 */
async function layerRows(layer: Layer, r0: number, r1: number): Promise<Tensor<'float32'>> {
  const cols = layer.plan.inFeatures;
  if (!layer.plan.transpose) return rowsF32(layer.source, layer.weight, r0, r1);
  if (layer.full === null) {
    const t = (await layer.source.read(layer.weight.name)).toFloat32().data;
    const [inF, outF] = layer.weight.shape;
    const full = new Float32Array(outF * inF);
    for (let i = 0; i < inF; i++) for (let o = 0; o < outF; o++) full[o * inF + i] = t[i * outF + o];
    layer.full = full;
  }
  return new Tensor(layer.full.slice(r0 * cols, r1 * cols), [r1 - r0, cols], 'float32');
}

async function* scaleBytes(layer: Layer, dtype: ScaleDType, chunkBytes: number): AsyncGenerator<Uint8Array> {
  const { scheme } = layer;
  if (scheme.granularity === 'tensor') {
    // The pre-flight pass found the whole weight's absmax.
    yield tensorBytes(encodeScale(tensorScale(layer), dtype, layer.name));
    return;
  }
  for (const [r0, r1] of rowBlocks(layer.plan.outFeatures, layer.plan.inFeatures, chunkBytes)) {
    yield tensorBytes(encodeScale(computeScaleFinite(await layerRows(layer, r0, r1), scheme, nonFiniteIn(layer, r0)), dtype, layer.name));
  }
}

async function* weightBytes(layer: Layer, dtype: ScaleDType, chunkBytes: number): AsyncGenerator<Uint8Array> {
  const { scheme, report } = layer;
  const rows = layer.plan.outFeatures;
  const cols = layer.plan.inFeatures;
  let signal = 0;
  let noise = 0;
  let maxErr = 0;
  for (const [r0, r1] of rowBlocks(rows, cols, chunkBytes)) {
    const w = await layerRows(layer, r0, r1);
    const { values, scale } = quantizeRows(w, layer, r0);
    // Errors are those of what is stored: int8 times the scale as saved (rounded if f16/bf16).
    const stored = encodeScale(scale, dtype, layer.name).toFloat32();
    const back = dequantize({ ...scheme, values: new Tensor(values, w.shape, 'int8'), scale: stored }).data;
    const wd = w.data;
    for (let i = 0; i < wd.length; i++) {
      const e = wd[i] - back[i];
      signal += wd[i] * wd[i];
      noise += e * e;
      const a = Math.abs(e);
      if (a > maxErr) maxErr = a;
    }
    if (layer.packed) {
      const p = packInt8Rows(values, w.shape[0], cols);
      yield new Uint8Array(p.buffer, p.byteOffset, p.byteLength);
    } else yield new Uint8Array(values.buffer, values.byteOffset, values.length);
  }
  layer.full = null;
  report.sqnrDb = 10 * Math.log10(signal / noise);
  report.maxAbsError = maxErr;
}

/** What one output tensor is made of. */
type OutputSource = { kind: 'copy'; file: SafetensorsFile; entry: SafetensorsEntry } | { kind: 'weight' | 'shape' | 'scale'; layer: Layer };

function median(values: readonly number[]): number {
  const v = [...values].sort((a, b) => a - b);
  return v.length === 0 ? NaN : v.length % 2 === 1 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
}

/**
 * Quantizes a checkpoint to compressed-tensors int8: a `.safetensors` file into a file, or a Hugging
 * Face folder (or its `model.safetensors.index.json`) into a folder. Every 2-D float `*.weight` that
 * is not ignored (DEFAULT_IGNORE, embeddings and lm_head, plus `ignore`) becomes an int8 layer,
 * `pack-quantized` for weight-only (what vLLM loads) or `int-quantized` for W8A8 / on request; every
 * other tensor is copied byte for byte in its dtype. GPT-2 Conv1D weights ((in, out)) stay in float
 * with a warning, or become (out, in) layers with `transposeConv1d`.
 *
 * Before anything is written, a pre-flight pass checks every layer (scheme fits, finite values) and
 * lists every problem in one QuantizationError. Streams a block of rows at a time (`chunkBytes`;
 * a transposed Conv1D weight whole), so memory is bounded by the largest tensor whatever the number
 * of shards. A file is written atomically (`writeFileAtomic`'s rules) and never over the input under
 * any name; a folder is staged beside the output and renamed into place whole: shards of at most
 * `maxShardSize` (Hugging Face names), an index whose weight_map covers every tensor, config.json
 * with `quantization_config` merged into the input's, and the input folder's small files copied.
 *
 * Shape: weight (out, in) -> weight_packed int32 (out, ceil(in / 4)) + weight_shape [out, in] (or
 * weight int8 (out, in)) + weight_scale (1,) | (out, 1) | (out, in / g).
 *
 * Example:
 *   import { quantizeCheckpoint } from 'int8-linear/node';
 *   const report = await quantizeCheckpoint('Llama-3.2-1B', 'Llama-3.2-1B-int8', { granularity: 'channel', scaleDtype: 'bfloat16' });
 *   report.files;   // ['model.safetensors', 'config.json', 'generation_config.json', ...]
 */
export async function quantizeCheckpoint(input: string, output: string, options: QuantizeCheckpointOptions = {}): Promise<QuantizeReport> {
  const who = 'quantizeCheckpoint';
  checkOptions(who, options, OPTION_KEYS, QuantizationError);
  const {
    scaleDtype = 'float32', ignore = [], defaultIgnore = true, chunkBytes = DEFAULT_CHUNK_BYTES, onProgress, onWarning, signal,
    format = 'pack-quantized', activations = 'float32', transposeConv1d = false, maxShardSize = DEFAULT_MAX_SHARD_SIZE, ...schemeOptions
  } = options;
  oneOf(`${who}: scaleDtype`, scaleDtype, SCALE_DTYPES, QuantizationError);
  oneOf(`${who}: format`, format, COMPRESSED_TENSORS_FORMATS, QuantizationError);
  oneOf(`${who}: activations`, activations, ['float32', 'int8'], QuantizationError);
  if (!Array.isArray(ignore) || ignore.some((p) => typeof p !== 'string')) throw new QuantizationError(`${who}: ignore must be a list of patterns (strings)`);
  if (!(Number.isSafeInteger(maxShardSize) && maxShardSize > 0)) throw new QuantizationError(`${who}: maxShardSize must be a positive number of bytes, got ${String(maxShardSize)}`);
  const packed = format === 'pack-quantized' && activations === 'float32';
  const scheme = resolveScheme(schemeOptions, null, who);
  const source = await resolveCheckpoint(input);
  if (isObjectWith(source.config, 'quantization_config')) {
    throw new FormatError(`${join(source.dir, 'config.json')} already has a quantization_config; quantize the float checkpoint instead`);
  }
  if (source.kind === 'folder' && output.endsWith('.safetensors')) {
    throw new FormatError(`${input} is a checkpoint folder (or index), which gives a folder; -o ${output} names a .safetensors file: give a folder name`);
  }
  const files: SafetensorsFile[] = [];
  try {
    for (const shard of source.shards) files.push(await openSafetensors(shard));
    // Every tensor of every shard, once; the index (if any) must agree with the shards.
    const where = new Map<string, { file: SafetensorsFile; entry: SafetensorsEntry }>();
    const entries: CheckpointEntry[] = [];
    for (const f of files) {
      if (f.metadata?.quantization_config !== undefined) throw new FormatError(`${f.path} already has a quantization_config; quantize the float checkpoint instead`);
      for (const e of f.entries) {
        const seen = where.get(e.name);
        if (seen !== undefined) throw new FormatError(`tensor '${e.name}' is in two shards: ${seen.file.path} and ${f.path}`);
        const mapped = source.weightMap?.[e.name];
        if (source.weightMap !== null && mapped !== f.path.split(/[\\/]/).pop()) {
          throw new FormatError(`${f.path}: tensor '${e.name}' is ${mapped === undefined ? 'not in the index weight_map' : `in the index under ${mapped}`}; the index and the shards disagree`);
        }
        where.set(e.name, { file: f, entry: e });
        entries.push({ name: e.name, dtype: e.dtype, shape: e.shape, file: f.path });
      }
    }
    for (const name of Object.keys(source.weightMap ?? {})) {
      if (!where.has(name)) throw new FormatError(`${INDEX_FILE} lists tensor '${name}' in ${source.weightMap?.[name]}, which does not have it`);
    }
    const modelType = typeof source.config?.model_type === 'string' ? source.config.model_type : null;
    const plan = planCheckpoint(entries, { scheme: schemeOptions, ignore, defaultIgnore, transposeConv1d, modelType });
    for (const w of plan.warnings) onWarning?.(w);
    const layers = new Map<string, Layer>();
    for (const p of plan.layers) {
      const { file, entry } = where.get(p.weight.name) as { file: SafetensorsFile; entry: SafetensorsEntry };
      const sShape = scaleShape(p.outFeatures, p.inFeatures, p.scheme);
      const scaleBytesCount = numel(sShape) * SAFETENSORS_DTYPE_BYTES[SAFETENSORS_DTYPE_OF[scaleDtype]];
      layers.set(p.weight.name, {
        name: p.name, file: file.path, source: file, weight: entry, plan: p, packed, scheme: p.scheme, absmax: 0, full: null,
        report: {
          name: p.name, shape: entry.shape, dtype: entry.dtype, scaleShape: sShape, transposed: p.transpose, sqnrDb: NaN, maxAbsError: NaN,
          bytesBefore: entry.dataOffsets[1] - entry.dataOffsets[0],
          bytesAfter: (packed ? p.outFeatures * Math.ceil(p.inFeatures / 4) * 4 + 16 : p.outFeatures * p.inFeatures) + scaleBytesCount,
        },
      });
    }
    // The config first: W8A8 with group scales is refused here, before any weight is read.
    const schemes = Object.fromEntries([...layers.values()].map((l) => [l.name, { ...l.scheme, activations }]));
    const keptNames = plan.kept.map((k) => k.name);
    const weightsBefore = [...layers.values()].reduce((a, l) => a + l.report.bytesBefore, 0);
    const weightsAfter = [...layers.values()].reduce((a, l) => a + l.report.bytesAfter, 0);
    const ratio = weightsAfter === 0 ? null : Math.round((weightsBefore / weightsAfter) * 1000) / 1000;
    const { config, int8Linear } = quantizationConfig(schemes, keptNames, { format, compressionRatio: ratio });

    // Pre-flight over the data: every layer with a NaN or ±Inf, listed together; per-tensor absmax on the way.
    const problems: string[] = [];
    for (const layer of layers.values()) {
      signal?.throwIfAborted();
      try {
        for (const [r0, r1] of rowBlocks(layer.plan.outFeatures, layer.plan.inFeatures, chunkBytes)) {
          layer.absmax = Math.max(layer.absmax, absmaxOf(await layerRows(layer, r0, r1), nonFiniteIn(layer, r0)));
        }
      } catch (e) {
        if (!(e instanceof QuantizationError)) throw e;
        problems.push(e.message);
      }
      layer.full = null;
    }
    if (problems.length > 0) {
      throw preflightError(problems, 'fix the checkpoint, or keep these layers in float with --ignore <name>');
    }

    // The output tensors, in input order: a layer's weight becomes its int8 tensors in place.
    const specs: SafetensorsSpec[] = [];
    const byOutput = new Map<string, OutputSource>();
    const add = (spec: SafetensorsSpec, what: OutputSource): void => {
      if (byOutput.has(spec.name)) throw new FormatError(`${input} already has a tensor '${spec.name}'; is it already quantized?`);
      specs.push(spec);
      byOutput.set(spec.name, what);
    };
    const report: QuantizeReport = {
      layers: [], copied: [], notQuantizable: [], ignored: plan.kept.filter((k) => k.reason === 'ignored').map((k) => k.name), conv1d: plan.kept.filter((k) => k.reason === 'conv1d').map((k) => k.name),
      lowSqnr: [], warnings: plan.warnings, bytesIn: files.reduce((a, f) => a + f.size, 0), bytesOut: 0,
      sourceDtypes: [...new Set([...layers.values()].map((l) => l.weight.dtype))], scheme, config, files: [],
    };
    for (const { file, entry: e } of where.values()) {
      const layer = layers.get(e.name);
      if (layer === undefined) {
        add({ name: e.name, dtype: e.dtype, shape: e.exactShape ?? e.shape }, { kind: 'copy', file, entry: e });
        report.copied.push(e.name);
        if (layerOf(e.name, 'weight') !== null && e.shape.length === 2 && !FLOAT_DTYPES.has(e.dtype)) report.notQuantizable.push(`${e.name} (${e.dtype})`);
        continue;
      }
      const { outFeatures: out, inFeatures: inF } = layer.plan;
      if (layer.packed) {
        add({ name: tensorName(layer.name, 'weightPacked'), dtype: 'I32', shape: [out, Math.ceil(inF / 4)] }, { kind: 'weight', layer });
        add({ name: tensorName(layer.name, 'weightShape'), dtype: 'I64', shape: [2] }, { kind: 'shape', layer });
      } else add({ name: tensorName(layer.name, 'weight'), dtype: 'I8', shape: [out, inF] }, { kind: 'weight', layer });
      add({ name: tensorName(layer.name, 'weightScale'), dtype: SAFETENSORS_DTYPE_OF[scaleDtype], shape: layer.report.scaleShape }, { kind: 'scale', layer });
      report.layers.push(layer.report);
    }
    report.layers.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));

    const tensorData = async function* (e: SafetensorsEntry): AsyncGenerator<Uint8Array> {
      const what = byOutput.get(e.name);
      if (what === undefined) throw new FormatError(`internal: no source for output tensor '${e.name}'`);
      if (what.kind === 'copy') {
        const size = e.dataOffsets[1] - e.dataOffsets[0];
        for (let at = 0; at < size; at += chunkBytes) yield await what.file.readBytes(what.entry.name, at, Math.min(size, at + chunkBytes));
      } else if (what.kind === 'shape') {
        yield new Uint8Array(new BigInt64Array([BigInt(what.layer.plan.outFeatures), BigInt(what.layer.plan.inFeatures)]).buffer);
      } else if (what.kind === 'scale') yield* scaleBytes(what.layer, scaleDtype, chunkBytes);
      else yield* weightBytes(what.layer, scaleDtype, chunkBytes);
    };
    // Bytes of tensor data over every output file (the specs are the tensors; a shard holds some of them).
    const progress = { bytesDone: 0, bytesTotal: specs.reduce((a, sp) => a + sp.shape.reduce<number>((n, d) => n * Number(d), 1) * SAFETENSORS_DTYPE_BYTES[sp.dtype], 0), tensorsDone: 0, tensors: specs.length, name: '' };
    const data = async function* (e: SafetensorsEntry): AsyncGenerator<Uint8Array> {
      progress.name = e.name;
      for await (const chunk of tensorData(e)) {
        yield chunk;
        // Resumed once the writer has taken the block.
        progress.bytesDone += chunk.byteLength;
        onProgress?.({ ...progress });
      }
      progress.tensorsDone++;
    };
    const writeOptions = { keep: files.map((f) => f.id), ...(signal === undefined ? {} : { signal }) };
    if (source.kind === 'file') {
      const metadata = { format: 'pt', ...(files[0].metadata ?? {}), quantization_config: JSON.stringify(config), int8_linear: int8Linear };
      const out = planSafetensors(specs, metadata);
      await writeSafetensorsStream(output, out, data, writeOptions);
      report.bytesOut = out.fileSize;
      report.files = [output];
    } else {
      await writeFolder(source, output, specs, int8LinearNeeded(int8Linear) ? { format: 'pt', int8_linear: int8Linear } : { format: 'pt' }, config, maxShardSize, data, writeOptions, report);
    }
    const sqnrs = report.layers.map((l) => l.sqnrDb).filter((x) => Number.isFinite(x));
    const typical = median(sqnrs);
    report.lowSqnr = report.layers.filter((l) => l.sqnrDb < typical - LOW_SQNR_MARGIN_DB).map((l) => l.name);
    return report;
  } finally {
    for (const f of files) await f.close();
  }
}

function isObjectWith(v: unknown, key: string): boolean {
  return typeof v === 'object' && v !== null && Object.prototype.hasOwnProperty.call(v, key);
}

/**
 * Writes the output folder, staged and renamed into place whole: Hugging Face shards of at most
 * `maxShardSize` bytes of tensor data, the index (weight_map of every tensor, total_size, keys sorted
 * as transformers writes them) when there are several, config.json with the quantization_config
 * merged into the input's, and the input folder's other small files.
 */
async function writeFolder(
  source: Awaited<ReturnType<typeof resolveCheckpoint>>,
  output: string,
  specs: readonly SafetensorsSpec[],
  metadata: Record<string, string>,
  config: QuantizationConfig,
  maxShardSize: number,
  data: (e: SafetensorsEntry) => AsyncGenerator<Uint8Array>,
  writeOptions: { signal?: AbortSignal },
  report: QuantizeReport,
): Promise<void> {
  const sizes = specs.map((s) => s.shape.reduce((a: number, b) => a * Number(b), 1) * SAFETENSORS_DTYPE_BYTES[s.dtype]);
  const { shardOf, count } = planShards(sizes, maxShardSize);
  const shards: SafetensorsPlan[] = [];
  for (let i = 0; i < count; i++) shards.push(planSafetensors(specs.filter((_, j) => shardOf[j] === i), metadata));
  const extras = await folderExtras(source.dir);
  const stage = await stageFolder(output);
  try {
    const weightMap: Record<string, string> = {};
    for (let i = 0; i < count; i++) {
      const name = shardFileName(i, count);
      await writeSafetensorsStream(join(stage.dir, name), shards[i], data, writeOptions);
      for (const e of shards[i].entries) weightMap[e.name] = name;
      report.bytesOut += shards[i].fileSize;
      report.files.push(name);
    }
    if (count > 1) {
      const sorted = Object.fromEntries(Object.keys(weightMap).sort().map((k) => [k, weightMap[k]]));
      const index = { metadata: { total_size: sizes.reduce((a, b) => a + b, 0) }, weight_map: sorted };
      await writeText(join(stage.dir, INDEX_FILE), `${JSON.stringify(index, null, 2)}\n`);
      report.files.push(INDEX_FILE);
    }
    await writeText(join(stage.dir, 'config.json'), `${JSON.stringify({ ...(source.config ?? {}), quantization_config: config }, null, 2)}\n`);
    report.files.push('config.json');
    writeOptions.signal?.throwIfAborted();
    await copyFiles(source.dir, stage.dir, extras);
    report.files.push(...extras);
    await stage.commit();
  } catch (e) {
    await stage.abort();
    throw e;
  }
}

async function writeText(path: string, text: string): Promise<void> {
  await writeFileAtomic(path, async (fh) => {
    await fh.writeFile(text, 'utf8');
  });
}
