import { FormatError } from '../errors.js';
import { compressedTensorsInfo, layerScheme, type QuantizationConfig } from '../io/compressed-tensors.js';
import { parseGgufMetadataJson } from '../io/gguf-convert.js';
import { layerOf, tensorName } from '../format/names.js';
import { resolveCheckpoint } from '../io/node-checkpoint.js';
import { openSafetensors, type SafetensorsFile } from '../io/node.js';
import { formatShape } from '../tensor.js';
import { formatBytes, printable, table } from './format.js';

/** One line for the `gguf` metadata entry (which holds the whole GGUF metadata, tokenizer included). */
function ggufSummary(text: string): string {
  try {
    const { metadata, tensorTypes, names } = parseGgufMetadataJson(text);
    return `${metadata.size} GGUF metadata pairs (general.architecture ${String(metadata.get('general.architecture')?.value)}), ${tensorTypes.size} GGUF tensors, ${names} names`;
  } catch (e) {
    return `${text.slice(0, 80)}... (${(e as Error).message})`;
  }
}

/** The [out, in] a pack-quantized layer's `weight_shape` holds, or null if it is not two integers. */
async function packedShape(file: SafetensorsFile, name: string): Promise<number[] | null> {
  const e = file.header.entries.find((x) => x.name === tensorName(name, 'weightShape'));
  if (e === undefined || (e.dtype !== 'I64' && e.dtype !== 'I32') || e.shape.reduce((a, b) => a * b, 1) !== 2) return null;
  const t = await file.read(e.name);
  return Array.from(t.data as ArrayLike<number | bigint>, Number);
}

/**
 * The text of `int8-linear inspect <file>`: size, metadata, every tensor (dtype, shape, bytes) and,
 * for quantized layers (`<name>.weight` int8 with a `<name>.weight_scale`), the scheme. Names and
 * metadata come from the file, so they are printed through `printable` (control characters escaped).
 * A quantization config this library cannot read does not stop the listing: the raw metadata is
 * shown with a note saying why the config is unreadable.
 *
 * Example:
 *   console.log(await inspectSafetensorsFile('/tmp/mlp-int8.safetensors'));
 */
export async function inspectSafetensorsFile(path: string, folderConfig: unknown = null): Promise<string> {
  const file = await openSafetensors(path);
  try {
    const { entries, metadata } = file;
    const out: string[] = [
      `${printable(path)}: ${formatBytes(file.size)}, ${entries.length} tensors, header ${formatBytes(file.header.headerSize)}`,
    ];
    let config: QuantizationConfig | null = null;
    let ranges: Readonly<Record<string, unknown>> = {};
    let unreadable: string | null = null;
    try {
      ({ config, ranges } = compressedTensorsInfo(metadata, folderConfig));
    } catch (e) {
      if (!(e instanceof FormatError)) throw e;
      unreadable = e.message;
    }
    if (metadata !== null) {
      out.push('', 'metadata:');
      for (const [k, v] of Object.entries(metadata)) {
        const summary = k === 'quantization_config' && config !== null
          ? `compressed-tensors, format ${config.format}, ${Object.keys(config.config_groups).length} group(s), ignore [${config.ignore.join(', ')}]`
          : k === 'gguf'
            ? ggufSummary(v)
            : v;
        out.push(`  ${printable(k)}: ${printable(summary)}`);
      }
    }
    if (unreadable !== null) out.push('', `note: the quantization config is unreadable, schemes are shown from the scale shapes: ${printable(unreadable)}`);
    const byName = new Map(entries.map((e) => [e.name, e]));
    const schemeOf = new Map<string, string>();
    for (const e of entries) {
      const name = layerOf(e.name, 'weightScale');
      if (name === null) continue;
      // int-quantized: an I8 (out, in) weight; pack-quantized: weight_packed with the (out, in) shape beside it.
      const plain = byName.get(tensorName(name, 'weight'));
      const packed = byName.get(tensorName(name, 'weightPacked'));
      const w = plain !== undefined && plain.dtype === 'I8' && plain.shape.length === 2 ? plain : packed?.dtype === 'I32' && packed.shape.length === 2 ? packed : undefined;
      if (w === undefined) continue;
      const shape = w === packed ? await packedShape(file, name) : w.shape;
      if (shape === null) continue;
      let text: string;
      try {
        const s = layerScheme(name, shape, e.shape, config, ranges);
        text = `int8 ${s.granularity}${s.groupSize === null ? '' : ` ${s.groupSize}`} ${s.range}${s.activations === 'int8' ? ' W8A8' : ''}${w === packed ? ` packed (${shape.join(', ')})` : ''}`;
      } catch (err) {
        if (!(err instanceof FormatError)) throw err;
        text = 'int8, scheme unreadable';
      }
      schemeOf.set(w.name, `${text}, scale ${e.dtype} ${formatShape(e.shape)}`);
    }
    out.push('');
    out.push(
      table(
        ['tensor', 'dtype', 'shape', 'bytes', 'quantization'],
        entries.map((e) => [printable(e.name), e.dtype, formatShape(e.exactShape ?? e.shape), formatBytes(e.dataOffsets[1] - e.dataOffsets[0]), printable(schemeOf.get(e.name) ?? '')]),
        [3],
      ),
    );
    return out.join('\n');
  } finally {
    await file.close();
  }
}

/**
 * The text of `int8-linear inspect <in>` for any input `quantize` takes: a `.safetensors` file (with
 * the quantization_config of a config.json beside it when its metadata has none), or a Hugging Face
 * folder / index: a summary line (shards, config.json's model_type and quantization_config), then
 * each shard as `inspectSafetensorsFile` lists it, schemes read from config.json.
 *
 * Example:
 *   console.log(await inspectCheckpoint('Llama-int8/'));
 */
export async function inspectCheckpoint(path: string): Promise<string> {
  const source = await resolveCheckpoint(path);
  const q = source.config?.quantization_config ?? null;
  if (source.kind === 'file') return inspectSafetensorsFile(path, q);
  const type = typeof source.config?.model_type === 'string' ? `model_type ${source.config.model_type}, ` : '';
  let summary = 'no quantization_config';
  if (q !== null) {
    try {
      const { config } = compressedTensorsInfo(null, q);
      summary = config === null ? summary : `quantization_config: compressed-tensors, format ${config.format}, ${Object.keys(config.config_groups).length} group(s), ignore [${config.ignore.join(', ')}]`;
    } catch (e) {
      if (!(e instanceof FormatError)) throw e;
      summary = `quantization_config unreadable: ${e.message}`;
    }
  }
  const head = `${printable(path)}: ${source.shards.length} shard(s)${source.weightMap === null ? '' : `, index of ${Object.keys(source.weightMap).length} tensors`}; config.json: ${printable(type + summary)}`;
  const parts = [head];
  for (const shard of source.shards) parts.push('', await inspectSafetensorsFile(shard, q));
  return parts.join('\n');
}
