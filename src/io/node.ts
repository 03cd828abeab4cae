/**
 * Node-only file helpers (entry `int8-linear/node`): lazy safetensors reads with positioned reads
 * (the header first, each tensor only when asked) and atomic writes (a temporary file in the same
 * folder, then rename: a crash never leaves a truncated output).
 */
import { unlinkSync } from 'node:fs';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FormatError, checkOptions } from '../errors.js';
import type { QuantizedLinear } from '../nn/quantized-linear.js';
import type { Tensor } from '../tensor.js';
import { SAVE_KEYS, loadCompressedTensors, quantizationConfig, saveCompressedTensors, type LoadedCompressedTensors, type SaveCompressedTensorsOptions } from './compressed-tensors.js';
import {
  SAFETENSORS_DTYPE_OF,
  SafetensorsFormatError,
  checkSafetensorsPlan,
  parseSafetensorsHeader,
  planSafetensors,
  readHeaderSize,
  tensorBytes,
  isTensorEntry,
  rawTensor,
  tensorOverBytes,
  type RawTensor,
  type SafetensorsEntry,
  type SafetensorsHeader,
  type SafetensorsPlan,
  type SafetensorsSpec,
} from './safetensors.js';
import { openRegularFile, readRegularText, resolveOutput, tempPathFor, type FileIdentity } from './node-files.js';

