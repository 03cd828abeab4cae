/**
 * Issue 9, the CLI's file-safety rules (docs/io.md "File safety"): the same file under another name,
 * non-regular inputs and outputs, replacement (mode, symlinks), signals, the temp file's name, and
 * the CLI at 125k+ tensors. Cases that need root (bind mount, device nodes) are skipped otherwise.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { table } from '../../src/cli/format.js';
import { formatQuantizeReport } from '../../src/cli/main.js';
import { quantizeCheckpoint, type QuantizeReport } from '../../src/io/node-quantize.js';
import { FormatError, Generator, Linear, QuantizationError, Tensor, writeSafetensors } from '../../src/index.js';
import { loadCompressedTensorsFile, openSafetensors, readSafetensorsFile, writeSafetensorsFile } from '../../src/io/node.js';
import { runCli } from '../helpers/cli.js';

const isRoot = process.getuid?.() === 0;
const posix = process.platform !== 'win32';
const dir = mkdtempSync(join(tmpdir(), 'int8-linear-safety-'));
const input = join(dir, 'model.safetensors');
const gen = new Generator(9);
const tensors = {
  'fc1.weight': new Linear(16, 40, { generator: gen }).weight,
  'fc1.bias': new Tensor(new Float32Array(40), [40]),
};
const inputBytes = writeSafetensors(tensors, { format: 'pt' });

const run = runCli;

const temps = (folder: string): string[] => readdirSync(folder).filter((f) => f.endsWith('.tmp'));

/** A refused run: exit 1, one line matching `reason`, the input unchanged, no temp file. */
function expectRefused(r: { code: number; err: string }, reason: RegExp, folder = dir): void {
  expect(r.code).toBe(1);
  expect(r.err.trim().split('\n')).toHaveLength(1);
  expect(r.err).toMatch(reason);
  expect(Buffer.from(readFileSync(input)).equals(Buffer.from(inputBytes))).toBe(true);
  expect(temps(folder)).toEqual([]);
}

beforeAll(() => writeFileSync(input, inputBytes));

describe('the same file under another name is never overwritten (device and inode)', () => {
  it('the same path, a hard link and a symlink to the input are refused with exit 1', async () => {
    expectRefused(await run('quantize', input, '-o', input, '-q'), /the output .* is the input .*same device and inode/);
    const hard = join(dir, 'hard.safetensors');
    linkSync(input, hard);
    expectRefused(await run('quantize', input, '-o', hard, '-q'), /the output .*hard\.safetensors is the input/);
    const soft = join(dir, 'soft.safetensors');
    symlinkSync(input, soft);
    expectRefused(await run('quantize', input, '-o', soft, '-q'), /soft\.safetensors \(a symlink to .*model\.safetensors\) is the input/);
    // The other way round: the input given through the alias, the output the real name.
    expectRefused(await run('quantize', hard, '-o', input, '-q'), /is the input .*hard\.safetensors/);
  });

  it.skipIf(!isRoot)('through a bind mount (root only: mount --bind)', async () => {
    const alias = mkdtempSync(join(tmpdir(), 'int8-linear-bind-'));
    execFileSync('mount', ['--bind', dir, alias]);
    try {
      expectRefused(await run('quantize', input, '-o', join(alias, 'model.safetensors'), '-q'), /is the input/);
    } finally {
      execFileSync('umount', [alias]);
    }
  });
});

