/**
 * Node-only file helpers (entry `int8-linear/node`): lazy safetensors reads with positioned reads
 * (the header first, each tensor only when asked) and atomic writes (a temporary file in the same
 * folder, then rename: a crash never leaves a truncated output).
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { FormatError, checkOptions } from '../errors.js';
import type { QuantizedLinear } from '../nn/quantized-linear.js';
import type { Tensor } from '../tensor.js';
import { SAVE_KEYS, loadCompressedTensors, quantizationConfig, saveCompressedTensors, type LoadedCompressedTensors, type SaveCompressedTensorsOptions } from './compressed-tensors.js';
import {
  SAFETENSORS_DTYPE_OF,
  parseSafetensorsHeader,
  planSafetensors,
  readHeaderSize,
  tensorBytes,
  tensorFromBytes,
  type SafetensorsEntry,
  type SafetensorsHeader,
  type SafetensorsPlan,
  type SafetensorsSpec,
} from './safetensors.js';

async function readFully(fh: FileHandle, length: number, position: number): Promise<Uint8Array> {
  const buf = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead === 0) throw new FormatError(`file ended at byte ${position + done} while reading ${length} bytes at ${position}; it changed while open`);
    done += bytesRead;
  }
  return buf;
}

/**
 * An open safetensors file: the header is read and validated on open (exactly as `readSafetensors`
 * does), tensor data only when asked, with positioned reads: memory stays at one tensor.
 *
 * Example:
 *   const f = await openSafetensors('model.safetensors');
 *   for (const e of f.entries) console.log(e.name, e.dtype, e.shape);
 *   const w = await f.read('fc1.weight');   // a Tensor; nothing else was read
 *   await f.close();
 */
export class SafetensorsFile {
  private constructor(
    readonly path: string,
    readonly size: number,
    readonly header: SafetensorsHeader,
    private readonly fh: FileHandle,
    private readonly byName: Map<string, SafetensorsEntry>,
  ) {}

