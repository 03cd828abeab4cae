import { constants } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pkg from '../../package.json';
import { Int8LinearError, ownEntry } from '../errors.js';
import type { ScaleDType } from '../io/compressed-tensors.js';
import { writeQuantizationConfigJson } from '../io/node.js';
import { GRANULARITIES, QUANT_RANGES, type Granularity, type QuantRange } from '../format/scheme.js';
import { parseSize } from '../io/checkpoint-plan.js';
import { DEFAULT_IGNORE, LOW_SQNR_MARGIN_DB, quantizeCheckpoint, type QuantizeReport } from '../io/node-quantize.js';
import { formatShape } from '../tensor.js';
import { convertDirection, convertFile } from './convert.js';
import { formatBytes, printable, table, wrapText } from './format.js';
import { inspectCheckpoint } from './inspect.js';
import { progressBar } from './progress.js';

export const USAGE = `int8-linear ${pkg.version}: int8 weight quantization of PyTorch Linear layers

Usage:
  int8-linear quantize <in> -o <out> [options]
  int8-linear inspect <in>
  int8-linear convert <in> -o <out> [options]      (GGUF <-> safetensors)
  int8-linear --help | --version

<in> is a .safetensors file, a model.safetensors.index.json, or a Hugging Face model folder
(save_pretrained: model.safetensors or shards + index, config.json). A file gives a file,
a folder or index gives a folder.

quantize: every 2-D float *.weight not ignored becomes int8 in the compressed-tensors layout
vLLM loads (weight-only: pack-quantized <name>.weight_packed I32 + weight_shape; W8A8:
int-quantized <name>.weight I8; <name>.weight_scale); every other tensor is copied byte for
byte. Streams block by block (memory bounded by the largest tensor); checks every layer before
writing; writes atomically (a folder is staged and renamed into place).
  -o, --output <path>          output file, or folder for a folder input (required).
                               An existing file there is replaced, keeping its permission bits;
                               a symlink there is written through to its target. Refused: the
                               input under any name, a device, FIFO or socket; a folder output
                               must be new or empty.
  --granularity <g>            channel (default) | group | tensor
  --group-size <n>             elements per scale with --granularity group (e.g. 128)
  --range <r>                  full (default: absmax/127.5, q in [-128, 127]) | restricted (absmax/127)
  --scale-dtype <d>            f32 (default) | f16 | bf16
  --activations <a>            float32 (default, weight-only W8A16) | int8 (W8A8: int-quantized,
                               dynamic per-token int8 activations; channel or tensor scales)
  --format <f>                 pack-quantized (default for weight-only) | int-quantized (plain I8
                               weights; vLLM does not load weight-only int-quantized)
  --ignore <pattern>           layers to keep in float, added to the defaults
                               ${DEFAULT_IGNORE.join(' ')} (repeatable; a glob, or re:<regex>
                               as compressed-tensors matches targets)
  --no-default-ignore          quantize embeddings and lm_head too (--ignore '' is the old spelling)
  --transpose-conv1d           quantize GPT-2 Conv1D weights, stored (in, out), as (out, in) Linear
                               layers; without it they stay in float with a warning
  --max-shard-size <size>      folder output: largest shard, as Hugging Face (default 5GB)
  --config-json                file output: also merge quantization_config into config.json
                               beside it (a folder output always has config.json)
  --json                       print the report as JSON (for scripts) instead of the table
  -q, --quiet                  no table, no progress bar

On a terminal, a progress bar (bytes written, rate, time left) is drawn on stderr and
the table is fitted to the terminal's width (long layer names shortened in the middle);
piped or redirected, there is no bar and the table has every name in full.

convert: between GGUF v3 and safetensors, the direction from the extensions.
  model.gguf -> model.safetensors: Q8_0 weights become int8 group 32 layers (restricted range,
  float16 scales exactly as stored); F32/F16/BF16 copied; GGUF metadata kept (entry "gguf").
  model.safetensors -> model.gguf: each 2-D weight quantized as ggml's quantize_row_q8_0_ref;
  rows not a multiple of 32 stay float (warning); other tensors copied.
  -o, --output <file>          output file (required; the same rules as quantize's -o)
  --type <t>                   q8_0 (default; the only GGUF type written)
  --arch <name>                general.architecture (e.g. llama); default: from a GGUF origin
  --ignore <glob>              layers to keep in float in the GGUF (repeatable)
  --hf-names                   GGUF -> safetensors: Hugging Face tensor names (llama, qwen2; llama's
                               q/k rows un-permuted); converting back restores GGUF's
  -q, --quiet                  no summary

Exit codes: 0 ok, 1 bad input (one-line reason), 2 usage error; 130, 143, 129 on
SIGINT, SIGTERM, SIGHUP (the temporary file is removed; input and output untouched).`;

