/**
 * File-safety rules of every Node write and read of this library (and so of the CLI), in one place:
 * inputs must be regular files (a FIFO or a device is never opened, so nothing hangs); an output
 * that exists must be a regular file (a device, FIFO, socket or folder is never replaced), a
 * symlink there is written through to its target, a file being read is never replaced under
 * another name (same device and inode: hard links, bind mounts, symlinks), the replaced file's
 * permission bits are kept, and the temporary file has a short name that any output name leaves
 * room for.
 */
import { randomBytes } from 'node:crypto';
import { constants, type BigIntStats, type Stats } from 'node:fs';
import { lstat, open, realpath, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FormatError } from '../errors.js';

/**
 * A file by identity rather than by name: two paths name the same file exactly when device and
 * inode agree (bigints: inode numbers may pass 2^53).
 */
export interface FileIdentity {
  /** The path it was opened by, for messages. */
  path: string;
  dev: bigint;
  ino: bigint;
}

/** 'a directory', 'a FIFO (named pipe)', ...: what a path that is not a regular file is, in words. */
function kindOf(st: Stats | BigIntStats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Opens `path` for reading only if it is a regular file (after symlinks); anything else is a
 * FormatError saying what it is. Checked with `stat` before opening, so a device or FIFO is never
 * opened (opening a FIFO blocks until a writer comes; opening some devices has effects), and again on
 * the open handle (opened non-blocking), so a path swapped in between is caught too.
 *
 * Example:
 *   const { fh, id } = await openRegularFile('model.safetensors');
 */
export async function openRegularFile(path: string): Promise<{ fh: FileHandle; id: FileIdentity; size: number }> {
  const notRegular = (st: Stats | BigIntStats): FormatError =>
    new FormatError(`${path} is ${kindOf(st)}, not a regular file; give the path of a .safetensors file`);
  const before = await stat(path, { bigint: true });
  if (!before.isFile()) throw notRegular(before);
  // O_NONBLOCK: if the path became a FIFO after the stat, open returns at once instead of waiting.
  const fh = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    const st = await fh.stat({ bigint: true });
    if (!st.isFile()) throw notRegular(st);
    if (st.dev !== before.dev || st.ino !== before.ino) throw new FormatError(`${path} was replaced while it was being opened; try again`);
    return { fh, id: { path, dev: st.dev, ino: st.ino }, size: Number(st.size) };
  } catch (e) {
    await fh.close();
    throw e;
  }
}

/** Where a write to a path really lands, as `resolveOutput` finds it. */
export interface OutputTarget {
  /** The file that is replaced: the path itself, or the final target of a symlink at the path. */
  target: string;
  /** Permission bits of the file being replaced (e.g. 0o600), or null when there is none. */
  mode: number | null;
}

/**
 * Checks an output path before anything is written: where it exists it must be a regular file (a
 * device, FIFO, socket or folder is refused with a FormatError, never replaced by a regular file); a
 * symlink there is followed to its final target, which is what gets replaced (the link stays; a
 * link to nothing is refused); and it must not be any of `keep` (by device and inode), e.g. the
 * input being read under another name.
 *
 * Example:
 *   const { target, mode } = await resolveOutput('out.safetensors', [input.id]);
 */
export async function resolveOutput(path: string, keep: readonly FileIdentity[] = []): Promise<OutputTarget> {
  let link;
  try {
    link = await lstat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { target: path, mode: null };
    throw e;
  }
  let target = path;
  if (link.isSymbolicLink()) {
    try {
      target = await realpath(path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ELOOP') throw new FormatError(`${path} is a symlink that leads to no file (${code}); remove it or choose another output file`);
      throw e;
    }
  }
  const st = await stat(target, { bigint: true });
  const via = target === path ? '' : ` (a symlink to ${target})`;
  if (!st.isFile()) throw new FormatError(`${path}${via} is ${kindOf(st)}, not a regular file; it is never replaced: choose an output file path`);
  for (const k of keep) {
    if (k.dev === st.dev && k.ino === st.ino) {
      throw new FormatError(`the output ${path}${via} is the input ${k.path} (same device and inode: a hard link, bind mount or symlink); choose another output file`);
    }
  }
  return { target, mode: Number(st.mode) & 0o777 };
}

/**
 * A temporary file name in `target`'s folder: `.int8-linear.<pid>.<random>.tmp`, at most 40 bytes
 * whatever the target's name, so an output name near the 255-byte limit of a file name still works.
 */
export function tempPathFor(target: string): string {
  return join(dirname(target), `.int8-linear.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/**
 * The whole text of a regular file (UTF-8), through `openRegularFile`: a FIFO or device at `path`
 * is a FormatError, never a hang.
 *
 * Example:
 *   const config = JSON.parse(await readRegularText('config.json'));
 */
export async function readRegularText(path: string): Promise<string> {
  const { fh } = await openRegularFile(path);
  try {
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}