describe('non-regular paths', () => {
  let server: Server | undefined;
  afterAll(() => server?.close());

  /** A FIFO at `path` (mkfifo needs no root). */
  const fifo = (path: string): string => {
    execFileSync('mkfifo', [path]);
    return path;
  };

  it.skipIf(!posix)('an existing folder, FIFO or socket as -o is refused with a one-line reason and left as it was', async () => {
    const folder = join(dir, 'out-folder');
    mkdirSync(folder);
    expectRefused(await run('quantize', input, '-o', folder, '-q'), /out-folder is a directory, not a regular file; it is never replaced/);
    expect(statSync(folder).isDirectory()).toBe(true);
    const pipe = fifo(join(dir, 'out.fifo'));
    expectRefused(await run('quantize', input, '-o', pipe, '-q'), /out\.fifo is a FIFO \(named pipe\), not a regular file/);
    expect(lstatSync(pipe).isFIFO()).toBe(true);
    const sock = join(dir, 'out.sock');
    server = createServer();
    await new Promise<void>((done) => server!.listen(sock, done));
    expectRefused(await run('quantize', input, '-o', sock, '-q'), /out\.sock is a socket/);
    expect(lstatSync(sock).isSocket()).toBe(true);
    // The library writers follow the same rule.
    await expect(writeSafetensorsFile(pipe, tensors)).rejects.toThrow(FormatError);
  });

  it.skipIf(!isRoot)('a character device as -o is refused and stays a device (root only: mknod)', async () => {
    const dev = join(dir, 'null-dev');
    execFileSync('mknod', [dev, 'c', '1', '3']);
    expectRefused(await run('quantize', input, '-o', dev, '-q'), /null-dev is a character device/);
    expect(lstatSync(dev).isCharacterDevice()).toBe(true);
  });

  it.skipIf(!posix)('a folder or FIFO as input is a FormatError saying what it is, never a hang', async () => {
    const pipe = fifo(join(dir, 'in.fifo'));
    for (const path of [dir, pipe]) {
      const what = path === dir ? /is a directory, not a regular file/ : /in\.fifo is a FIFO \(named pipe\), not a regular file/;
      await expect(openSafetensors(path)).rejects.toThrow(what);
      await expect(readSafetensorsFile(path)).rejects.toThrow(FormatError);
      await expect(loadCompressedTensorsFile(path)).rejects.toThrow(what);
      expectRefused(await run('inspect', path), what);
      expectRefused(await run('quantize', path, '-o', join(dir, 'never.safetensors'), '-q'), what);
      expect(existsSync(join(dir, 'never.safetensors'))).toBe(false);
    }
  }, 20_000);

  it.skipIf(!isRoot)('a character device as input is refused, never read (root only: mknod of /dev/zero)', async () => {
    const dev = join(dir, 'zero-dev');
    execFileSync('mknod', [dev, 'c', '1', '5']);
    await expect(openSafetensors(dev)).rejects.toThrow(/zero-dev is a character device/);
    expectRefused(await run('inspect', dev), /zero-dev is a character device/);
  });
});

describe('replacing an existing output', () => {
  it('keeps the replaced file\'s permission bits; a new file gets the usual mode', async () => {
    const out = join(dir, 'private.safetensors');
    writeFileSync(out, 'old');
    chmodSync(out, 0o600);
    expect((await run('quantize', input, '-o', out, '-q')).code).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(readFileSync(out).length).toBeGreaterThan(3);
  });

  it('a symlink at the output path is written through: the link stays, its target is replaced', async () => {
    const target = join(dir, 'target.safetensors');
    writeFileSync(target, 'old');
    chmodSync(target, 0o640);
    const link = join(dir, 'link.safetensors');
    symlinkSync('target.safetensors', link);
    expect((await run('quantize', input, '-o', link, '-q')).code).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe('target.safetensors');
    expect(statSync(target).mode & 0o777).toBe(0o640);
    expect((await openSafetensors(target).then(async (f) => { await f.close(); return f.entries.length; }))).toBe(3);
    const dangling = join(dir, 'dangling.safetensors');
    symlinkSync('missing/nowhere.safetensors', dangling);
    expectRefused(await run('quantize', input, '-o', dangling, '-q'), /dangling\.safetensors is a symlink that leads to no file/);
  });

  it('--help says that an existing output is replaced and how', async () => {
    const help = (await run('--help')).out;
    expect(help).toMatch(/An existing file there is replaced,\s+keeping its permission bits/);
    expect(help).toMatch(/symlink there is written\s+through to its target/);
  });

  it('an output name of 252 bytes works: the temp file name is short', async () => {
    const out = join(dir, `${'a'.repeat(240)}.safetensors`);
    expect((await run('quantize', input, '-o', out, '-q')).code).toBe(0);
    expect(existsSync(out)).toBe(true);
  });
});

describe('stopping a conversion', () => {
  it('an aborted signal removes the temp file at once; an existing output is untouched', async () => {
    const out = join(dir, 'aborted.safetensors');
    writeFileSync(out, 'previous output');
    const controller = new AbortController();
    let sawTemp = false;
    const done = quantizeCheckpoint(input, out, {
      signal: controller.signal,
      onProgress: () => {
        sawTemp = temps(dir).length === 1;
        controller.abort(new Error('stop'));
        // The abort event itself removed the temp file, before the write noticed.
        expect(temps(dir)).toEqual([]);
      },
    });
    await expect(done).rejects.toThrow('stop');
    expect(sawTemp).toBe(true);
    expect(readFileSync(out, 'utf8')).toBe('previous output');
    expect(temps(dir)).toEqual([]);
  });

  // A real process, a real signal: a 64 MiB input keeps it busy long enough to be caught mid-write.
  describe.skipIf(!posix)('SIGINT, SIGTERM, SIGHUP', () => {
    const sub = mkdtempSync(join(tmpdir(), 'int8-linear-signal-'));
    const big = join(sub, 'big.safetensors');
    beforeAll(() => {
      const w = new Tensor(new Float32Array(2048 * 2048).fill(0.25), [2048, 2048]);
      writeFileSync(big, writeSafetensors({ 'a.weight': w, 'b.weight': w, 'c.weight': w, 'd.weight': w }));
    });

    for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
      it(`${sig}: the temp file is removed, exit ${code}, input and existing output untouched`, async () => {
        const out = join(sub, 'out.safetensors');
        writeFileSync(out, 'previous output');
        const before = statSync(big).mtimeMs;
        const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', 'quantize', big, '-o', out, '-q'], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
        // Wait for the temp file, then signal.
        const t0 = Date.now();
        while (temps(sub).length === 0 && Date.now() - t0 < 60_000 && child.exitCode === null) await new Promise((r) => setTimeout(r, 5));
        expect(temps(sub)).toHaveLength(1);
        child.kill(sig);
        expect(await exited).toBe(code);
        expect(stderr).toContain(`stopped by ${sig}`);
        expect(temps(sub)).toEqual([]);
        expect(readFileSync(out, 'utf8')).toBe('previous output');
        expect(statSync(big).mtimeMs).toBe(before);
      }, 90_000);
    }
  });
});

