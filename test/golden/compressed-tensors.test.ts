import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectCloseToPyTorch as expectClose } from '../helpers/compare.js';
import { FormatError, type QuantizedLinear, type Tensor, loadCompressedTensors, readSafetensors, saveCompressedTensors } from '../../src/index.js';
import { loadCompressedTensorsFile, readSafetensorsFile } from '../../src/io/node.js';
import { vllmScheme } from '../helpers/vllm-scheme.js';

const DIR = join(new URL('.', import.meta.url).pathname, 'compressed-tensors');

/**
 * PyTorch computed y in float64 from q * scale; the reference kernel sums in float64, multiplies the
 * scale after the sum and rounds once to float32: float32 rounding of outputs below 10, about 4 ulps.
 */
const OUTPUT_TOL = 2 ** -20;

async function fixture(name: string): Promise<{ expected: Record<string, Tensor>; config: Record<string, unknown> }> {
  const { tensors } = await readSafetensorsFile(join(DIR, name, 'expected.safetensors'));
  return { expected: tensors, config: JSON.parse(readFileSync(join(DIR, name, 'config.json'), 'utf8')).quantization_config };
}

/** Every layer in expected.safetensors: int8 values and float32 scales bit for bit, outputs within OUTPUT_TOL. */
async function expectBitExact(name: string, layers: Record<string, QuantizedLinear>): Promise<void> {
  const { expected } = await fixture(name);
  const names = Object.keys(expected).filter((k) => k.endsWith('.q')).map((k) => k.slice(0, -2));
  expect(Object.keys(layers).sort()).toEqual(names.sort());
  for (const n of names) {
    const layer = layers[n];
    expect([...layer.weight.data], n).toEqual([...expected[`${n}.q`].data]);
    expect(layer.weight.shape).toEqual(expected[`${n}.q`].shape);
    expect([...layer.weightScale.data], n).toEqual([...expected[`${n}.scale`].data]);
    expectClose(layer.forward(expected[`${n}.x`] as Tensor<'float32'>), expected[`${n}.y`], OUTPUT_TOL);
  }
}

