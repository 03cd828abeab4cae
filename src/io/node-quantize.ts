/**
 * The streaming checkpoint converter (`int8-linear/node`): a float safetensors checkpoint in, a
 * compressed-tensors int8 one out, a block of rows at a time. The CLI's `quantize` command is this
 * plus argument parsing, progress and printing.
 */
import picomatch from 'picomatch';
import { FormatError, QuantizationError, checkOptions, oneOf } from '../errors.js';
import { formatOf, quantizeBlocks, type NonFiniteError } from '../format/formats.js';
import { layerOf, tensorName } from '../format/names.js';
import { SCHEME_KEYS, resolveScheme, scaleShape, type QuantScheme, type ResolvedScheme } from '../format/scheme.js';
import { computeScaleFinite, dequantize, quantizeFinite } from '../quant/quantize.js';
import { Tensor, numel } from '../tensor.js';
import { SCALE_DTYPES, encodeScale, quantizationConfig, type QuantizationConfig, type ScaleDType } from './compressed-tensors.js';
import { openSafetensors, writeSafetensorsStream, type SafetensorsFile } from './node.js';
import { SAFETENSORS_DTYPE_BYTES, SAFETENSORS_DTYPE_OF, planSafetensors, tensorBytes, tensorFromBytes, type SafetensorsEntry, type SafetensorsSpec } from './safetensors.js';

/**
 * Layers left in float unless `--ignore` says otherwise, as compressed-tensors does: the output head
 * and embeddings (matched against the layer name, i.e. the tensor name without `.weight`).
 */
export const DEFAULT_IGNORE: readonly string[] = ['lm_head', '*.lm_head', '*embed*', '*wte', '*wpe'];

/** Float dtypes a Linear weight may have in the input. */
const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64']);

/** Rows of a weight converted at a time: bounds memory to about this many float32 bytes per step. */
export const DEFAULT_CHUNK_BYTES = 16 * 1024 * 1024;

/**
 * Options of `quantizeCheckpoint`: the scheme (as `quantize`), and how the file is converted.
 *
 * Example:
 *   const options: QuantizeCheckpointOptions = { granularity: 'group', groupSize: 128, scaleDtype: 'bfloat16' };
 */
export interface QuantizeCheckpointOptions extends QuantScheme {
  /** dtype of the stored scales; default 'float32'. */
  scaleDtype?: ScaleDType;
  /** Globs of layer names to leave in float; default DEFAULT_IGNORE. */
  ignore?: readonly string[];
  /** Float32 bytes converted per step (tests use a small value to exercise chunking). */
  chunkBytes?: number;
  /** Called after each output tensor is written. */
  onProgress?: (done: number, total: number, name: string) => void;
  /** Aborting stops the conversion and removes the temporary file at once; input and any existing output are untouched. */
  signal?: AbortSignal;
}

/**
 * One quantized layer in the report.
 *
 * Example:
 *   report.layers[0];   // { name: 'fc1', shape: [128, 64], scaleShape: [128, 1], sqnrDb: 44.6, ... }
 */
export interface LayerReport {
  name: string;
  shape: readonly number[];
  dtype: string;
  scaleShape: readonly number[];
  /** SQNR of the stored weight (int8 times the stored scale) against the input weight, in dB. */
  sqnrDb: number;
  maxAbsError: number;
  bytesBefore: number;
  bytesAfter: number;
}

/**
 * What `quantizeCheckpoint` did: the per-layer report the CLI prints.
 *
 * Example:
 *   const { layers, copied, bytesIn, bytesOut } = await quantizeCheckpoint(input, output);
 */
export interface QuantizeReport {
  layers: LayerReport[];
  /** Tensors copied unchanged. */
  copied: string[];
  /** 2-D `*.weight` tensors copied unchanged because their dtype is not a float dtype this tool quantizes (F8_*, F4, BOOL, ...). */
  notQuantizable: string[];
  /** Linear-shaped weights left in float because an ignore glob matched. */
  ignored: string[];
  bytesIn: number;
  bytesOut: number;
  scheme: ResolvedScheme;
  /** The quantization_config written into the metadata. */
  config: QuantizationConfig | null;
}

