import { describe, expect, it } from 'vitest';
import { QuantizationError, ShapeError } from '../../src/errors.js';
import { EPS, FORMATS, RANGES, formatOf, quantizeWithScales } from '../../src/format/formats.js';
import { kernelView } from '../../src/format/kernel-view.js';
import { TENSOR_KEYS, layerOf, tensorName } from '../../src/format/names.js';
import { GRANULARITIES, blockLength, resolveScheme, scaleShape, type QuantScheme } from '../../src/format/scheme.js';
import { createJsBackend } from '../../src/kernels/js-packed.js';
import { Generator, Linear, QuantizedLinear, Tensor, dequantize, quantize, uniform_ } from '../../src/index.js';

const SCHEMES: readonly QuantScheme[] = [
  { granularity: 'tensor' },
  { granularity: 'channel' },
  { granularity: 'group', groupSize: 4 },
  { granularity: 'channel', range: 'restricted' },
];

function weight(rows: number, cols: number, seed = 3): Tensor<'float32'> {
  return uniform_(Tensor.zeros([rows, cols], 'float32'), -2, 2, new Generator(seed));
}

describe('the format table', () => {
  it('has the two symmetric int8 rows with the ranges of DESIGN §2, and RANGES is read from it', () => {
    expect(FORMATS['int8-full']).toMatchObject({ id: 'int8-full', bits: 8, qmin: -128, qmax: 127, divisor: 127.5, blockSize: null, scaleDtype: 'float32' });
    expect(FORMATS['int8-restricted']).toMatchObject({ id: 'int8-restricted', bits: 8, qmin: -127, qmax: 127, divisor: 127, blockSize: null, scaleDtype: 'float32' });
    expect(RANGES.full).toEqual({ qmin: -128, qmax: 127, divisor: 127.5 });
    expect(RANGES.restricted).toEqual({ qmin: -127, qmax: 127, divisor: 127 });
    expect(formatOf({ range: 'restricted' })).toBe(FORMATS['int8-restricted']);
  });

  it("each row's reference: scale = max(fround(absmax / divisor), EPS); ties to even; clamped", () => {
    const full = FORMATS['int8-full'];
    expect(full.scaleOf(0)).toBe(EPS);
    expect(full.scaleOf(1)).toBe(Math.fround(1 / 127.5));
    const q = new Int8Array(3);
    // 2.5 -> 2 (ties to even), -127.5 -> -128 (the full range's negative extreme is a tie), 300 -> 127
    full.quantizeBlock(Float32Array.of(2.5, -127.5, 300), 0, 3, 1, q);
    expect(Array.from(q)).toEqual([2, -128, 127]);
    FORMATS['int8-restricted'].quantizeBlock(Float32Array.of(2.5, -127.5, 300), 0, 3, 1, q);
    expect(Array.from(q)).toEqual([2, -127, 127]);
    const out = new Float32Array(2);
    full.dequantizeBlock(Int8Array.of(3, -128), 0, 2, 0.1, out);
    expect(Array.from(out)).toEqual([Math.fround(3 * 0.1), Math.fround(-128 * 0.1)]);
  });
});

describe.each(Object.values(FORMATS).map((f) => [f.id, f] as const))('every row of the format table: %s', (_id, format) => {
  // Runs for each row with no change here: a new format's reference functions are checked on add.
  it('scales are finite and positive; values land in [qmin, qmax]; dequantize is within scale/2 unless clamped', () => {
    const w = weight(4, format.blockSize ?? 32, 11).data;
    const q = new Int8Array(w.length);
    const back = new Float32Array(w.length);
    let absmax = 0;
    for (const v of w) absmax = Math.max(absmax, Math.abs(v));
    const scale = format.scaleOf(absmax);
    expect(scale > 0 && scale < Infinity).toBe(true);
    // The int8 rows guard an all-zero block with EPS; ggml's Q8_0 stores d = 0 for it (and q = 0).
    expect(format.scaleOf(0)).toBe(format.id === 'gguf-q8_0' ? 0 : EPS);
    format.quantizeBlock(w, 0, w.length, scale, q);
    format.dequantizeBlock(q, 0, w.length, scale, back);
    for (let i = 0; i < w.length; i++) {
      expect(q[i] >= format.qmin && q[i] <= format.qmax).toBe(true);
      if (q[i] !== format.qmin && q[i] !== format.qmax) expect(Math.abs(back[i] - w[i])).toBeLessThanOrEqual(scale / 2 + 1e-7);
    }
  });
});

describe('schemes and the block iteration', () => {
  it('one resolved scheme type: a ResolvedScheme (groupSize null, bits 8) resolves to itself', () => {
    for (const s of SCHEMES) {
      const r = resolveScheme(s, 8);
      expect(r.bits).toBe(8);
      expect(resolveScheme(r, 8)).toEqual(r);
    }
    expect(() => resolveScheme({ bits: 4 as 8 }, 8)).toThrow(QuantizationError);
    expect(() => resolveScheme({ granularity: 'group', groupSize: 3 }, 8)).toThrow(/not divisible/);
    expect(resolveScheme({ granularity: 'group', groupSize: 3 }, null).groupSize).toBe(3);
    expect(GRANULARITIES).toEqual(['tensor', 'channel', 'group']);
  });

  it('element i has scale floor(i / blockLength) for every granularity (dequantize follows it)', () => {
    const w = weight(3, 8);
    for (const s of SCHEMES) {
      const q = quantize(w, s);
      const L = blockLength(3, 8, q);
      expect(q.scale.data.length * L).toBe(24);
      expect(q.scale.shape).toEqual(scaleShape(3, 8, q));
      const back = dequantize(q).data;
      for (let i = 0; i < 24; i++) expect(back[i]).toBe(Math.fround(q.values.data[i] * q.scale.data[Math.floor(i / L)]));
    }
  });
});