describe('pack-quantized checkpoints as llm-compressor writes them (test/golden/compressed-tensors/make_fixtures.py)', () => {
  it('W8A16, BF16 scales, re: targets in two groups, config only in config.json: bit-exact', async () => {
    const path = join(DIR, 'w8a16-bf16', 'model.safetensors');
    const raw = await readSafetensorsFile(path);
    expect(raw.metadata).toEqual({ format: 'pt' });
    expect(raw.tensors['model.layers.0.mlp.down_proj.weight_scale'].dtype).toBe('bfloat16');
    const { layers, tensors, config } = await loadCompressedTensorsFile(path);
    expect(config?.format).toBe('pack-quantized');
    await expectBitExact('w8a16-bf16', layers);
    expect(layers['model.layers.0.self_attn.q_proj'].groupSize).toBe(16);
    expect(layers['model.layers.0.mlp.up_proj'].granularity).toBe('channel');
    // lm_head is ignored (kept in float), like the embedding and the norm: returned unchanged.
    expect(Object.keys(tensors).sort()).toEqual(['lm_head.weight', 'model.embed_tokens.weight', 'model.norm.weight']);
    expect(tensors['lm_head.weight'].dtype).toBe('bfloat16');
  });

  it('rows padded to 4 (in = 10, 30), F16 scales, a class target after name targets, tensor strategy inferred, zero zero point, identity g_idx', async () => {
    const { layers } = await loadCompressedTensorsFile(join(DIR, 'padded-f16', 'model.safetensors'));
    await expectBitExact('padded-f16', layers);
    expect(layers.fc1.granularity).toBe('channel'); // group_0 "Linear"
    expect(layers.fc2.groupSize).toBe(10); // group_1 names it: a name wins over the class target before it
    expect(layers['head.proj'].granularity).toBe('tensor'); // strategy null, group_size null -> tensor (pydantic's inference)
    expect(layers.fc1.bias?.size).toBe(6);
  });

  it('W8A8 int-quantized with dynamic per-token int8 activations loads as activations int8', async () => {
    const { layers } = await loadCompressedTensorsFile(join(DIR, 'w8a8-bf16', 'model.safetensors'));
    const { expected } = await fixture('w8a8-bf16');
    for (const [n, layer] of Object.entries(layers)) {
      expect(layer.activations).toBe('int8');
      expect([...layer.weight.data]).toEqual([...expected[`${n}.q`].data]);
      expect([...layer.weightScale.data]).toEqual([...expected[`${n}.scale`].data]);
    }
    expect(Object.keys(layers).sort()).toEqual(['model.layers.0.mlp.down_proj', 'model.layers.0.mlp.gate_proj']);
  });

  it('an asymmetric checkpoint is a FormatError that says so', async () => {
    const e = await loadCompressedTensorsFile(join(DIR, 'asymmetric', 'model.safetensors')).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(FormatError);
    expect((e as Error).message).toMatch(/config_groups\.group_0\.weights\.symmetric is .*false: asymmetric weights .* symmetric int8 only/);
  });

  it('the fixtures configs are what vLLM accepts (the vLLM-style check agrees with vLLM on them)', async () => {
    for (const name of ['w8a16-bf16', 'w8a8-bf16']) {
      const { config } = await fixture(name);
      const { tensors } = await readSafetensorsFile(join(DIR, name, 'model.safetensors'));
      const layers = Object.keys(tensors).filter((k) => k.endsWith('.weight_scale')).map((k) => k.slice(0, -'.weight_scale'.length));
      for (const layer of layers) expect(vllmScheme(config, layer, tensors).scheme).toMatch(/^CompressedTensors(WNA16|W8A8Int8)$/);
      expect(vllmScheme(config, 'lm_head', tensors).scheme).toBe('UnquantizedLinearMethod');
    }
    // padded-f16 is a valid compressed-tensors file but not a vLLM one: in = 10 is not a multiple of the pack factor.
    const { config } = await fixture('padded-f16');
    const { tensors } = await readSafetensorsFile(join(DIR, 'padded-f16', 'model.safetensors'));
    expect(() => vllmScheme(config, 'fc1', tensors)).toThrow(/weight_packed/);
    expect(() => vllmScheme(config, 'head.proj', tensors)).toThrow(/No compressed-tensors compatible scheme was found/);
  });

  it("the library's own output of a loaded checkpoint loads back identically, in both layouts", async () => {
    const { layers, tensors } = await loadCompressedTensorsFile(join(DIR, 'w8a16-bf16', 'model.safetensors'));
    for (const format of ['pack-quantized', 'int-quantized'] as const) {
      const bytes = saveCompressedTensors(layers, { format, scaleDtype: 'bfloat16', tensors, ignore: ['lm_head'] });
      const raw = readSafetensors(bytes).tensors;
      expect(format === 'pack-quantized' ? raw['model.layers.0.mlp.down_proj.weight_packed'].dtype : raw['model.layers.0.mlp.down_proj.weight'].dtype).toBe(
        format === 'pack-quantized' ? 'int32' : 'int8',
      );
      const back = loadCompressedTensors(bytes);
      await expectBitExact('w8a16-bf16', back.layers);
      expect(Object.keys(back.tensors).sort()).toEqual(Object.keys(tensors).sort());
    }
    // The packed bytes are those of the file, word for word (same packing, same padding).
    const original = (await readSafetensorsFile(join(DIR, 'padded-f16', 'model.safetensors'))).tensors;
    const loaded = await loadCompressedTensorsFile(join(DIR, 'padded-f16', 'model.safetensors'));
    const again = readSafetensors(saveCompressedTensors(loaded.layers, { scaleDtype: 'float16' })).tensors;
    for (const n of ['fc1', 'fc2', 'head.proj']) {
      expect([...again[`${n}.weight_packed`].data]).toEqual([...original[`${n}.weight_packed`].data]);
      expect([...again[`${n}.weight_shape`].data]).toEqual([...original[`${n}.weight_shape`].data]);
      expect([...again[`${n}.weight_scale`].data]).toEqual([...original[`${n}.weight_scale`].data]);
    }
  });
});
