import { describe, expect, it } from 'vitest';
import { FormatError, Generator, Linear, QuantizedLinear, QuantizationError, Tensor, readSafetensors, writeSafetensors } from '../../src/index.js';
import { loadCompressedTensors, matchesTarget, packInt8Rows, quantizationConfig, saveCompressedTensors, unpackInt8Rows } from '../../src/io/compressed-tensors.js';
import { vllmScheme } from '../helpers/vllm-scheme.js';

const gen = new Generator(7);
const fc1 = new Linear(32, 16, { generator: gen });
const fc2 = new Linear(16, 4, { bias: false, generator: gen });
const odd = new Linear(7, 3, { generator: gen });
const fc8 = new Linear(8, 3, { generator: gen });
const x = new Tensor(Float32Array.from({ length: 3 * 32 }, (_, i) => Math.sin(i)), [3, 32]);

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON read back, checked field by field
const configOf = (bytes: Uint8Array): Record<string, any> => JSON.parse(readSafetensors(bytes).metadata?.quantization_config as string);

describe('pack-quantized 8-bit packing (compressed-tensors pack_to_int32 / unpack_from_int32)', () => {
  it("gives pack_to_int32's documented value and bytes uint8(q + 128), rows zero-padded to 4", () => {
    // pack_to_int32's docstring: [1, 2] -> [129, 130, 0, 0] -> 33409.
    expect([...packInt8Rows(new Int8Array([1, 2]), 1, 2)]).toEqual([33409]);
    const q = new Int8Array([-128, -1, 0, 127, 5, /* row 1 */ 1, 2, 3, 4, -5]);
    const packed = packInt8Rows(q, 2, 5);
    expect(packed.length).toBe(4); // (2, ceil(5 / 4) = 2)
    expect([...new Uint8Array(packed.buffer)]).toEqual([0, 127, 128, 255, 133, 0, 0, 0, 129, 130, 131, 132, 123, 0, 0, 0]);
    // Bit 31 set (the top byte >= 128) is a negative int32, as torch stores it.
    expect(packed[0]).toBe(0 | (127 << 8) | (128 << 16) | (255 << 24));
    expect([...unpackInt8Rows(packed, 2, 5)]).toEqual([...q]);
  });
});