  /** Opens `path` and validates its header; throws a SafetensorsFormatError for a bad file. */
  static async open(path: string): Promise<SafetensorsFile> {
    const fh = await open(path, 'r');
    try {
      const { size } = await fh.stat();
      const prefix = await readFully(fh, Math.min(8, size), 0);
      const n = readHeaderSize(prefix, size);
      const header = parseSafetensorsHeader(await readFully(fh, n, 8), size);
      return new SafetensorsFile(path, size, header, fh, new Map(header.entries.map((e) => [e.name, e])));
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  /** Tensors in file order (by offset). */
  get entries(): readonly SafetensorsEntry[] {
    return this.header.entries;
  }

  get metadata(): Record<string, string> | null {
    return this.header.metadata;
  }

  /** The entry of tensor `name`; a FormatError listing a few names if there is none. */
  entry(name: string): SafetensorsEntry {
    const e = this.byName.get(name);
    if (e === undefined) {
      const some = [...this.byName.keys()].slice(0, 5).join(', ');
      throw new FormatError(`${this.path}: no tensor named '${name}' (it has ${this.byName.size}: ${some}${this.byName.size > 5 ? ', ...' : ''})`);
    }
    return e;
  }

  /**
   * The raw little-endian bytes of tensor `name`, whatever its dtype (BOOL, F8, U64 included), or of
   * its byte range [start, end) (e.g. a block of rows) when given.
   */
  readBytes(name: string, start = 0, end?: number): Promise<Uint8Array> {
    const e = this.entry(name);
    const size = e.dataOffsets[1] - e.dataOffsets[0];
    const stop = end ?? size;
    if (!(Number.isSafeInteger(start) && Number.isSafeInteger(stop) && start >= 0 && start <= stop && stop <= size)) {
      throw new FormatError(`tensor '${name}': byte range [${start}, ${stop}) is outside its ${size} bytes`);
    }
    return readFully(this.fh, stop - start, this.header.dataStart + e.dataOffsets[0] + start);
  }

  /** Tensor `name` as a Tensor (dtypes as `readSafetensors`). */
  async read(name: string): Promise<Tensor> {
    return tensorFromBytes(this.entry(name), await this.readBytes(name));
  }

  /** Every tensor, read one by one (the whole file ends up in memory). */
  async readAll(): Promise<Record<string, Tensor>> {
    const out: Record<string, Tensor> = Object.create(null);
    for (const e of this.entries) out[e.name] = await this.read(e.name);
    return out;
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

/**
 * `SafetensorsFile.open(path)`: reads and validates the header only.
 *
 * Shape: every tensor keeps the shape stored in the file.
 *
 * Example:
 *   const f = await openSafetensors('examples/digits/mlp.safetensors');
 *   f.entry('fc1.weight').shape;   // [128, 64]
 *   await f.close();
 */
export function openSafetensors(path: string): Promise<SafetensorsFile> {
  return SafetensorsFile.open(path);
}

/**
 * Reads a whole safetensors file, validated as `readSafetensors`.
 *
 * Example:
 *   const { tensors, metadata } = await readSafetensorsFile('examples/digits/mlp.safetensors');
 */
export async function readSafetensorsFile(path: string): Promise<{ tensors: Record<string, Tensor>; metadata: Record<string, string> | null }> {
  const f = await openSafetensors(path);
  try {
    return { tensors: await f.readAll(), metadata: f.metadata };
  } finally {
    await f.close();
  }
}

/**
 * Writes a file atomically: `write(fh)` fills a temporary file in the same folder, which is synced
 * and renamed over `path` only if everything succeeded; on any error the temporary file is removed
 * and `path` is untouched.
 *
 * Example:
 *   await writeFileAtomic('out.bin', async (fh) => { await fh.write(bytes); });
 */
export async function writeFileAtomic(path: string, write: (fh: FileHandle) => Promise<void>): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx');
  try {
    await write(fh);
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
  } catch (e) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

/** A tensor's bytes for `writeSafetensorsStream`: all at once, or in pieces (so not even one tensor must be in memory). (`TensorData` of the main entry is the typed-array union of a Tensor.) */
export type TensorBytes = Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/**
 * Streams a planned safetensors file to `path`, atomically: `data(entry)` is called once per tensor,
 * in file order, and must give exactly that tensor's bytes, at once or in pieces.
 *
 * Example:
 *   const plan = planSafetensors([{ name: 'w', dtype: 'F32', shape: [2, 3] }]);
 *   await writeSafetensorsStream('w.safetensors', plan, async () => tensorBytes(w));
 */
export async function writeSafetensorsStream(
  path: string,
  plan: SafetensorsPlan,
  data: (entry: SafetensorsEntry) => Promise<TensorBytes> | TensorBytes,
): Promise<void> {
  await writeFileAtomic(path, async (fh) => {
    await fh.write(plan.header);
    for (const e of plan.entries) {
      const given = await data(e);
      const want = e.dataOffsets[1] - e.dataOffsets[0];
      let total = 0;
      for await (const bytes of given instanceof Uint8Array ? [given] : given) {
        total += bytes.length;
        if (total > want) break;
        let done = 0;
        while (done < bytes.length) done += (await fh.write(bytes, done, bytes.length - done)).bytesWritten;
      }
      if (total !== want) {
        throw new FormatError(`tensor '${e.name}': got ${total > want ? `more than ${want}` : total} bytes of data but its ${e.dtype} shape [${e.shape.join(', ')}] needs ${want}`);
      }
    }
  });
}

/**
 * Writes tensors to a safetensors file atomically, in the reference crate's layout (as `writeSafetensors`).
 *
 * Example:
 *   await writeSafetensorsFile('out.safetensors', { 'fc.weight': q.values }, { format: 'pt' });
 */
export async function writeSafetensorsFile(
  path: string,
  tensors: Readonly<Record<string, Tensor>>,
  metadata: Readonly<Record<string, string>> | null = null,
): Promise<void> {
  const specs: SafetensorsSpec[] = Object.entries(tensors).map(([name, t]) => ({ name, dtype: SAFETENSORS_DTYPE_OF[t.dtype], shape: t.shape }));
  await writeSafetensorsStream(path, planSafetensors(specs, metadata), (e) => tensorBytes(tensors[e.name]));
}

/**
 * Merges `quantization_config` into the `config.json` at `path` (creating it if missing), atomically,
 * keeping every other key, as Hugging Face model folders expect.
 *
 * Example:
 *   await writeQuantizationConfigJson('out/config.json', config);
 */
export async function writeQuantizationConfigJson(path: string, config: unknown): Promise<void> {
  let existing: Record<string, unknown> = {};
  try {
    existing = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new FormatError(`${path}: cannot merge into it: ${(e as Error).message}`);
  }
  const text = `${JSON.stringify({ ...existing, quantization_config: config }, null, 2)}\n`;
  await writeFileAtomic(path, async (fh) => {
    await fh.writeFile(text, 'utf8');
  });
}

/**
 * `saveCompressedTensors` to a file, atomically; with `configJson`, also merges the
 * `quantization_config` into that config.json.
 *
 * Example:
 *   await saveCompressedTensorsFile('out/model.safetensors', { fc1: qfc1 }, { configJson: 'out/config.json' });
 */
export async function saveCompressedTensorsFile(
  path: string,
  layers: Readonly<Record<string, QuantizedLinear>>,
  options: SaveCompressedTensorsOptions & { configJson?: string } = {},
): Promise<void> {
  checkOptions('saveCompressedTensorsFile', options, [...SAVE_KEYS, 'configJson'], FormatError);
  const { configJson: _configJson, ...saveOptions } = options;
  const bytes = saveCompressedTensors(layers, saveOptions);
  await writeFileAtomic(path, async (fh) => {
    await fh.write(bytes);
  });
  if (options.configJson !== undefined) {
    const schemes = Object.fromEntries(Object.entries(layers).map(([name, layer]) => [name, layer.scheme]));
    await writeQuantizationConfigJson(options.configJson, quantizationConfig(schemes, options.ignore).config);
  }
}

/**
 * `loadCompressedTensors` from a file; the config comes from the file's metadata, or else from a
 * `config.json` beside it (or at `options.configJson`) when that has a `quantization_config`.
 *
 * Example:
 *   const { layers } = await loadCompressedTensorsFile('/tmp/mlp-int8.safetensors');
 */
export async function loadCompressedTensorsFile(path: string, options: { configJson?: string } = {}): Promise<LoadedCompressedTensors> {
  checkOptions('loadCompressedTensorsFile', options, ['configJson'], FormatError);
  const file = await readSafetensorsFile(path);
  let config: unknown;
  if (file.metadata?.quantization_config === undefined) {
    const configPath = options.configJson ?? join(dirname(path), 'config.json');
    try {
      config = (JSON.parse(await readFile(configPath, 'utf8')) as { quantization_config?: unknown }).quantization_config;
    } catch (e) {
      if (options.configJson !== undefined || (e as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new FormatError(`${configPath}: cannot read its quantization_config: ${(e as Error).message}`);
      }
    }
  }
  return loadCompressedTensors(file, config === undefined ? {} : { config });
}
