import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { quantizeCheckpoint } from '../../src/io/node-quantize.js';
import { Generator, Linear, Tensor, loadCompressedTensors, quantize, readSafetensors, writeSafetensors, type QuantScheme } from '../../src/index.js';
import { parseSafetensorsHeader, readHeaderSize } from '../../src/io/safetensors.js';
import { runCli, sink } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'int8-linear-cli-'));
const input = join(dir, 'model.safetensors');
const gen = new Generator(3);
const fc1 = new Linear(48, 24, { generator: gen });
const fc2 = new Linear(24, 12, { generator: gen });
const head = new Linear(12, 5, { generator: gen });
const tensors: Record<string, Tensor> = {
  'fc1.weight': fc1.weight.toHalf('float16'),
  'fc1.bias': fc1.bias!.toHalf('float16'),
  'fc2.weight': fc2.weight.toHalf('bfloat16'),
  'fc2.bias': fc2.bias!,
  'lm_head.weight': head.weight,
  'embed.weight': new Tensor(Float32Array.from({ length: 20 }, (_, i) => i), [5, 4]),
  'norm.weight': new Tensor(new Float32Array([1, 2, 3]), [3]),
  'steps': new Tensor(new BigInt64Array([7n]), [1], 'int64'),
};

/** Raw data bytes of each tensor of a safetensors file, by name. */
function rawBytes(bytes: Uint8Array): Map<string, Uint8Array> {
  const n = readHeaderSize(bytes, bytes.length);
  const h = parseSafetensorsHeader(bytes.subarray(8, 8 + n), bytes.length);
  return new Map(h.entries.map((e) => [e.name, bytes.subarray(h.dataStart + e.dataOffsets[0], h.dataStart + e.dataOffsets[1])]));
}

const run = runCli;

beforeAll(() => writeFileSync(input, writeSafetensors(tensors, { format: 'pt', origin: 'test' })));