class UsageError extends Error {}

const SCALE_DTYPES: Record<string, ScaleDType> = { f32: 'float32', f16: 'float16', bf16: 'bfloat16' };

function fixed(x: number, digits: number): string {
  return Number.isFinite(x) ? x.toFixed(digits) : String(x);
}

/**
 * The per-layer table and totals printed by `quantize`; names from the file are escaped (`printable`).
 * `width` (a terminal's columns) fits the table into it: long names shortened in the middle, and
 * 'max |err|', 'before', 'weight' left out, in that order, where even that is too wide.
 */
export function formatQuantizeReport(r: QuantizeReport, width?: number): string {
  const names = (list: readonly string[]): string => list.map(printable).join(', ');
  const low = new Set(r.lowSqnr);
  const rows = r.layers.map((l) => [
    printable(l.name), `${l.dtype} ${formatShape(l.shape)}`, formatShape(l.scaleShape), fixed(l.sqnrDb, 2), l.maxAbsError.toExponential(2),
    formatBytes(l.bytesBefore), formatBytes(l.bytesAfter),
    [l.transposed ? 'Conv1D, transposed' : '', low.has(l.name) ? 'low SQNR' : ''].filter((x) => x !== '').join(', '),
  ]);
  const before = r.layers.reduce((a, l) => a + l.bytesBefore, 0);
  const after = r.layers.reduce((a, l) => a + l.bytesAfter, 0);
  rows.push(['total', '', '', '', '', formatBytes(before), formatBytes(after), '']);
  const s = r.scheme;
  const config = r.config;
  const w8a8 = config !== null && Object.values(config.config_groups).some((g) => g.input_activations !== null && g.input_activations !== undefined);
  const lines = [
    `scheme: int8 ${s.granularity}${s.groupSize === null ? '' : ` ${s.groupSize}`}, range ${s.range}, ${w8a8 ? 'W8A8 (int8 activations per token)' : 'weight-only'}, ${config?.format ?? ''}`,
    table(['layer', 'weight', 'scale', 'SQNR dB', 'max |err|', 'before', 'after', 'note'], rows, [3, 4, 5, 6], width === undefined ? undefined : { maxWidth: width, drop: [4, 5, 1] }),
    `${r.layers.length} layers quantized, ${r.copied.length} tensors copied unchanged` +
      (r.ignored.length > 0 ? ` (ignored: ${names(r.ignored)})` : '') +
      (r.conv1d.length > 0 ? ` (Conv1D kept in float: ${names(r.conv1d)})` : '') +
      (r.notQuantizable.length > 0 ? `; copied, not a float dtype this tool quantizes: ${names(r.notQuantizable)}` : ''),
    // int8 is 1 byte per weight: 4x below F32 but only 2x below the F16/BF16 most checkpoints ship in.
    r.layers.length === 0
      ? 'weights: none quantized'
      : `weights: ${formatBytes(before)} ${r.sourceDtypes.join('/')} -> ${formatBytes(after)} int8 + scales (${fixed(before / after, 2)}x; ` +
        `int8 is about ${r.sourceDtypes.every((d) => d === 'F32') ? '4x smaller than F32' : r.sourceDtypes.some((d) => d === 'F32' || d === 'F64') ? '2x smaller than F16/BF16, 4x than F32' : '2x smaller than F16/BF16 (4x only from F32)'})`,
    `checkpoint: ${formatBytes(r.bytesIn)} -> ${formatBytes(r.bytesOut)} (${fixed(r.bytesIn / r.bytesOut, 2)}x smaller)` +
      (r.files.length > 1 ? `, ${r.files.filter((f) => f.endsWith('.safetensors')).length} shard(s)` : ''),
  ];
  if (r.lowSqnr.length > 0) {
    lines.push(`low SQNR (more than ${LOW_SQNR_MARGIN_DB} dB below the median of the layers; outliers? try --granularity group or --ignore): ${names(r.lowSqnr)}`);
  }
  // On a terminal the sentences around the table are wrapped at the width too (the table fits by itself).
  return lines.map((l, i) => (width === undefined || i === 1 ? l : wrapText(l, width))).join('\n');
}

/** Signals that stop a conversion cleanly, with the exit code shells expect (128 + the signal's number). */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** A conversion stopped by a signal; `main` returns `exitCode`. */
class Interrupted extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`stopped by ${signal}; the temporary file was removed, the input and any existing output are untouched`);
  }

  get exitCode(): number {
    return 128 + constants.signals[this.signal];
  }
}

