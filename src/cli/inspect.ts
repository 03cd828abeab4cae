import { FormatError } from '../errors.js';
import { compressedTensorsInfo, layerScheme, type QuantizationConfig } from '../io/compressed-tensors.js';
import { parseGgufMetadataJson } from '../io/gguf-convert.js';
import { openSafetensors } from '../io/node.js';
import { layerOf, tensorName } from '../format/names.js';
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
export async function inspectSafetensorsFile(path: string): Promise<string> {
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
      ({ config, ranges } = compressedTensorsInfo(metadata));
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
      const w = byName.get(tensorName(name, 'weight'));
      if (w === undefined || w.dtype !== 'I8' || w.shape.length !== 2) continue;
      let text: string;
      try {
        const s = layerScheme(name, w.shape, e.shape, config, ranges);
        text = `int8 ${s.granularity}${s.groupSize === null ? '' : ` ${s.groupSize}`} ${s.range}`;
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
