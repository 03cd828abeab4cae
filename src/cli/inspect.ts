import { compressedTensorsInfo, layerScheme } from '../io/compressed-tensors.js';
import { parseGgufMetadataJson } from '../io/gguf-convert.js';
import { openSafetensors } from '../io/node.js';
import { formatBytes, shapeText, table } from './format.js';

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
 * for quantized layers (`<name>.weight` int8 with a `<name>.weight_scale`), the scheme.
 *
 * Example:
 *   console.log(await inspectSafetensorsFile('/tmp/mlp-int8.safetensors'));
 */
export async function inspectSafetensorsFile(path: string): Promise<string> {
  const file = await openSafetensors(path);
  try {
    const { entries, metadata } = file;
    const out: string[] = [
      `${path}: ${formatBytes(file.size)}, ${entries.length} tensors, header ${formatBytes(file.header.headerSize)}`,
    ];
    const { config, ranges } = compressedTensorsInfo(metadata);
    if (metadata !== null) {
      out.push('', 'metadata:');
      for (const [k, v] of Object.entries(metadata)) {
        out.push(`  ${k}: ${k === 'quantization_config' && config !== null ? `compressed-tensors, format ${config.format}, ${Object.keys(config.config_groups).length} group(s), ignore [${config.ignore.join(', ')}]` : k === 'gguf' ? ggufSummary(v) : v}`);
      }
    }
    const byName = new Map(entries.map((e) => [e.name, e]));
    const schemeOf = new Map<string, string>();
    for (const e of entries) {
      if (!(e.name === 'weight_scale' || e.name.endsWith('.weight_scale'))) continue;
      const name = e.name.slice(0, Math.max(0, e.name.length - '.weight_scale'.length));
      const w = byName.get(name === '' ? 'weight' : `${name}.weight`);
      if (w === undefined || w.dtype !== 'I8' || w.shape.length !== 2) continue;
      const s = layerScheme(name, w.shape, e.shape, config, ranges);
      schemeOf.set(w.name, `int8 ${s.granularity}${s.groupSize === null ? '' : ` ${s.groupSize}`} ${s.range}, scale ${e.dtype} ${shapeText(e.shape)}`);
    }
    out.push('');
    out.push(
      table(
        ['tensor', 'dtype', 'shape', 'bytes', 'quantization'],
        entries.map((e) => [e.name, e.dtype, shapeText(e.shape), formatBytes(e.dataOffsets[1] - e.dataOffsets[0]), schemeOf.get(e.name) ?? '']),
        [3],
      ),
    );
    return out.join('\n');
  } finally {
    await file.close();
  }
}