describe('compressed-tensors save/load', () => {
  it('writes weight-only layers pack-quantized by default, with the config fields compressed-tensors writes', () => {
    const layers = {
      'model.fc1': QuantizedLinear.fromLinear(fc1, { granularity: 'group', groupSize: 8, range: 'restricted' }),
      'model.fc2': QuantizedLinear.fromLinear(fc2, { granularity: 'tensor' }),
      'model.odd': QuantizedLinear.fromLinear(odd),
    };
    const emb = new Tensor(new Float32Array(10), [5, 2]);
    const bytes = saveCompressedTensors(layers, { tensors: { 'model.embed.weight': emb }, ignore: ['lm_head'] });
    const raw = readSafetensors(bytes);
    expect(Object.keys(raw.tensors).sort()).toEqual([
      'model.embed.weight', 'model.fc1.bias', 'model.fc1.weight_packed', 'model.fc1.weight_scale', 'model.fc1.weight_shape',
      'model.fc2.weight_packed', 'model.fc2.weight_scale', 'model.fc2.weight_shape',
      'model.odd.bias', 'model.odd.weight_packed', 'model.odd.weight_scale', 'model.odd.weight_shape',
    ]);
    expect(raw.tensors['model.fc1.weight_packed'].dtype).toBe('int32');
    expect(raw.tensors['model.fc1.weight_packed'].shape).toEqual([16, 8]);
    expect(raw.tensors['model.odd.weight_packed'].shape).toEqual([3, 2]); // ceil(7 / 4)
    expect(raw.tensors['model.odd.weight_shape'].dtype).toBe('int64');
    expect([...raw.tensors['model.odd.weight_shape'].data]).toEqual([3n, 7n]);
    expect(raw.tensors['model.fc1.weight_scale'].shape).toEqual([16, 4]);
    expect(raw.tensors['model.fc2.weight_scale'].shape).toEqual([1]);
    expect(raw.metadata?.format).toBe('pt');
    const config = configOf(bytes);
    expect(Object.keys(config).sort()).toEqual(
      ['config_groups', 'format', 'global_compression_ratio', 'ignore', 'kv_cache_scheme', 'quant_method', 'quantization_status', 'version'],
    );
    expect(config).toMatchObject({ quant_method: 'compressed-tensors', format: 'pack-quantized', quantization_status: 'compressed', ignore: ['lm_head'], kv_cache_scheme: null });
    expect(config.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(config.config_groups.group_0).toMatchObject({
      targets: ['model.fc1'], format: 'pack-quantized', input_activations: null, output_activations: null,
      weights: { num_bits: 8, type: 'int', symmetric: true, strategy: 'group', group_size: 8, dynamic: false, actorder: null },
    });
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

  it("int-quantized on request: plain I8 weights, loads back identically; vLLM refuses it for weight-only layers", () => {
    const layers = { 'model.fc1': QuantizedLinear.fromLinear(fc1), 'model.odd': QuantizedLinear.fromLinear(odd) };
    const bytes = saveCompressedTensors(layers, { format: 'int-quantized' });
    const raw = readSafetensors(bytes);
    expect(raw.tensors['model.fc1.weight'].dtype).toBe('int8');
    expect(raw.tensors['model.fc1.weight_packed']).toBeUndefined();
    const config = configOf(bytes);
    expect(config.format).toBe('int-quantized');
    const back = loadCompressedTensors(bytes).layers;
    for (const [name, layer] of Object.entries(layers)) expect([...back[name].weight.data]).toEqual([...layer.weight.data]);
    expect(() => vllmScheme(config, 'model.fc1', raw.tensors)).toThrow(/needs float weights/);
    // The default (pack-quantized) is what vLLM loads weight-only (CompressedTensorsWNA16).
    const packed = saveCompressedTensors({ 'model.fc1': layers['model.fc1'] });
    expect(vllmScheme(configOf(packed), 'model.fc1', readSafetensors(packed).tensors).scheme).toBe('CompressedTensorsWNA16');
  });

  it('W8A8 layers (activations int8) are int-quantized with dynamic per-token input_activations, which vLLM accepts', () => {
    const layers = {
      'm.a': QuantizedLinear.fromLinear(fc1, { activations: 'int8' }),
      'm.b': QuantizedLinear.fromLinear(fc2, { activations: 'int8', granularity: 'tensor' }),
      'm.c': QuantizedLinear.fromLinear(fc8, { granularity: 'group', groupSize: 4 }),
    };
    const bytes = saveCompressedTensors(layers, { scaleDtype: 'bfloat16' });
    const config = configOf(bytes);
    expect(config.format).toBe('mixed-precision');
    const groups = Object.values(config.config_groups) as Record<string, unknown>[];
    expect(groups.map((g) => g.format)).toEqual(['int-quantized', 'int-quantized', 'pack-quantized']);
    expect(groups[0].input_activations).toEqual({
      num_bits: 8, type: 'int', symmetric: true, group_size: null, strategy: 'token', block_structure: null,
      dynamic: true, actorder: null, scale_dtype: null, zp_dtype: null, observer: null, observer_kwargs: {},
    });
    const tensors = readSafetensors(bytes).tensors;
    expect(tensors['m.a.weight'].dtype).toBe('int8');
    expect(tensors['m.c.weight_packed'].dtype).toBe('int32');
    expect(vllmScheme(config, 'm.a', tensors).scheme).toBe('CompressedTensorsW8A8Int8');
    expect(vllmScheme(config, 'm.b', tensors).scheme).toBe('CompressedTensorsW8A8Int8');
    expect(vllmScheme(config, 'm.c', tensors).scheme).toBe('CompressedTensorsWNA16');
    const back = loadCompressedTensors(bytes).layers;
    expect(back['m.a'].activations).toBe('int8');
    expect(back['m.c'].activations).toBe('float32');
    expect([...back['m.a'].weight.data]).toEqual([...layers['m.a'].weight.data]);
    // One W8A8 scheme only: format int-quantized, targets the Linear class.
    const one = configOf(saveCompressedTensors({ 'm.a': layers['m.a'] }));
    expect(one).toMatchObject({ format: 'int-quantized', config_groups: { group_0: { targets: ['Linear'] } } });
  });

  it('refuses W8A8 with group scales, saying why (vLLM has no such kernel)', () => {
    const layer = QuantizedLinear.fromLinear(fc1, { activations: 'int8', granularity: 'group', groupSize: 8 });
    expect(() => saveCompressedTensors({ fc: layer })).toThrow(QuantizationError);
    expect(() => saveCompressedTensors({ fc: layer })).toThrow(/layer 'fc': W8A8 .* group scales .*per-tensor or per-channel/);
    expect(() => quantizationConfig({ fc: { ...layer.scheme, activations: 'int8' } })).toThrow(/W8A8/);
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
      config_groups: { g: { targets: ['re:layers\\.\\d+'], weights: { num_bits: 8, type: 'int', symmetric: true, strategy: 'group', group_size: 4 } as Record<string, unknown> } },
    };
    // The config says group 4, the scale is per channel: the mismatch names the layer.
    expect(() => loadCompressedTensors(bytes, { config })).toThrow(/layer 'layers.0' \(group 4\)/);
    config.config_groups.g.weights = { num_bits: 8, type: 'int', symmetric: true, strategy: 'channel', group_size: null };
    expect(loadCompressedTensors(bytes, { config }).layers['layers.0'].granularity).toBe('channel');
    // A preset group (name -> targets), as compressed-tensors' preset_name_to_scheme expands it.
    const preset = { quant_method: 'compressed-tensors', format: 'int-quantized', config_groups: { W8A8: ['Linear'] } };
    expect(loadCompressedTensors(bytes, { config: preset }).layers['layers.0'].activations).toBe('int8');
  });

  it('validates QuantizationArgs as compressed-tensors does: unknown fields, asymmetric, strategy and group_size', () => {
    const q = QuantizedLinear.fromLinear(fc2);
    const bytes = writeSafetensors({ 'f.weight': q.weight, 'f.weight_scale': q.weightScale });
    const channel = { num_bits: 8, type: 'int', symmetric: true, strategy: 'channel', group_size: null };
    const load = (weights: unknown, extra: Record<string, unknown> = {}): unknown =>
      loadCompressedTensors(bytes, { config: { quant_method: 'compressed-tensors', format: 'pack-quantized', config_groups: { g: { targets: ['Linear'], weights, ...extra } } } });
    expect(() => load({ ...channel, bits: 8 })).toThrow(/config_groups\.g\.weights has an unknown field "bits"/);
    expect(() => load(channel, { weight: {} })).toThrow(/config_groups\.g has an unknown field "weight"/);
    expect(() => load({ ...channel, symmetric: false })).toThrow(/asymmetric weights .*symmetric int8 only/);
    expect(() => load({ ...channel, num_bits: 4 })).toThrow(/8-bit int weights/);
    expect(() => load({ ...channel, group_size: 4 })).toThrow(/group_size 4 needs strategy "group"/);
    expect(() => load({ ...channel, strategy: 'block' })).toThrow(/strategy .*"block" is not one this library loads/);
    expect(() => load(channel, { input_activations: { num_bits: 8, type: 'int', symmetric: true, strategy: 'tensor', dynamic: false } })).toThrow(/static or asymmetric activation scales/);
    expect(() => load(channel, { format: 'marlin-24' })).toThrow(/format .*marlin-24/);
    expect((load({ num_bits: 8, type: 'int', symmetric: true, group_size: -1 }) as ReturnType<typeof loadCompressedTensors>).layers.f.granularity).toBe('channel');
  });

  it('refuses a permuting weight_g_idx and a non-zero zero point; accepts the identity g_idx', () => {
    const q = QuantizedLinear.fromLinear(fc1, { granularity: 'group', groupSize: 16 });
    const base = { 'f.weight': q.weight, 'f.weight_scale': q.weightScale };
    const identity = new Tensor(Int32Array.from({ length: 32 }, (_, c) => Math.floor(c / 16)), [32], 'int32');
    expect(loadCompressedTensors(writeSafetensors({ ...base, 'f.weight_g_idx': identity })).layers.f.groupSize).toBe(16);
    const permuted = new Tensor(Int32Array.from({ length: 32 }, (_, c) => c % 2), [32], 'int32');
    expect(() => loadCompressedTensors(writeSafetensors({ ...base, 'f.weight_g_idx': permuted }))).toThrow(/weight_g_idx permutes the input columns/);
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
    const packed = new Tensor(new Int32Array(4), [4, 1], 'int32');
    const shape = (v: bigint[]): Tensor => new Tensor(new BigInt64Array(v), [v.length], 'int64');
    expect(() => loadCompressedTensors(writeSafetensors({ 'f.weight_packed': packed, 'f.weight_scale': q.weightScale }))).toThrow(/weight_shape of 2 integers/);
    expect(() => loadCompressedTensors(writeSafetensors({ 'f.weight_packed': packed, 'f.weight_shape': shape([4n, 16n]), 'f.weight_scale': q.weightScale }))).toThrow(
      /weight_packed is int32 \(4, 1\); 8-bit pack-quantized \(out, in\) = \(4, 16\) needs int32 \(4, 4\)/,
    );
    expect(() => loadCompressedTensors(writeSafetensors({ 'f.weight_packed': packed, 'f.weight_shape': shape([4n, -1n]), 'f.weight_scale': q.weightScale }))).toThrow(/two positive integers/);
  });

  it('matches targets as compressed-tensors: exact name, re: prefix match, the Linear class', () => {
    expect(matchesTarget('lm_head', 'lm_head')).toBe(true);
    expect(matchesTarget('lm_head', 'model.lm_head')).toBe(false);
    expect(matchesTarget('re:.*proj', 'model.q_proj')).toBe(true);
    expect(matchesTarget('re:proj', 'model.q_proj')).toBe(false);
    expect(matchesTarget('Linear', 'anything')).toBe(true);
  });
});
