import { describe, expect, it } from 'vitest';
import { FormatError, Generator, Linear, QuantizedLinear, QuantizationError, Tensor, readSafetensors, writeSafetensors } from '../../src/index.js';
import { loadCompressedTensors, matchesTarget, saveCompressedTensors } from '../../src/io/compressed-tensors.js';

const gen = new Generator(7);
const fc1 = new Linear(32, 16, { generator: gen });
const fc2 = new Linear(16, 4, { bias: false, generator: gen });
const x = new Tensor(Float32Array.from({ length: 3 * 32 }, (_, i) => Math.sin(i)), [3, 32]);

describe('compressed-tensors save/load', () => {
  it('round-trips each scheme exactly with float32 scales, names and config as compressed-tensors', () => {
    const layers = {
      'model.fc1': QuantizedLinear.fromLinear(fc1, { granularity: 'group', groupSize: 8, range: 'restricted' }),
      'model.fc2': QuantizedLinear.fromLinear(fc2, { granularity: 'tensor' }),
    };
    const emb = new Tensor(new Float32Array(10), [5, 2]);
    const bytes = saveCompressedTensors(layers, { tensors: { 'model.embed.weight': emb }, ignore: ['lm_head'] });
    const raw = readSafetensors(bytes);
    expect(Object.keys(raw.tensors).sort()).toEqual(
      ['model.embed.weight', 'model.fc1.bias', 'model.fc1.weight', 'model.fc1.weight_scale', 'model.fc2.weight', 'model.fc2.weight_scale'],
    );
    expect(raw.tensors['model.fc1.weight'].dtype).toBe('int8');
    expect(raw.tensors['model.fc1.weight_scale'].shape).toEqual([16, 4]);
    expect(raw.tensors['model.fc2.weight_scale'].shape).toEqual([1]);
    const config = JSON.parse(raw.metadata?.quantization_config as string);
    expect(config.quant_method).toBe('compressed-tensors');
    expect(config.format).toBe('int-quantized');
    expect(config.ignore).toEqual(['lm_head']);
    expect(config.config_groups.group_0).toMatchObject({ targets: ['model.fc1'], weights: { num_bits: 8, type: 'int', symmetric: true, strategy: 'group', group_size: 8 } });
    expect(config.config_groups.group_1).toMatchObject({ targets: ['model.fc2'], weights: { strategy: 'tensor', group_size: null } });

    const loaded = loadCompressedTensors(bytes);
    expect(Object.keys(loaded.tensors)).toEqual(['model.embed.weight']);
    for (const [name, layer] of Object.entries(layers)) {
      const back = loaded.layers[name];
      expect(String(back)).toBe(String(layer));
      expect([...back.weight.data]).toEqual([...layer.weight.data]);
      expect([...back.weightScale.data]).toEqual([...layer.weightScale.data]);
    }
    expect([...loaded.layers['model.fc1'].forward(x).data]).toEqual([...layers['model.fc1'].forward(x).data]);
  });

  it('stores bfloat16 / float16 scales and reads them back as their rounded float32 values', () => {
    const layer = QuantizedLinear.fromLinear(fc1);
    for (const dtype of ['bfloat16', 'float16'] as const) {
      const bytes = saveCompressedTensors({ fc1: layer }, { scaleDtype: dtype });
      expect(readSafetensors(bytes).tensors['fc1.weight_scale'].dtype).toBe(dtype);
      const back = loadCompressedTensors(bytes).layers.fc1;
      expect([...back.weightScale.data]).toEqual([...layer.weightScale.toHalf(dtype).toFloat32().data]);
      for (let i = 0; i < 16; i++) {
        const rel = Math.abs(back.weightScale.data[i] - layer.weightScale.data[i]) / layer.weightScale.data[i];
        // Round to nearest: bfloat16 keeps 8 significant bits (relative error <= 2^-8), float16 11 (<= 2^-11).
        expect(rel).toBeLessThanOrEqual(dtype === 'bfloat16' ? 2 ** -8 : 2 ** -11);
      }
    }
  });

  it('refuses a float16 scale that would overflow (absmax above 65504 * 127.5)', () => {
    const tiny = new Linear(4, 2, { generator: gen });
    tiny.weight.data.fill(1e7);
    expect(() => saveCompressedTensors({ t: QuantizedLinear.fromLinear(tiny) }, { scaleDtype: 'float16' })).toThrow(QuantizationError);
    expect(() => saveCompressedTensors({ t: QuantizedLinear.fromLinear(tiny) }, { scaleDtype: 'bfloat16' })).not.toThrow();
  });

  it('loads a file written without any config, inferring the scheme from the scale shape', () => {
    const q = QuantizedLinear.fromLinear(fc1, { granularity: 'group', groupSize: 16 });
    const bytes = writeSafetensors({ 'a.weight': q.weight, 'a.weight_scale': q.weightScale.toHalf('bfloat16'), 'a.weight_zero_point': new Tensor(new Int8Array(32), [16, 2]) });
    const { layers, tensors } = loadCompressedTensors(bytes);
    expect(layers.a.granularity).toBe('group');
    expect(layers.a.groupSize).toBe(16);
    expect(layers.a.bias).toBe(null);
    expect(Object.keys(tensors)).toEqual([]);
  });

  it('uses a config.json config passed in, with re: targets', () => {
    const q = QuantizedLinear.fromLinear(fc1, { granularity: 'channel' });
    const bytes = writeSafetensors({ 'layers.0.weight': q.weight, 'layers.0.weight_scale': q.weightScale });
    const config = {
      quant_method: 'compressed-tensors', format: 'int-quantized', ignore: [],
      config_groups: { g: { targets: ['re:layers\\.\\d+'], weights: { num_bits: 8, type: 'int', symmetric: true, strategy: 'group', group_size: 4 } } },
    };
    // The config says group 4, the scale is per channel: the mismatch names the layer.
    expect(() => loadCompressedTensors(bytes, { config })).toThrow(/layer 'layers.0' \(group 4\)/);
    config.config_groups.g.weights.strategy = 'channel';
    expect(loadCompressedTensors(bytes, { config }).layers['layers.0'].granularity).toBe('channel');
  });

  it('rejects what it cannot load, with a FormatError naming the layer', () => {
    const q = QuantizedLinear.fromLinear(fc2);
    expect(() => loadCompressedTensors(writeSafetensors({ 'f.weight': fc2.weight, 'f.weight_scale': q.weightScale }))).toThrow(/layer 'f'/);
    expect(() => loadCompressedTensors(writeSafetensors({ 'f.weight': q.weight, 'f.weight_scale': new Tensor(new Float32Array(4).fill(-1), [4, 1]) }))).toThrow(FormatError);
    expect(() => loadCompressedTensors(writeSafetensors({ 'f.weight': q.weight, 'f.weight_scale': new Tensor(new Float32Array(3), [3]) }))).toThrow(/fits no scheme/);
    const asym = writeSafetensors({ 'f.weight': q.weight, 'f.weight_scale': q.weightScale, 'f.weight_zero_point': new Tensor(new Int8Array([0, 1, 0, 0]), [4, 1]) });
    expect(() => loadCompressedTensors(asym)).toThrow(/symmetric/);
    const fp8 = { quant_method: 'compressed-tensors', format: 'float-quantized', config_groups: {}, ignore: [] };
    expect(() => loadCompressedTensors(writeSafetensors({}), { config: fp8 })).toThrow(/float-quantized/);
  });

  it('matches targets as compressed-tensors: exact name, re: prefix match, the Linear class', () => {
    expect(matchesTarget('lm_head', 'lm_head')).toBe(true);
    expect(matchesTarget('lm_head', 'model.lm_head')).toBe(false);
    expect(matchesTarget('re:.*proj', 'model.q_proj')).toBe(true);
    expect(matchesTarget('re:proj', 'model.q_proj')).toBe(false);
    expect(matchesTarget('Linear', 'anything')).toBe(true);
  });
});
