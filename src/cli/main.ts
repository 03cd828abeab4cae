import { constants } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pkg from '../../package.json';
import { Int8LinearError, ownEntry } from '../errors.js';
import type { ScaleDType } from '../io/compressed-tensors.js';
import { writeQuantizationConfigJson } from '../io/node.js';
import { GRANULARITIES, QUANT_RANGES, type Granularity, type QuantRange } from '../format/scheme.js';
import { DEFAULT_IGNORE, quantizeCheckpoint, type QuantizeReport } from '../io/node-quantize.js';
import { formatShape } from '../tensor.js';
import { convertDirection, convertFile } from './convert.js';
import { formatBytes, printable, progressLine, table } from './format.js';
import { inspectSafetensorsFile } from './inspect.js';

export const USAGE = `int8-linear ${pkg.version}: int8 weight quantization of PyTorch Linear layers

Usage:
  int8-linear quantize <in.safetensors> -o <out.safetensors> [options]
  int8-linear inspect <file.safetensors>
  int8-linear convert <in> -o <out> [options]      (GGUF <-> safetensors)
  int8-linear --help | --version

quantize: every 2-D float *.weight not ignored becomes int8 (compressed-tensors layout:
<name>.weight I8, <name>.weight_scale, quantization_config in the metadata); every other
tensor is copied byte for byte. Streams block by block; writes atomically.
  -o, --output <file>          output file (required). An existing file there is replaced,
                               keeping its permission bits; a symlink there is written
                               through to its target. Refused: the input under any name,
                               a folder, device, FIFO or socket.
  --granularity <g>            channel (default) | group | tensor
  --group-size <n>             elements per scale with --granularity group (e.g. 128)
  --range <r>                  full (default: absmax/127.5, q in [-128, 127]) | restricted (absmax/127)
  --scale-dtype <d>            f32 (default) | f16 | bf16
  --ignore <glob>              layer names to keep in float (repeatable; replaces the default
                               ${DEFAULT_IGNORE.join(' ')}; --ignore '' ignores nothing)
  --config-json                also merge quantization_config into config.json beside the output
  -q, --quiet                  no table

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

/** The per-layer table and totals printed by `quantize`. */
export function formatQuantizeReport(r: QuantizeReport): string {
  const rows = r.layers.map((l) => [
    l.name, `${l.dtype} ${formatShape(l.shape)}`, formatShape(l.scaleShape), fixed(l.sqnrDb, 2), l.maxAbsError.toExponential(2),
    formatBytes(l.bytesBefore), formatBytes(l.bytesAfter),
  ]);
  const before = r.layers.reduce((a, l) => a + l.bytesBefore, 0);
  const after = r.layers.reduce((a, l) => a + l.bytesAfter, 0);
  rows.push(['total', '', '', '', '', formatBytes(before), formatBytes(after)]);
  const s = r.scheme;
  return [
    `scheme: int8 ${s.granularity}${s.groupSize === null ? '' : ` ${s.groupSize}`}, range ${s.range}`,
    table(['layer', 'weight', 'scale', 'SQNR dB', 'max |err|', 'before', 'after'], rows, [3, 4, 5, 6]),
    `${r.layers.length} layers quantized, ${r.copied.length} tensors copied unchanged` +
      (r.ignored.length > 0 ? ` (ignored: ${r.ignored.join(', ')})` : '') +
      (r.notQuantizable.length > 0 ? `; copied, not a float dtype this tool quantizes: ${r.notQuantizable.join(', ')}` : ''),
    `file: ${formatBytes(r.bytesIn)} -> ${formatBytes(r.bytesOut)} (${fixed(r.bytesIn / r.bytesOut, 2)}x smaller)`,
  ].join('\n');
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
      ignore: { type: 'string', multiple: true },
      'config-json': { type: 'boolean', default: false },
      quiet: { type: 'boolean', short: 'q', default: false },
    },
  });
  if (positionals.length !== 1) throw new UsageError(`quantize takes one input file, got ${positionals.length}`);
  const input = positionals[0];
  const output = values.output;
  if (output === undefined) throw new UsageError('quantize needs -o <out.safetensors>');
  if (!(GRANULARITIES as readonly string[]).includes(values.granularity)) throw new UsageError(`--granularity must be one of ${GRANULARITIES.join(', ')}, got '${values.granularity}'`);
  if (!(QUANT_RANGES as readonly string[]).includes(values.range)) throw new UsageError(`--range must be ${QUANT_RANGES.join(' or ')}, got '${values.range}'`);
  const scaleDtype = ownEntry(SCALE_DTYPES, values['scale-dtype']);
  if (scaleDtype === undefined) throw new UsageError(`--scale-dtype must be f32, f16 or bf16, got '${values['scale-dtype']}'`);
  const gs = values['group-size'];
  if ((gs === undefined) !== (values.granularity !== 'group')) throw new UsageError('--group-size is required with, and only with, --granularity group');
  if (gs !== undefined && !/^[1-9][0-9]*$/.test(gs)) throw new UsageError(`--group-size must be a positive integer, got '${gs}'`);
  const tty = err.isTTY === true && !values.quiet;
  const report = await stoppable(async (signal) => {
    const r = await quantizeCheckpoint(input, output, {
      granularity: values.granularity as Granularity,
      range: values.range as QuantRange,
      ...(gs === undefined ? {} : { groupSize: Number(gs) }),
      scaleDtype,
      ignore: values.ignore ?? DEFAULT_IGNORE,
      signal,
      ...(tty ? { onProgress: (d: number, t: number, name: string) => err.write(progressLine(d, t, name)) } : {}),
    });
    if (tty) err.write('\r'.padEnd(81) + '\r');
    if (values['config-json']) {
      await writeQuantizationConfigJson(resolve(output, '..', 'config.json'), r.config, { signal });
    }
    return r;
  });
  if (!values.quiet) out.write(`${formatQuantizeReport(report)}\nwrote ${output}\n`);
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
      if (positionals.length !== 1) throw new UsageError(`inspect takes one file, got ${positionals.length}`);
      out.write(`${await inspectSafetensorsFile(positionals[0])}\n`);
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
      return 1;
    }
    err.write(`int8-linear: internal error, please report it: ${(e as Error).stack ?? String(e)}\n`);
    return 1;
  }
}