describe('quantizeWithScales', () => {
  it('with the scales quantize computed, gives exactly quantize()s values, for every scheme', () => {
    const w = weight(5, 8);
    for (const s of SCHEMES) {
      const q = quantize(w, s);
      expect(Array.from(quantizeWithScales(w, q.scale, q).data)).toEqual(Array.from(q.values.data));
    }
  });

  it('takes scales it is given (an importer): 2x the scale halves every value before rounding', () => {
    const w = new Tensor(Float32Array.of(1, -2, 3, 4), [2, 2], 'float32');
    const q = quantizeWithScales(w, new Tensor(Float32Array.of(0.5, 2), [2, 1], 'float32'), resolveScheme({}, 2));
    expect(Array.from(q.data)).toEqual([2, -4, 2, 2]); // 3/2 = 1.5 -> 2 and 4/2 = 2 (ties to even)
  });

  it('rejects a scale of the wrong shape, a non-positive scale and a non-finite weight, naming them', () => {
    const w = weight(2, 4);
    const scheme = resolveScheme({}, 4);
    expect(() => quantizeWithScales(w, new Tensor(new Float32Array(1).fill(1), [1], 'float32'), scheme)).toThrow(ShapeError);
    expect(() => quantizeWithScales(w, new Tensor(Float32Array.of(1, 0), [2, 1], 'float32'), scheme)).toThrow(/scale\[1\] = 0/);
    const bad = new Tensor(Float32Array.of(0, 0, 0, 0, 0, Number.NaN, 0, 0), [2, 4], 'float32');
    expect(() => quantizeWithScales(bad, new Tensor(Float32Array.of(1, 1), [2, 1], 'float32'), scheme)).toThrow(/NaN at index 5 \(\[1, 1\]\)/);
  });
});

describe('the kernel view', () => {
  it('per tensor: the one scale on every row, groupSize = k; per channel groupSize = k; per group g', () => {
    const w = weight(3, 8);
    const t = quantize(w, { granularity: 'tensor' });
    expect(kernelView(t.values, t.scale, t)).toMatchObject({ n: 3, k: 8, groupSize: 8, scales: new Float32Array(3).fill(t.scale.data[0]) });
    const c = quantize(w, { granularity: 'channel' });
    expect(kernelView(c.values, c.scale, c).groupSize).toBe(8);
    const g = quantize(w, { granularity: 'group', groupSize: 4 });
    const view = kernelView(g.values, g.scale, g);
    expect(view.groupSize).toBe(4);
    expect(view.values).toBe(g.values.data); // the int8 values are shared
    expect(view.scales).not.toBe(g.scale.data); // the scales are the view's own
    expect(Array.from(view.scales)).toEqual(Array.from(g.scale.data));
  });
});

describe('checkpoint tensor names', () => {
  it('one place: tensorName and layerOf invert each other, the layer "" is the bare key', () => {
    for (const key of Object.keys(TENSOR_KEYS) as (keyof typeof TENSOR_KEYS)[]) {
      for (const layer of ['', 'fc', 'model.layers.0.mlp.down_proj']) expect(layerOf(tensorName(layer, key), key)).toBe(layer);
    }
    expect(tensorName('fc1', 'weightScale')).toBe('fc1.weight_scale');
    expect(layerOf('fc1.weight_scale', 'weight')).toBeNull();
    expect(layerOf('fc1.xweight', 'weight')).toBeNull();
  });
});

describe('QuantizedLinear.weightScale: one rule for every granularity and backend', () => {
  // The rule: weightScale (= stateDict().weight_scale) is the loaded state; the forward reads the
  // kernel weight made by loadStateDict, so in-place edits of weightScale never change an output,
  // and loadStateDict is how scales change.
  it.each(SCHEMES.map((s) => [`${s.granularity} ${s.range ?? 'full'}`, s] as const))('%s: in-place edits of weightScale are never seen; loadStateDict is', (_label, scheme) => {
    const x = weight(2, 8, 9);
    for (const backend of [null, createJsBackend()]) {
      const layer = QuantizedLinear.fromLinear(new Linear(8, 3, { generator: new Generator(5) }), scheme);
      if (backend !== null) layer.to(backend);
      const before = Array.from(layer.forward(x).data);
      expect(layer.stateDict().weight_scale).toBe(layer.weightScale);
      const original = layer.weightScale.data.slice();
      layer.weightScale.data.fill(1000);
      expect(Array.from(layer.forward(x).data)).toEqual(before);
      layer.weightScale.data.set(original);
      const doubled = new Tensor(original.map((v) => v * 2), layer.weightScale.shape, 'float32');
      layer.loadStateDict({ ...layer.stateDict(), weight_scale: doubled });
      const after = layer.forward(x).data;
      for (let i = 0; i < before.length; i++) expect(Math.abs(after[i] - 2 * before[i] + (layer.bias?.data[i % 3] ?? 0))).toBeLessThan(1e-4);
      backend?.dispose();
    }
  });
});