/**
 * Runs `task` with SIGINT, SIGTERM and SIGHUP turned into an abort of its signal (the writers then
 * remove their temporary file at once) and the task's rejection into `Interrupted`. A second
 * signal while the task winds down exits at once: the temporary file is already gone.
 */
async function stoppable<T>(task: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const handlers = STOP_SIGNALS.map((sig) => {
    const handler = (): void => {
      if (controller.signal.aborted) process.exit((controller.signal.reason as Interrupted).exitCode);
      controller.abort(new Interrupted(sig));
    };
    process.on(sig, handler);
    return [sig, handler] as const;
  });
  try {
    return await task(controller.signal);
  } catch (e) {
    throw controller.signal.aborted ? controller.signal.reason : e;
  } finally {
    for (const [sig, handler] of handlers) process.off(sig, handler);
  }
}

async function quantizeCommand(args: string[], out: NodeJS.WriteStream, err: NodeJS.WriteStream): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      output: { type: 'string', short: 'o' },
      granularity: { type: 'string', default: 'channel' },
      'group-size': { type: 'string' },
      range: { type: 'string', default: 'full' },
      'scale-dtype': { type: 'string', default: 'f32' },
      activations: { type: 'string', default: 'float32' },
      format: { type: 'string' },
      ignore: { type: 'string', multiple: true },
      'default-ignore': { type: 'boolean', default: true },
      'no-default-ignore': { type: 'boolean', default: false },
      'transpose-conv1d': { type: 'boolean', default: false },
      'max-shard-size': { type: 'string', default: '5GB' },
      'config-json': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      quiet: { type: 'boolean', short: 'q', default: false },
    },
  });
  if (positionals.length !== 1) throw new UsageError(`quantize takes one input (a file, an index or a folder), got ${positionals.length}`);
  const input = positionals[0];
  const output = values.output;
  if (output === undefined) throw new UsageError('quantize needs -o <out>');
  if (!(GRANULARITIES as readonly string[]).includes(values.granularity)) throw new UsageError(`--granularity must be one of ${GRANULARITIES.join(', ')}, got '${values.granularity}'`);
  if (!(QUANT_RANGES as readonly string[]).includes(values.range)) throw new UsageError(`--range must be ${QUANT_RANGES.join(' or ')}, got '${values.range}'`);
  const scaleDtype = ownEntry(SCALE_DTYPES, values['scale-dtype']);
  if (scaleDtype === undefined) throw new UsageError(`--scale-dtype must be f32, f16 or bf16, got '${values['scale-dtype']}'`);
  if (values.activations !== 'float32' && values.activations !== 'int8') throw new UsageError(`--activations must be float32 or int8, got '${values.activations}'`);
  const format = values.format ?? (values.activations === 'int8' ? 'int-quantized' : 'pack-quantized');
  if (format !== 'pack-quantized' && format !== 'int-quantized') throw new UsageError(`--format must be pack-quantized or int-quantized, got '${format}'`);
  if (values.activations === 'int8' && format !== 'int-quantized') throw new UsageError('--activations int8 (W8A8) is written int-quantized; pack-quantized holds weight-only layers');
  const gs = values['group-size'];
  if ((gs === undefined) !== (values.granularity !== 'group')) throw new UsageError('--group-size is required with, and only with, --granularity group');
  if (gs !== undefined && !/^[1-9][0-9]*$/.test(gs)) throw new UsageError(`--group-size must be a positive integer, got '${gs}'`);
  let maxShardSize: number;
  try {
    maxShardSize = parseSize(values['max-shard-size']);
  } catch (e) {
    throw new UsageError(`--max-shard-size: ${(e as Error).message}`);
  }
  const ignore = values.ignore ?? [];
  // `--ignore ''` used to replace the defaults with nothing; it still means "no default ignores".
  const defaultIgnore = !values['no-default-ignore'] && !ignore.includes('');
  const warn = (message: string): void => {
    err.write(`int8-linear: warning: ${printable(message)}\n`);
  };
  if (values.granularity === 'tensor' && values.activations === 'float32' && format === 'pack-quantized') {
    warn('per-tensor weight-only scales load here and in compressed-tensors, but vLLM runs weight-only int8 per channel or per group only');
  }
  const bar = values.quiet ? null : progressBar(err);
  const report = await stoppable(async (signal) => {
    let r: QuantizeReport;
    try {
      r = await quantizeCheckpoint(input, output, {
        granularity: values.granularity as Granularity,
        range: values.range as QuantRange,
        ...(gs === undefined ? {} : { groupSize: Number(gs) }),
        scaleDtype,
        format,
        activations: values.activations as 'float32' | 'int8',
        ignore: ignore.filter((p) => p !== ''),
        defaultIgnore,
        transposeConv1d: values['transpose-conv1d'],
        maxShardSize,
        signal,
        onWarning: warn,
        ...(bar === null ? {} : { onProgress: (p) => bar.update(p) }),
      });
    } finally {
      bar?.stop();
    }
    if (values['config-json'] && r.files.length === 1 && r.files[0] === output) {
      await writeQuantizationConfigJson(resolve(output, '..', 'config.json'), r.config, { signal });
    }
    return r;
  });
  if (values.json) out.write(`${JSON.stringify({ output, ...report }, null, 2)}\n`);
  else if (!values.quiet) {
    const width = out.isTTY === true ? (out.columns || 80) : undefined;
    out.write(`${formatQuantizeReport(report, width)}\nwrote ${printable(output)}${report.files.length > 1 ? ` (${report.files.map(printable).join(', ')})` : ''}\n`);
  }
}