describe('int8-linear quantize', () => {
  const schemes: [string, QuantScheme, string[]][] = [
    ['channel', { granularity: 'channel' }, []],
    ['group 4, restricted', { granularity: 'group', groupSize: 4, range: 'restricted' }, ['--granularity', 'group', '--group-size', '4', '--range', 'restricted']],
    ['tensor', { granularity: 'tensor' }, ['--granularity', 'tensor']],
  ];
  for (const [label, scheme, flags] of schemes) {
    it(`${label}: equals in-memory quantize, block by block (3 rows at a time), other tensors byte-identical`, async () => {
      const output = join(dir, `out-${label.replace(/\W+/g, '-')}.safetensors`);
      // chunkBytes 3 rows of 48 float32: every layer is processed in several blocks.
      await quantizeCheckpoint(input, output, { ...scheme, chunkBytes: 3 * 48 * 4 });
      const outBytes = new Uint8Array(readFileSync(output));
      const { layers, tensors: rest } = loadCompressedTensors(outBytes);
      expect(Object.keys(layers).sort()).toEqual(['fc1', 'fc2']);
      for (const name of ['fc1', 'fc2']) {
        const want = quantize(tensors[`${name}.weight`].toFloat32(), scheme);
        expect([...layers[name].weight.data]).toEqual([...want.values.data]);
        expect([...layers[name].weightScale.data]).toEqual([...want.scale.data]);
        expect(layers[name].range).toBe(want.range);
      }
      const before = rawBytes(new Uint8Array(readFileSync(input)));
      const after = rawBytes(outBytes);
      for (const name of ['fc1.bias', 'fc2.bias', 'lm_head.weight', 'embed.weight', 'norm.weight', 'steps']) {
        expect(Buffer.from(after.get(name) as Uint8Array).equals(Buffer.from(before.get(name) as Uint8Array))).toBe(true);
      }
      expect(Object.keys(rest).sort()).toEqual(['embed.weight', 'lm_head.weight', 'norm.weight', 'steps']);
      expect(readSafetensors(outBytes).tensors['fc1.bias'].dtype).toBe('float16');
      // The command with the same flags, in one block per layer, writes the very same bytes.
      const viaCli = join(dir, `cli-${label.replace(/\W+/g, '-')}.safetensors`);
      expect((await run('quantize', input, '-o', viaCli, '-q', ...flags)).code).toBe(0);
      expect(Buffer.from(readFileSync(viaCli)).equals(Buffer.from(outBytes))).toBe(true);
    });
  }

  it('prints the per-layer table with totals and writes bf16 scales', async () => {
    const output = join(dir, 'bf16.safetensors');
    const r = await run('quantize', input, '-o', output, '--scale-dtype', 'bf16');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/layer\s+weight\s+scale\s+SQNR dB\s+max \|err\|\s+before\s+after/);
    expect(r.out).toMatch(/fc1\s+F16 \(24, 48\)\s+\(24, 1\)\s+\d+\.\d\d/);
    expect(r.out).toContain('2 layers quantized, 6 tensors copied unchanged (ignored: embed, lm_head)');
    expect(readSafetensors(new Uint8Array(readFileSync(output))).tensors['fc2.weight_scale'].dtype).toBe('bfloat16');
    const config = JSON.parse(readSafetensors(new Uint8Array(readFileSync(output))).metadata?.quantization_config as string);
    expect(config.ignore).toEqual(['embed', 'lm_head']);
  });

  it('draws a progress bar on stderr only when it is a terminal', async () => {
    const out = sink();
    const tty = sink(true);
    expect(await main(['quantize', input, '-o', join(dir, 'tty.safetensors')], out, tty)).toBe(0);
    // The last drawing says 100% of the bytes; the line is cleared at the end (test/smoke/cli-tty.mjs runs it on a real pseudo-terminal).
    expect(tty.text).toMatch(/\[#+\] 100% .*\/.* ETA /);
    expect(tty.text.endsWith('\x1b[2K')).toBe(true);
    const plain = sink();
    expect(await main(['quantize', input, '-o', join(dir, 'tty.safetensors')], sink(), plain)).toBe(0);
    expect(plain.text).toBe('');
  });

  it('--config-json merges quantization_config into config.json beside the output, keeping its keys', async () => {
    const sub = mkdtempSync(join(dir, 'cfg-'));
    writeFileSync(join(sub, 'config.json'), JSON.stringify({ architectures: ['Tiny'], hidden_size: 48 }));
    expect((await run('quantize', input, '-o', join(sub, 'model.safetensors'), '--config-json', '-q')).code).toBe(0);
    const cfg = JSON.parse(readFileSync(join(sub, 'config.json'), 'utf8'));
    expect(cfg.architectures).toEqual(['Tiny']);
    expect(cfg.quantization_config.config_groups.group_0.weights.strategy).toBe('channel');
    expect(cfg.quantization_config.ignore).toEqual(['embed', 'lm_head']);
  });

  it('--ignore adds to the defaults; --no-default-ignore (or the old --ignore "") quantizes lm_head too; a pattern matching nothing warns', async () => {
    for (const flag of ['--no-default-ignore', '--ignore=']) {
      const r = await run('quantize', input, '-o', join(dir, 'all.safetensors'), flag, '-q');
      expect(r.code, r.err).toBe(0);
      const { layers } = loadCompressedTensors(new Uint8Array(readFileSync(join(dir, 'all.safetensors'))));
      expect(Object.keys(layers).sort()).toEqual(['embed', 'fc1', 'fc2', 'lm_head']);
    }
    const some = await run('quantize', input, '-o', join(dir, 'some.safetensors'), '--ignore', 'fc1', '--ignore', 're:.*nothing', '-q');
    expect(some.code).toBe(0);
    expect(Object.keys(loadCompressedTensors(new Uint8Array(readFileSync(join(dir, 'some.safetensors')))).layers).sort()).toEqual(['fc2']);
    expect(some.err).toBe('int8-linear: warning: --ignore "re:.*nothing" matches no quantizable layer\n');
  });

  it('exit codes: 2 usage, 1 bad input with one line, nothing half-written', async () => {
    expect((await run()).code).toBe(2);
    expect((await run('frobnicate')).code).toBe(2);
    expect((await run('quantize', input)).code).toBe(2);
    const self = await run('quantize', input, '-o', input);
    expect(self.code).toBe(1);
    expect(self.err).toMatch(/is the input .*same device and inode/);
    expect((await run('quantize', input, '-o', join(dir, 'x'), '--granularity', 'row')).code).toBe(2);
    expect((await run('quantize', input, '-o', join(dir, 'x'), '--granularity', 'group')).code).toBe(2);
    expect((await run('quantize', input, '-o', join(dir, 'x'), '--bogus')).code).toBe(2);
    const missing = await run('quantize', join(dir, 'nope.safetensors'), '-o', join(dir, 'x'));
    expect(missing.code).toBe(1);
    expect(missing.err.trim().split('\n')).toHaveLength(1);
    writeFileSync(join(dir, 'bad.safetensors'), 'not a safetensors file');
    const bad = await run('inspect', join(dir, 'bad.safetensors'));
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/^int8-linear: \S*bad\.safetensors: header: HeaderTooLarge: not a safetensors file/);
    const odd = await run('quantize', input, '-o', join(dir, 'odd.safetensors'), '--granularity', 'group', '--group-size', '5');
    expect(odd.code).toBe(1);
    expect(odd.err).toMatch(/^int8-linear: 2 layer\(s\) cannot be quantized as asked; nothing was written/);
    expect(odd.err).toMatch(/\n {2}\S+: layer 'fc1' F16 \(24, 48\): in_features 48 is not divisible by groupSize 5/);
    expect(odd.err).toMatch(/\n {2}\S+: layer 'fc2' .*divisible by groupSize 5/);
    expect(existsSync(join(dir, 'odd.safetensors'))).toBe(false);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('--help and --version exit 0; inspect shows dtypes, shapes and the scheme', async () => {
    expect((await run('--help')).out).toContain('int8-linear quantize <in> -o <out> [options]');
    const v = await run('--version');
    expect(v.code).toBe(0);
    expect(v.out.trim()).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
    await run('quantize', input, '-o', join(dir, 'g.safetensors'), '--granularity', 'group', '--group-size', '4', '-q');
    const r = await run('inspect', join(dir, 'g.safetensors'));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/fc1\.weight_packed\s+I32\s+\(24, 12\)\s+1\.13 KiB\s+int8 group 4 full packed \(24, 48\), scale F32 \(24, 12\)/);
    expect(r.out).toMatch(/steps\s+I64\s+\(1,\)/);
  });

  it('the bin runs as a process (tsx) and exits with the code', async () => {
    const exec = promisify(execFile);
    const { stdout } = await exec(process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', 'inspect', input]);
    expect(stdout).toContain('norm.weight');
    await expect(exec(process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', 'quantize'])).rejects.toMatchObject({ code: 2 });
  });
});

describe('int8-linear quantize: the output must be readable (issue 9, item 5)', () => {
  it('an input whose header is just under 100 MB: the quantized header would pass the limit, so exit 1 and nothing is written', async () => {
    const sub = mkdtempSync(join(dir, 'limit-'));
    const near = join(sub, 'near.safetensors');
    const fc = { 'fc.weight': new Tensor(new Float32Array([0.5, -1, 0.25, 2]), [2, 2]) };
    const padding = 100_000_000 - 200;
    writeFileSync(near, writeSafetensors(fc, { pad: 'a'.repeat(padding) }));
    expect(readSafetensors(new Uint8Array(readFileSync(near))).metadata?.pad.length).toBe(padding);
    const r = await run('quantize', near, '-o', join(sub, 'out.safetensors'), '-q');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/HeaderTooLarge.*nothing was written/);
    expect(readdirSync(sub)).toEqual(['near.safetensors']);
  });
});
