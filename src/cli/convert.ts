import picomatch from 'picomatch';
import { FormatError } from '../errors.js';
import { ggufToSafetensors, safetensorsToGguf } from '../io/gguf-convert.js';
import { openRegularFile } from '../io/node-files.js';
import { writeFileAtomic } from '../io/node.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import { formatBytes } from './format.js';

/** Which way `convert` goes, from the file names. */
export type ConvertDirection = 'gguf-to-safetensors' | 'safetensors-to-gguf';

/**
 * The direction implied by the extensions (`.gguf`, `.safetensors`), or null when they do not name
 * one GGUF and one safetensors file.
 *
 * Example:
 *   convertDirection('model.gguf', 'model.safetensors');   // 'gguf-to-safetensors'
 */
export function convertDirection(input: string, output: string): ConvertDirection | null {
  const kind = (p: string): string | null => (/\.gguf$/i.test(p) ? 'gguf' : /\.safetensors$/i.test(p) ? 'st' : null);
  const a = kind(input);
  const b = kind(output);
  if (a === 'gguf' && b === 'st') return 'gguf-to-safetensors';
  if (a === 'st' && b === 'gguf') return 'safetensors-to-gguf';
  return null;
}

/** Options of `convertFile` (toward GGUF only: `architecture`, `ignore`). */
export interface ConvertFileOptions {
  /** `general.architecture` of the GGUF written; default the one carried from a GGUF origin. */
  architecture?: string;
  /** Globs of layer names (without `.weight`) kept in float in the GGUF. */
  ignore?: readonly string[];
  /** Toward safetensors: Hugging Face tensor names (llama, qwen2) instead of GGUF's. */
  hfNames?: boolean;
  /** Aborting it stops the conversion and removes the temporary file (the CLI's SIGINT). */
  signal?: AbortSignal;
}

/** What `convertFile` did: the lines the CLI prints, and warnings (weights kept in float, dequantized tensors). */
export interface ConvertReport {
  direction: ConvertDirection;
  lines: string[];
  warnings: string[];
  bytesIn: number;
  bytesOut: number;
}

/**
 * Converts between a safetensors file and a GGUF v3 file (Q8_0), the direction from the extensions:
 * GGUF -> safetensors gives per-group (32) int8 layers with the half scales as stored; safetensors ->
 * GGUF quantizes each 2-D weight as ggml's quantize_row_q8_0_ref. The input (a regular file) is read
 * whole; the output is written atomically with the `quantize` command's file-safety rules (never the
 * input under any name, never a device, FIFO or folder; a symlink is written through).
 *
 * Example:
 *   const r = await convertFile('model.safetensors', 'model-q8_0.gguf', { architecture: 'llama' });
 *   r.lines;   // ['4 weights quantized to Q8_0, 0 int8 layers repacked, 3 tensors copied', ...]
 */
export async function convertFile(input: string, output: string, options: ConvertFileOptions = {}): Promise<ConvertReport> {
  const direction = convertDirection(input, output);
  if (direction === null) {
    throw new FormatError(`convert: cannot tell the direction from '${input}' and '${output}'; one must end in .gguf and the other in .safetensors`);
  }
  if (direction === 'safetensors-to-gguf' && options.hfNames === true) {
    throw new FormatError('convert: --hf-names applies when reading GGUF (a file converted with it maps its names back by itself)');
  }
  // A regular file only (a FIFO or device is refused, never read); its identity keeps the output
  // from replacing it under another name (a hard link, a symlink).
  const { fh, id } = await openRegularFile(input);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await fh.readFile());
  } finally {
    await fh.close();
  }
  let out: Uint8Array;
  const lines: string[] = [];
  let warnings: readonly string[];
  if (direction === 'gguf-to-safetensors') {
    if (options.architecture !== undefined || (options.ignore ?? []).length > 0) {
      throw new FormatError('convert: --arch and --ignore apply only when writing GGUF');
    }
    const st = ggufToSafetensors(bytes, { names: options.hfNames === true ? 'hf' : 'gguf' });
    out = writeSafetensors(st.tensors, st.metadata);
    warnings = st.warnings;
    lines.push(
      `${st.layers.length} Q8_0 weights -> int8 group 32 (restricted, float16 scales as stored), ` +
        `${st.dequantized.length} Q8_0 tensors dequantized to float32, ${st.copied.length} tensors copied`,
    );
  } else {
    const { tensors, metadata } = readSafetensors(bytes);
    const globs = [...(options.ignore ?? [])].filter((g) => g !== '');
    const isIgnored = globs.length > 0 ? picomatch(globs, { dot: true }) : undefined;
    const r = safetensorsToGguf(tensors, metadata, {
      ...(options.architecture === undefined ? {} : { architecture: options.architecture }),
      ...(isIgnored === undefined ? {} : { ignore: (name: string) => isIgnored(name) }),
    });
    out = r.bytes;
    warnings = r.report.warnings;
    lines.push(`${r.report.quantized.length} weights quantized to Q8_0, ${r.report.repacked.length} int8 layers repacked, ${r.report.copied.length} tensors copied`);
  }
  await writeFileAtomic(
    output,
    async (w) => {
      await w.write(out);
    },
    { keep: [id], ...(options.signal === undefined ? {} : { signal: options.signal }) },
  );
  lines.push(`file: ${formatBytes(bytes.length)} -> ${formatBytes(out.length)}`);
  return { direction, lines, warnings: [...warnings], bytesIn: bytes.length, bytesOut: out.length };
}