async function convertCommand(args: string[], out: NodeJS.WriteStream, err: NodeJS.WriteStream): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      output: { type: 'string', short: 'o' },
      type: { type: 'string', default: 'q8_0' },
      arch: { type: 'string' },
      ignore: { type: 'string', multiple: true },
      'hf-names': { type: 'boolean', default: false },
      quiet: { type: 'boolean', short: 'q', default: false },
    },
  });
  if (positionals.length !== 1) throw new UsageError(`convert takes one input file, got ${positionals.length}`);
  const input = positionals[0];
  const output = values.output;
  if (output === undefined) throw new UsageError('convert needs -o <out.gguf | out.safetensors>');
  if (convertDirection(input, output) === null) {
    throw new UsageError(`convert: cannot tell the direction from '${input}' and '${output}'; one must end in .gguf, the other in .safetensors`);
  }
  if (values.type !== 'q8_0') throw new UsageError(`--type must be q8_0 (the GGUF type this library writes), got '${values.type}'`);
  const report = await stoppable((signal) =>
    convertFile(input, output, { ...(values.arch === undefined ? {} : { architecture: values.arch }), ignore: values.ignore ?? [], hfNames: values['hf-names'], signal }),
  );
  for (const w of report.warnings) err.write(`int8-linear: warning: ${w}\n`);
  if (!values.quiet) out.write(`${report.lines.join('\n')}\nwrote ${output}\n`);
}

/**
 * Runs the CLI with `argv` (without node and script); returns the exit code: 0 ok, 1 bad input,
 * 2 usage, 128 + n when signal n (SIGINT, SIGTERM, SIGHUP) stopped a conversion. Writes results to `out` and errors (one line) to `err`.
 *
 * Example:
 *   process.exitCode = await main(process.argv.slice(2));
 */
export async function main(argv: string[], out: NodeJS.WriteStream = process.stdout, err: NodeJS.WriteStream = process.stderr): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      (command === undefined ? err : out).write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    }
    if (command === '--version' || command === '-v') {
      out.write(`${pkg.version}\n`);
      return 0;
    }
    if (rest.includes('--help') || rest.includes('-h')) {
      out.write(`${USAGE}\n`);
      return 0;
    }
    if (command === 'quantize') await quantizeCommand(rest, out, err);
    else if (command === 'convert') await convertCommand(rest, out, err);
    else if (command === 'inspect') {
      const { positionals } = parseArgs({ args: rest, allowPositionals: true, options: {} });
      if (positionals.length !== 1) throw new UsageError(`inspect takes one input (a file, an index or a folder), got ${positionals.length}`);
      out.write(`${await inspectCheckpoint(positionals[0])}\n`);
    } else throw new UsageError(`unknown command '${command}'`);
    return 0;
  } catch (e) {
    if (e instanceof Interrupted) {
      err.write(`int8-linear: ${e.message}\n`);
      return e.exitCode;
    }
    const code = (e as { code?: unknown }).code;
    if (e instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))) {
      err.write(`int8-linear: ${(e as Error).message}\nRun 'int8-linear --help' for usage.\n`);
      return 2;
    }
    if (e instanceof Int8LinearError || (typeof code === 'string' && /^E[A-Z]+$/.test(code))) {
      err.write(`int8-linear: ${printable((e as Error).message.split('\n')[0])}\n`);
      // A pre-flight error lists every layer that cannot be quantized: one line each, escaped.
      const problems = (e as { problems?: unknown }).problems;
      if (Array.isArray(problems)) for (const p of problems) err.write(`  ${printable(String(p))}\n`);
      return 1;
    }
    err.write(`int8-linear: internal error, please report it: ${(e as Error).stack ?? String(e)}\n`);
    return 1;
  }
}
