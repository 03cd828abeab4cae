/**
 * Hugging Face checkpoint folders on disk (Node only): finding the shards of an input (a
 * `.safetensors` file, a `model.safetensors.index.json`, or a folder holding either plus
 * `config.json`, as `save_pretrained` writes), and writing a folder: shards, an index, a
 * `config.json`, the small files (tokenizer, generation config) copied.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readFile, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { FormatError } from '../errors.js';

/** The index file Hugging Face writes beside sharded safetensors. */
export const INDEX_FILE = 'model.safetensors.index.json';

/**
 * Where a checkpoint's tensors are.
 *
 * Example:
 *   (await resolveCheckpoint('llama/')).shards;   // ['llama/model-00001-of-00002.safetensors', ...]
 */
export interface CheckpointSource {
  /** 'file' for a lone .safetensors file; 'folder' for an index or a folder. */
  kind: 'file' | 'folder';
  /** The folder holding the shards (and config.json, if any). */
  dir: string;
  /** Shard paths, in file-name order (= shard order for Hugging Face names). */
  shards: string[];
  /** The index's weight_map (tensor -> shard file name), or null without an index. */
  weightMap: Record<string, string> | null;
  /** config.json beside the shards, parsed, or null if there is none. */
  config: Record<string, unknown> | null;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

async function readJson(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new FormatError(`${path}: cannot read the ${what}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FormatError(`${path}: the ${what} is not valid JSON (${(e as Error).message})`);
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/**
 * The shards of `index` (a model.safetensors.index.json): the distinct files of its `weight_map`,
 * each a plain file name in the index's folder (a path that leaves the folder is a FormatError).
 */
async function readIndex(path: string): Promise<{ shards: string[]; weightMap: Record<string, string> }> {
  const raw = await readJson(path, 'index');
  if (!isObject(raw) || !isObject(raw.weight_map)) {
    throw new FormatError(`${path}: expected { "metadata": {...}, "weight_map": { tensor: shard file } } as Hugging Face writes it`);
  }
  const weightMap: Record<string, string> = Object.create(null);
  const files: string[] = [];
  for (const [tensor, file] of Object.entries(raw.weight_map)) {
    if (typeof file !== 'string' || file === '' || file !== basename(file) || file === '.' || file === '..' || !file.endsWith('.safetensors')) {
      throw new FormatError(`${path}: weight_map[${JSON.stringify(tensor)}] is ${JSON.stringify(file)}; expected the name of a .safetensors file in the same folder`);
    }
    weightMap[tensor] = file;
    if (!files.includes(file)) files.push(file);
  }
  if (files.length === 0) throw new FormatError(`${path}: the weight_map is empty`);
  // Shard names sort in shard order (model-00001-of-...); the weight_map is usually sorted by tensor name.
  return { shards: files.sort().map((f) => join(dirname(path), f)), weightMap };
}

/**
 * Finds the tensors of `input`: a `.safetensors` file (config.json beside it is read if present), a
 * `model.safetensors.index.json`, or a folder with one of those (index first, as transformers
 * looks). Missing files are a FormatError saying what was looked for.
 *
 * Example:
 *   const src = await resolveCheckpoint('Llama-3.2-1B/');   // { kind: 'folder', shards: [...], config: {...} }
 */
export async function resolveCheckpoint(input: string): Promise<CheckpointSource> {
  let st;
  try {
    st = await stat(input);
  } catch (e) {
    throw new FormatError(`${input}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or folder' : (e as Error).message}`);
  }
  let dir: string;
  let kind: CheckpointSource['kind'] = 'folder';
  let shards: string[];
  let weightMap: Record<string, string> | null = null;
  if (st.isDirectory()) {
    dir = input;
    if (await exists(join(dir, INDEX_FILE))) ({ shards, weightMap } = await readIndex(join(dir, INDEX_FILE)));
    else if (await exists(join(dir, 'model.safetensors'))) shards = [join(dir, 'model.safetensors')];
    else throw new FormatError(`${input}: a folder without ${INDEX_FILE} or model.safetensors; expected a Hugging Face checkpoint folder (save_pretrained)`);
  } else if (input.endsWith('.index.json')) {
    dir = dirname(input);
    ({ shards, weightMap } = await readIndex(input));
  } else {
    dir = dirname(input);
    kind = 'file';
    shards = [input];
  }
  const configPath = join(dir, 'config.json');
  let config: Record<string, unknown> | null = null;
  if (await exists(configPath)) {
    const raw = await readJson(configPath, 'config.json');
    if (!isObject(raw)) throw new FormatError(`${configPath}: expected a JSON object`);
    config = raw;
  }
  return { kind, dir, shards, weightMap, config };
}

/** Files of a model folder that hold weights in other formats: never copied beside int8 shards (they would be the float model). */
const WEIGHT_FILE = /\.(safetensors|bin|pt|pth|ckpt|h5|msgpack|gguf|onnx)$|\.index\.json$/;

/** The largest file copied as one of a folder's "small files" (tokenizer.json is a few MB; weights are refused above). */
export const MAX_COPIED_FILE = 256 * 1024 * 1024;

/**
 * The other files of a model folder to copy beside converted weights: regular files (links followed,
 * as in the Hugging Face cache) that are not weights, not config.json (merged instead), not hidden,
 * and at most MAX_COPIED_FILE bytes; names in order.
 *
 * Example:
 *   await folderExtras('Llama-3.2-1B');   // ['generation_config.json', 'special_tokens_map.json', 'tokenizer.json', ...]
 */
export async function folderExtras(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(dir)).sort()) {
    if (name.startsWith('.') || name === 'config.json' || WEIGHT_FILE.test(name)) continue;
    const st = await stat(join(dir, name)).catch(() => null);
    if (st !== null && st.isFile() && st.size <= MAX_COPIED_FILE) out.push(name);
  }
  return out;
}

/**
 * A staging folder for writing the folder `output` all at once: made beside it, filled by the caller,
 * then `commit()` renames it to `output` (which must not exist, or be an empty folder), so a failed
 * or interrupted conversion never leaves a half-written model folder; `abort()` removes it.
 *
 * Example:
 *   const stage = await stageFolder('out');
 *   try { await write(stage.dir); await stage.commit(); } catch (e) { await stage.abort(); throw e; }
 */
export async function stageFolder(output: string): Promise<{ dir: string; commit: () => Promise<void>; abort: () => Promise<void> }> {
  const target = resolve(output);
  const st = await stat(target).catch(() => null);
  if (st !== null && (!st.isDirectory() || (await readdir(target)).length > 0)) {
    throw new FormatError(`${output} already exists${st.isDirectory() ? ' and is not empty' : ' and is not a folder'}; choose a new output folder`);
  }
  await mkdir(dirname(target), { recursive: true });
  const dir = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  await mkdir(dir);
  return {
    dir,
    commit: async () => {
      if (st !== null) await rmdir(target);
      await rename(dir, target);
    },
    abort: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * Copies `names` from folder `from` to folder `to` (plain copies; `to` is a fresh staging folder).
 *
 * Example:
 *   await copyFiles('Llama-3.2-1B', stage.dir, await folderExtras('Llama-3.2-1B'));
 */
export async function copyFiles(from: string, to: string, names: readonly string[]): Promise<void> {
  for (const name of names) await copyFile(join(from, name), join(to, name));
}