describe('many tensors, pipes, non-finite weights', () => {
  it('table() and the quantize report handle 200k rows (no Math.max(...rows) stack overflow)', () => {
    const rows = Array.from({ length: 200_000 }, (_, i) => [`t${i}`, 'F32']);
    expect(table(['tensor', 'dtype'], rows).split('\n')).toHaveLength(200_002);
    const layer = { name: 'l', shape: [1, 2], dtype: 'F32', scaleShape: [1, 1], sqnrDb: 40, maxAbsError: 1e-3, bytesBefore: 8, bytesAfter: 6 };
    const report: QuantizeReport = {
      layers: Array.from({ length: 150_000 }, () => layer), copied: [], notQuantizable: [], ignored: [], bytesIn: 1, bytesOut: 1,
      scheme: { granularity: 'channel', groupSize: null, range: 'full' } as QuantizeReport['scheme'], config: null,
    };
    expect(formatQuantizeReport(report)).toContain('150000 layers quantized');
  });

  describe.skipIf(!posix)('a file of 130k tensors', () => {
    const many = join(dir, 'many.safetensors');
    beforeAll(() => {
      // The header by hand (130k one-byte U8 tensors): quick to build.
      const n = 130_000;
      const parts: string[] = [];
      for (let i = 0; i < n; i++) parts.push(`"t${i}":{"dtype":"U8","shape":[1],"data_offsets":[${i},${i + 1}]}`);
      const header = Buffer.from(`{${parts.join(',')}}`);
      const size = Buffer.alloc(8);
      size.writeBigUInt64LE(BigInt(header.length));
      writeFileSync(many, Buffer.concat([size, header, Buffer.alloc(n)]));
    });

    it('inspect lists them', async () => {
      const r = await run('inspect', many);
      expect(r.code).toBe(0);
      expect(r.out).toContain('130000 tensors');
      expect(r.out).toMatch(/t129999\s+U8\s+\(1,\)\s+1 B/);
    }, 60_000);

    it('inspect | head exits quietly on EPIPE (nothing on stderr, status 0)', () => {
      const script = `node --import tsx src/cli/bin.ts inspect '${many}' 2>"$1" | head -n 2 >/dev/null; echo "\${PIPESTATUS[0]}"`;
      const errFile = join(dir, 'epipe.err');
      const status = execFileSync('bash', ['-c', script, 'x', errFile], { encoding: 'utf8' }).trim();
      expect(readFileSync(errFile, 'utf8')).toBe('');
      expect(status).toBe('0');
    }, 60_000);
  });

  it('a NaN or Inf weight: the error names the file, the layer and the element in the whole weight', async () => {
    const w = new Float32Array(40 * 16).fill(0.5);
    w[30 * 16 + 2] = NaN;
    const bad = join(dir, 'nan.safetensors');
    writeFileSync(bad, writeSafetensors({ 'blk.fc.weight': new Tensor(w, [40, 16]) }));
    for (const granularity of ['channel', 'tensor'] as const) {
      // 4 rows per block: row 30 is in block 8, and the message gives its row in the whole weight.
      const p = quantizeCheckpoint(bad, join(dir, 'nan-out.safetensors'), { granularity, chunkBytes: 4 * 16 * 4 });
      await expect(p).rejects.toThrow(QuantizationError);
      await expect(p).rejects.toThrow(/nan\.safetensors: layer 'blk\.fc' weight has a non-finite value NaN at \[30, 2\].*--ignore 'blk\.fc'/);
    }
    w[30 * 16 + 2] = -Infinity;
    writeFileSync(bad, writeSafetensors({ 'blk.fc.weight': new Tensor(w, [40, 16]) }));
    const r = await run('quantize', bad, '-o', join(dir, 'nan-out.safetensors'), '-q');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/nan\.safetensors: layer 'blk\.fc' weight has a non-finite value -Infinity at \[30, 2\]/);
    expect(existsSync(join(dir, 'nan-out.safetensors'))).toBe(false);
  });
});