interface Layer {
  name: string;
  /** The input file's path, for messages. */
  file: string;
  weight: SafetensorsEntry;
  scheme: ResolvedScheme;
  /** Largest |w| over the whole weight, for per-tensor scales (filled by the scale pass). */
  absmax: number;
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

/** The per-tensor scale of a layer whose whole-weight absmax the scale pass found (the format row's `scaleOf`). */
function tensorScale(layer: Layer): Tensor<'float32'> {
  return new Tensor(Float32Array.of(formatOf(layer.scheme).scaleOf(layer.absmax)), [1], 'float32');
}

/**
 * Quantizes a block of rows. Rows are independent for 'channel' and 'group'; for 'tensor' the one
 * scale comes from the whole weight (the scale pass, which also checked every value is finite), and
 * the rows are quantized with it (the format's block iteration with given scales).
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

async function* scaleBytes(file: SafetensorsFile, layer: Layer, dtype: ScaleDType, chunkBytes: number): AsyncGenerator<Uint8Array> {
  const { weight, scheme } = layer;
  const [rows, cols] = weight.shape;
  if (scheme.granularity === 'tensor') {
    for (const [r0, r1] of rowBlocks(rows, cols, chunkBytes)) layer.absmax = Math.max(layer.absmax, absmaxOf(await rowsF32(file, weight, r0, r1), nonFiniteIn(layer, r0)));
    yield tensorBytes(encodeScale(tensorScale(layer), dtype, layer.name));
    return;
  }
  for (const [r0, r1] of rowBlocks(rows, cols, chunkBytes)) {
    yield tensorBytes(encodeScale(computeScaleFinite(await rowsF32(file, weight, r0, r1), scheme, nonFiniteIn(layer, r0)), dtype, layer.name));
  }
}

async function* weightBytes(file: SafetensorsFile, layer: Layer, dtype: ScaleDType, chunkBytes: number): AsyncGenerator<Uint8Array> {
  const { weight, scheme, report } = layer;
  const [rows, cols] = weight.shape;
  let signal = 0;
  let noise = 0;
  let maxErr = 0;
  for (const [r0, r1] of rowBlocks(rows, cols, chunkBytes)) {
    const w = await rowsF32(file, weight, r0, r1);
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
    yield new Uint8Array(values.buffer, values.byteOffset, values.length);
  }
  report.sqnrDb = 10 * Math.log10(signal / noise);
  report.maxAbsError = maxErr;
}

/**
 * Quantizes every 2-D float `*.weight` of a safetensors checkpoint that is not ignored to int8, in
 * the compressed-tensors layout, copying every other tensor byte for byte in its dtype, and returns
 * the per-layer report (`int8-linear quantize` prints it). Streams: a block of rows at a time
 * (`chunkBytes`), so memory does not grow with the file or the tensor.
 * The output is written atomically (`writeFileAtomic`'s rules: never a device, FIFO or folder, a
 * symlink written through, permission bits kept) and never over the input under any name (same
 * device and inode is refused).
 *
 * Shape: weight (out, in) -> weight int8 (out, in) + weight_scale (1,) | (out, 1) | (out, in / g).
 *
 * Example:
 *   import { quantizeCheckpoint } from 'int8-linear/node';
 *   const report = await quantizeCheckpoint('mlp.safetensors', 'mlp-int8.safetensors', { granularity: 'channel' });
 *   report.layers[0].scaleShape;   // [128, 1]
 */
export async function quantizeCheckpoint(input: string, output: string, options: QuantizeCheckpointOptions = {}): Promise<QuantizeReport> {
  checkOptions('quantizeCheckpoint', options, [...SCHEME_KEYS, 'scaleDtype', 'ignore', 'chunkBytes', 'onProgress', 'signal'], QuantizationError);
  const { scaleDtype = 'float32', ignore = DEFAULT_IGNORE, chunkBytes = DEFAULT_CHUNK_BYTES, onProgress, signal, ...schemeOptions } = options;
  oneOf('quantizeCheckpoint: scaleDtype', scaleDtype, SCALE_DTYPES, QuantizationError);
  const isIgnored = picomatch([...ignore].filter((g) => g !== ''), { dot: true });
  const file = await openSafetensors(input);
  try {
    if (file.metadata?.quantization_config !== undefined) {
      throw new FormatError(`${input} already has a quantization_config; quantize the float checkpoint instead`);
    }
    const layers = new Map<string, Layer>();
    const byOutput = new Map<string, { kind: 'copy' | 'weight' | 'scale'; layer?: Layer; source?: SafetensorsEntry }>();
    const specs: SafetensorsSpec[] = [];
    const report: QuantizeReport = { layers: [], copied: [], notQuantizable: [], ignored: [], bytesIn: file.size, bytesOut: 0, scheme: resolveScheme(schemeOptions, null, 'quantizeCheckpoint'), config: null };
    for (const e of file.entries) {
      const name = layerOf(e.name, 'weight');
      const isWeight = name !== null && e.shape.length === 2 && FLOAT_DTYPES.has(e.dtype) && e.shape[1] > 0;
      if (isWeight && ignore.length > 0 && isIgnored(name)) report.ignored.push(name);
      if (!isWeight || report.ignored.at(-1) === name) {
        if (!isWeight && (e.name === 'weight' || e.name.endsWith('.weight')) && e.shape.length === 2 && !FLOAT_DTYPES.has(e.dtype)) {
          report.notQuantizable.push(`${e.name} (${e.dtype})`);
        }
        specs.push({ name: e.name, dtype: e.dtype, shape: e.exactShape ?? e.shape });
        byOutput.set(e.name, { kind: 'copy', source: e });
        report.copied.push(e.name);
        continue;
      }
      const [out, inF] = e.shape;
      let scheme: ResolvedScheme;
      try {
        scheme = resolveScheme(schemeOptions, inF);
      } catch (err) {
        throw new FormatError(`layer '${name}' ${e.dtype} (${out}, ${inF}): ${(err as Error).message}; or leave it in float with --ignore '${name}'`);
      }
      const sShape = scaleShape(out, inF, scheme);
      const scaleName = tensorName(name, 'weightScale');
      const layer: Layer = {
        name,
        file: input,
        weight: e,
        scheme,
        absmax: 0,
        report: {
          name, shape: e.shape, dtype: e.dtype, scaleShape: sShape, sqnrDb: NaN, maxAbsError: NaN,
          bytesBefore: e.dataOffsets[1] - e.dataOffsets[0],
          bytesAfter: out * inF + numel(sShape) * SAFETENSORS_DTYPE_BYTES[SAFETENSORS_DTYPE_OF[scaleDtype]],
        },
      };
      layers.set(name, layer);
      report.layers.push(layer.report);
      specs.push({ name: e.name, dtype: 'I8', shape: e.shape }, { name: scaleName, dtype: SAFETENSORS_DTYPE_OF[scaleDtype], shape: sShape });
      byOutput.set(e.name, { kind: 'weight', layer });
      if (byOutput.has(scaleName)) throw new FormatError(`${input} already has a tensor '${scaleName}'; is it already quantized?`);
      byOutput.set(scaleName, { kind: 'scale', layer });
    }
    const schemes = Object.fromEntries([...layers].map(([n, l]) => [n, l.scheme]));
    const { config, int8Linear } = quantizationConfig(schemes, report.ignored);
    report.config = config;
    const metadata = { format: 'pt', ...(file.metadata ?? {}), quantization_config: JSON.stringify(config), int8_linear: int8Linear };
    const plan = planSafetensors(specs, metadata);
    report.bytesOut = plan.fileSize;
    report.layers.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
    let done = 0;
    await writeSafetensorsStream(output, plan, async function* (e) {
      const what = byOutput.get(e.name);
      if (what === undefined) throw new FormatError(`internal: no source for output tensor '${e.name}'`);
      if (what.kind === 'copy') {
        const size = e.dataOffsets[1] - e.dataOffsets[0];
        for (let at = 0; at < size; at += chunkBytes) yield await file.readBytes(e.name, at, Math.min(size, at + chunkBytes));
      } else if (what.kind === 'scale') yield* scaleBytes(file, what.layer as Layer, scaleDtype, chunkBytes);
      else yield* weightBytes(file, what.layer as Layer, scaleDtype, chunkBytes);
      onProgress?.(++done, plan.entries.length, e.name);
    }, { keep: [file.id], ...(signal === undefined ? {} : { signal }) });
    return report;
  } finally {
    await file.close();
  }
}