export type { FileIdentity } from './node-files.js';

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
    /** Device and inode of the open file: pass it as `keep` to a writer so the input is never replaced. */
    readonly id: FileIdentity,
    private readonly fh: FileHandle,
    private readonly byName: Map<string, SafetensorsEntry>,
  ) {}

  /**
   * Opens `path` and validates its header; throws a SafetensorsFormatError for a bad file, a
   * FormatError saying what it is for a folder, FIFO or device (never opened, so never a hang).
   */
  static async open(path: string): Promise<SafetensorsFile> {
    const { fh, id, size } = await openRegularFile(path);
    try {
      let header: SafetensorsHeader;
      try {
        const prefix = await readFully(fh, Math.min(8, size), 0);
        const n = readHeaderSize(prefix, size);
        header = parseSafetensorsHeader(await readFully(fh, n, 8), size);
      } catch (e) {
        if (!(e instanceof SafetensorsFormatError)) throw e;
        // A shard index is JSON whatever its first bytes say; name it by its file name too.
        throw /\.index\.json$/i.test(path) && e.tensor === null
          ? new SafetensorsFormatError(e.rule, null, 'this is a sharded checkpoint\'s index (*.index.json), not a safetensors file: it lists which shard holds each tensor (its weight_map); open the shard files it names instead', path)
          : e.inFile(path);
      }
      return new SafetensorsFile(path, size, header, id, fh, new Map(header.entries.map((e) => [e.name, e])));
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

  /**
   * Tensor `name` as a Tensor (dtypes as `readSafetensors`; the others only through `readBytes`).
   * The bytes are read straight into the Tensor's own buffer: memory peaks at one copy of the tensor.
   */
  async read(name: string): Promise<Tensor> {
    const e = this.entry(name);
    if (!isTensorEntry(e)) return tensorOverBytes(e, new Uint8Array(0));
    return tensorOverBytes(e, await this.readBytes(name));
  }

  /** Every tensor, read one by one (the whole file ends up in memory), split as `readSafetensors` splits them. */
  async readAll(): Promise<{ tensors: Record<string, Tensor>; raw: Record<string, RawTensor> }> {
    const tensors: Record<string, Tensor> = Object.create(null);
    const raw: Record<string, RawTensor> = Object.create(null);
    for (const e of this.entries) {
      if (isTensorEntry(e)) tensors[e.name] = await this.read(e.name);
      else raw[e.name] = rawTensor(e, await this.readBytes(e.name));
    }
    return { tensors, raw };
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
export async function readSafetensorsFile(path: string): Promise<{ tensors: Record<string, Tensor>; raw: Record<string, RawTensor>; metadata: Record<string, string> | null }> {
  const f = await openSafetensors(path);
  try {
    return { ...(await f.readAll()), metadata: f.metadata };
  } finally {
    await f.close();
  }
}

/** Options of every atomic writer (`writeFileAtomic`, `writeSafetensorsStream`, `writeSafetensorsFile`). */
export interface AtomicWriteOptions {
  /** Files that must not be replaced, e.g. `openSafetensors(input).id`: an output that is one of them under any name is refused. */
  keep?: readonly FileIdentity[];
  /** Aborting removes the temporary file at once (synchronously, in the abort event) and the write rejects; the target is untouched. */
  signal?: AbortSignal;
}

/**
 * Writes a file atomically: `write(fh)` fills a temporary file (`.int8-linear.<pid>.<random>.tmp`)
 * in the target's folder, which is synced and renamed over the target only if everything succeeded;
 * on any error or abort the temporary file is removed and the target is untouched. Before anything
 * is written the path is checked (`resolveOutput`): an existing device, FIFO, socket or folder is
 * refused, a symlink is written through to its target, a `keep` file is refused; a replaced file
 * keeps its permission bits.
 *
 * Example:
 *   await writeFileAtomic('out.bin', async (fh) => { await fh.write(bytes); });
 */
export async function writeFileAtomic(path: string, write: (fh: FileHandle) => Promise<void>, options: AtomicWriteOptions = {}): Promise<void> {
  const { signal } = options;
  signal?.throwIfAborted();
  const { target, mode } = await resolveOutput(path, options.keep);
  const tmp = tempPathFor(target);
  const fh = await open(tmp, 'wx');
  const onAbort = (): void => {
    try {
      unlinkSync(tmp);
    } catch {
      // Already renamed into place or removed: nothing left behind.
    }
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (mode !== null) await fh.chmod(mode);
    await write(fh);
    await fh.sync();
    await fh.close();
    signal?.throwIfAborted();
    await rename(tmp, target);
  } catch (e) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw e;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/** A tensor's bytes for `writeSafetensorsStream`: all at once, or in pieces (so not even one tensor must be in memory). (`TensorData` of the main entry is the typed-array union of a Tensor.) */
export type TensorBytes = Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/**
 * Streams a planned safetensors file to `path`, atomically: `data(entry)` is called once per tensor,
 * in file order, and must give exactly that tensor's bytes, at once or in pieces. The plan is checked
 * with the reader's rules first (`checkSafetensorsPlan`): a plan the reader would refuse writes nothing.
 *
 * Example:
 *   const plan = planSafetensors([{ name: 'w', dtype: 'F32', shape: [2, 3] }]);
 *   await writeSafetensorsStream('w.safetensors', plan, async () => tensorBytes(w));
 */
export async function writeSafetensorsStream(
  path: string,
  plan: SafetensorsPlan,
  data: (entry: SafetensorsEntry) => Promise<TensorBytes> | TensorBytes,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const { signal } = options;
  // Before the file exists: what its own reader would refuse is never written.
  checkSafetensorsPlan(plan);
  await writeFileAtomic(path, async (fh) => {
    await fh.write(plan.header);
    for (const e of plan.entries) {
      const given = await data(e);
      const want = e.dataOffsets[1] - e.dataOffsets[0];
      let total = 0;
      for await (const bytes of given instanceof Uint8Array ? [given] : given) {
        signal?.throwIfAborted();
        total += bytes.length;
        if (total > want) break;
        let done = 0;
        while (done < bytes.length) done += (await fh.write(bytes, done, bytes.length - done)).bytesWritten;
      }
      if (total !== want) {
        throw new FormatError(`tensor '${e.name}': got ${total > want ? `more than ${want}` : total} bytes of data but its ${e.dtype} shape [${e.shape.join(', ')}] needs ${want}`);
      }
    }
  }, options);
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
  options: AtomicWriteOptions = {},
): Promise<void> {
  const specs: SafetensorsSpec[] = Object.entries(tensors).map(([name, t]) => ({ name, dtype: SAFETENSORS_DTYPE_OF[t.dtype], shape: t.shape }));
  await writeSafetensorsStream(path, planSafetensors(specs, metadata), (e) => tensorBytes(tensors[e.name]), options);
}

/**
 * Merges `quantization_config` into the `config.json` at `path` (creating it if missing), atomically,
 * keeping every other key, as Hugging Face model folders expect.
 *
 * Example:
 *   await writeQuantizationConfigJson('out/config.json', config);
 */
export async function writeQuantizationConfigJson(path: string, config: unknown, options: AtomicWriteOptions = {}): Promise<void> {
  let existing: Record<string, unknown> = {};
  try {
    existing = JSON.parse(await readRegularText((await resolveOutput(path, options.keep)).target)) as Record<string, unknown>;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new FormatError(`${path}: cannot merge into it: ${(e as Error).message}`);
  }
  const text = `${JSON.stringify({ ...existing, quantization_config: config }, null, 2)}\n`;
  await writeFileAtomic(path, async (fh) => {
    await fh.writeFile(text, 'utf8');
  }, options);
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
      config = (JSON.parse(await readRegularText(configPath)) as { quantization_config?: unknown }).quantization_config;
    } catch (e) {
      if (options.configJson !== undefined || (e as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new FormatError(`${configPath}: cannot read its quantization_config: ${(e as Error).message}`);
      }
    }
  }
  return loadCompressedTensors(file, config === undefined ? {} : { config });
}
