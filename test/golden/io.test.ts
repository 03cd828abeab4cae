import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectCloseToPyTorch as expectClose } from '../helpers/compare.js';
import { quantizeCheckpoint } from '../../src/io/node-quantize.js';
import { loadCompressedTensors, quantize, readSafetensors } from '../../src/index.js';
import { unpackInt8Rows } from '../../src/io/compressed-tensors.js';
import { loadCompressedTensorsFile, openSafetensors, readSafetensorsFile } from '../../src/io/node.js';

const HERE = new URL('.', import.meta.url).pathname;

/**
 * PyTorch computed the expected outputs in float64 from the dequantized weights; the reference
 * kernel also sums in float64 but multiplies the scale after the sum and rounds once to float32,
 * so the two differ by float32 rounding of outputs of magnitude < 10: 2^-20 is about 4 ulps there.
 */
const OUTPUT_TOL = 2 ** -20;

describe('compressed-tensors checkpoint written by hand from the spec (test/golden/io/make_fixtures.py)', () => {
  const dir = join(HERE, 'io', 'compressed-tensors');

  it('loads with the config from config.json: schemes, bf16 scales, zero points, ignore', async () => {
    const { layers, tensors, config } = await loadCompressedTensorsFile(join(dir, 'model.safetensors'));
    expect(config?.format).toBe('int-quantized');
    expect(Object.keys(layers).sort()).toEqual(['model.layers.0.mlp.down_proj', 'model.layers.0.mlp.up_proj']);
    const down = layers['model.layers.0.mlp.down_proj'];
    const up = layers['model.layers.0.mlp.up_proj'];
    expect(String(down)).toContain('granularity=channel, range=full, scale_shape=(32, 1)');
    expect(String(up)).toContain('bias=False, dtype=int8, granularity=group, group_size=16, range=full, scale_shape=(64, 2)');
    expect(Object.keys(tensors).sort()).toEqual(['lm_head.weight', 'model.norm.weight']);
    const raw = readSafetensors(new Uint8Array(readFileSync(join(dir, 'model.safetensors')))).tensors;
    expect([...down.weight.data]).toEqual([...raw['model.layers.0.mlp.down_proj.weight'].data]);
    expect([...down.weightScale.data]).toEqual([...raw['model.layers.0.mlp.down_proj.weight_scale'].toFloat32().data]);
  });

  it('forward matches PyTorch on the dequantized weights', async () => {
    const { layers } = await loadCompressedTensorsFile(join(dir, 'model.safetensors'));
    const { tensors: e } = await readSafetensorsFile(join(dir, 'expected.safetensors'));
    expectClose(layers['model.layers.0.mlp.down_proj'].forward(e.x_down), e.y_down, OUTPUT_TOL);
    expectClose(layers['model.layers.0.mlp.up_proj'].forward(e.x_up), e.y_up, OUTPUT_TOL);
  });

  it('without config.json the schemes are inferred from the scale shapes', () => {
    const { layers } = loadCompressedTensors(new Uint8Array(readFileSync(join(dir, 'model.safetensors'))));
    expect(layers['model.layers.0.mlp.up_proj'].groupSize).toBe(16);
    expect(layers['model.layers.0.mlp.down_proj'].granularity).toBe('channel');
  });
});

describe('F16 / BF16 / F32 checkpoint written by the independent Python writer', () => {
  it('quantizes with the CLI path: int8 equals quantize() of the decoded weights, other tensors byte-identical', async () => {
    const input = join(HERE, 'io', 'mixed-dtypes.safetensors');
    const out = join(mkdtempSync(join(tmpdir(), 'mixed-')), 'int8.safetensors');
    const report = await quantizeCheckpoint(input, out, { granularity: 'group', groupSize: 16 });
    expect(report.layers.map((l) => `${l.name} ${l.dtype}`)).toEqual(['fc1 F16', 'fc2 BF16', 'fc3 F32']);
    // BOOL has no Tensor dtype: compare raw bytes of every tensor through openSafetensors.
    const src = await openSafetensors(input);
    const dst = await openSafetensors(out);
    try {
      for (const name of ['fc1', 'fc2', 'fc3']) {
        const w = await src.read(`${name}.weight`);
        const packed = await dst.read(`${name}.weight_packed`);
        expect(packed.dtype).toBe('int32');
        const [out, inF] = w.shape;
        expect([...unpackInt8Rows(packed.data as Int32Array, out, inF)]).toEqual([...quantize(w.toFloat32(), { granularity: 'group', groupSize: 16 }).values.data]);
      }
      const copied = src.entries.map((e) => e.name).filter((n) => !/^fc\d\.weight$/.test(n));
      expect(copied.sort()).toEqual(['embed.weight', 'fc1.bias', 'fc2.bias', 'fc3.bias', 'flags', 'mask', 'steps']);
      for (const name of copied) {
        expect(dst.entry(name).dtype).toBe(src.entry(name).dtype);
        expect(Buffer.from(await dst.readBytes(name)).equals(Buffer.from(await src.readBytes(name)))).toBe(true);
      }
      expect(dst.entry('flags').dtype).toBe('BOOL');
    } finally {
      await src.close();
      await dst.close();
    }
  });
});
