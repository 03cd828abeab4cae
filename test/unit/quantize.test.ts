import { describe, expect, it } from 'vitest';
import { EPS, roundHalfEven } from '../../src/advanced.js';
import {
  Generator,
  Linear,
  QuantizationError,
  ShapeError,
  Tensor,
  computeScale,
  dequantize,
  maxAbsError,
  meanAbsError,
  quantize,
  sqnr,
} from '../../src/index.js';

const w2x4 = (values: number[]) => new Tensor(new Float32Array(values), [2, 4]);

describe('roundHalfEven', () => {
  it('rounds ties to even and everything else to nearest', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, -127.5, 127.5, 2.4999, -2.5001].map(roundHalfEven)).toEqual([
      0, 2, 2, -0, -2, -2, -128, 128, 2, -3,
    ]);
  });

  it('is C nearbyint on the whole double range: signed zeros, ties near 2^51 and 2^52, huge values, NaN', () => {
    const cases: [number, number][] = [
      [-0, -0], [-0.4, -0], [0.4, 0], [0.5, 0], [-0.5, -0], [0.49999999999999994, 0],
      [2 ** 51 - 0.5, 2 ** 51], [2 ** 51 - 1.5, 2 ** 51 - 2], [2 ** 51 + 0.5, 2 ** 51], [2 ** 51 + 1.5, 2 ** 51 + 2],
      [-(2 ** 51 + 0.5), -(2 ** 51)], [2 ** 52 - 0.5, 2 ** 52], [2 ** 52 + 1, 2 ** 52 + 1], [1e300, 1e300],
      [Infinity, Infinity], [-Infinity, -Infinity],
    ];
    for (const [x, want] of cases) expect(Object.is(roundHalfEven(x), want), `roundHalfEven(${x}) = ${roundHalfEven(x)}, want ${want}`).toBe(true);
    expect(roundHalfEven(Number.NaN)).toBeNaN();
  });

  it('agrees with a plain floor-based nearbyint on random values around every scale', () => {
    const gen = new Generator(5);
    const nearbyint = (x: number) => {
      const f = Math.floor(x);
      const d = x - f; // exact for these magnitudes
      return d < 0.5 ? f : d > 0.5 ? f + 1 : f % 2 === 0 ? f : f + 1;
    };
    for (let i = 0; i < 20000; i++) {
      const magnitude = 2 ** ((gen.nextUint32() % 60) - 5);
      const u = gen.nextUint32() / 2 ** 32 - 0.5;
      const x = i % 3 === 0 ? Math.round(u * 2 * magnitude) + 0.5 : u * magnitude; // ties a third of the time
      const want = nearbyint(x);
      if (roundHalfEven(x) !== want) throw new Error(`roundHalfEven(${x}) = ${roundHalfEven(x)}, want ${want}`);
    }
  });
});

describe('quantize', () => {
  const fc = new Linear(512, 1024, { generator: new Generator(0) });

  it('answers the question: a (1024, 512) weight has per-channel scale shape (1024, 1)', () => {
    expect(computeScale(fc.weight, { granularity: 'channel' }).shape).toEqual([1024, 1]);
    expect(quantize(fc.weight).scale.shape).toEqual([1024, 1]); // channel is the default
    expect(quantize(fc.weight, { granularity: 'tensor' }).scale.shape).toEqual([1]);
    expect(quantize(fc.weight, { granularity: 'group', groupSize: 128 }).scale.shape).toEqual([1024, 4]);
  });

  it('keeps every dequantized value within scale / 2 of the weight (the clamped +127.5 extreme is exactly that)', () => {
    for (const range of ['full', 'restricted'] as const) {
      const q = quantize(fc.weight, { range });
      const d = dequantize(q);
      for (let i = 0; i < d.size; i += 97) {
        const s = q.scale.data[Math.floor(i / 512)];
        // half a step, plus the float32 rounding of q * scale
        expect(Math.abs(d.data[i] - fc.weight.data[i])).toBeLessThanOrEqual(s / 2 + Math.abs(d.data[i]) * 2 ** -23);
      }
      const lo = range === 'full' ? -128 : -127;
      expect(q.values.data.reduce((a, b) => Math.min(a, b), 0)).toBeGreaterThanOrEqual(lo);
    }
  });

  it('gives an all-zero block the scale EPS and q = 0, never NaN', () => {
    const q = quantize(w2x4([0, 0, 0, 0, 1, -1, 0.5, 0]), { granularity: 'channel' });
    expect(q.scale.data[0]).toBe(Math.fround(EPS));
    expect(Array.from(q.values.data.slice(0, 4))).toEqual([0, 0, 0, 0]);
    expect(Array.from(dequantize(q).data).some(Number.isNaN)).toBe(false);
  });

  it('full range maps the negative extreme to -128, restricted to -127', () => {
    // absmax 127.5: scale exactly 1 with 'full', so -127.5 is an exact tie that rounds to even -128
    expect(quantize(w2x4([-127.5, 1, 0, 0, 1, 1, 1, 1]), { range: 'full' }).values.data[0]).toBe(-128);
    expect(quantize(w2x4([-127.5, 1, 0, 0, 1, 1, 1, 1]), { range: 'restricted' }).values.data[0]).toBe(-127);
  });

  it('reports the resolved scheme', () => {
    const q = quantize(fc.weight, { granularity: 'group', groupSize: 64, range: 'restricted' });
    expect([q.granularity, q.groupSize, q.range]).toEqual(['group', 64, 'restricted']);
    expect(quantize(fc.weight).groupSize).toBeNull();
  });

  it('restricted-range SQNR of Kaiming weights: per channel above 45 dB, per group higher, per tensor not higher', () => {
    // (with range 'full' each block's positive extreme, +127.5, is clamped to 127: small groups pay for that)
    const range = 'restricted';
    const ch = sqnr(fc.weight, dequantize(quantize(fc.weight, { range })));
    const gr = sqnr(fc.weight, dequantize(quantize(fc.weight, { granularity: 'group', groupSize: 32, range })));
    const te = sqnr(fc.weight, dequantize(quantize(fc.weight, { granularity: 'tensor', range })));
    expect(ch).toBeGreaterThan(45);
    expect(gr).toBeGreaterThan(ch);
    expect(te).toBeLessThanOrEqual(ch);
  });
});

describe('quantize errors', () => {
  it.each([
    [NaN, 5, '[1, 1]'],
    [Infinity, 2, '[0, 2]'],
    [-Infinity, 7, '[1, 3]'],
  ])('non-finite weight %s is a QuantizationError naming index %i', (bad, index, rc) => {
    const data = [1, 2, 3, 4, 5, 6, 7, 8];
    data[index] = bad;
    const w = w2x4(data);
    for (const call of [() => quantize(w), () => computeScale(w)]) {
      expect(call).toThrowError(QuantizationError);
      expect(call).toThrowError(new RegExp(`index ${index} \\(\\${rc.slice(0, -1)}\\]\\)`));
    }
  });

  it('in_features not divisible by groupSize says so', () => {
    expect(() => quantize(w2x4(new Array(8).fill(1)), { granularity: 'group', groupSize: 3 })).toThrowError(
      /in_features 4 is not divisible by groupSize 3/,
    );
  });

  it.each([0, -4, 2.5, NaN])('groupSize %s is rejected', (g) => {
    expect(() => quantize(w2x4(new Array(8).fill(1)), { granularity: 'group', groupSize: g })).toThrowError(
      /groupSize must be a positive integer/,
    );
  });

  it('group without groupSize, groupSize without group, unknown granularity and range are rejected', () => {
    const w = w2x4(new Array(8).fill(1));
    expect(() => quantize(w, { granularity: 'group' })).toThrowError(/needs a groupSize/);
    expect(() => quantize(w, { granularity: 'channel', groupSize: 2 })).toThrowError(/applies only to granularity 'group'/);
    expect(() => quantize(w, { granularity: 'row' as never })).toThrowError(QuantizationError);
    expect(() => quantize(w, { range: 'wide' as never })).toThrowError(QuantizationError);
  });

  it('needs a 2-D float32 weight', () => {
    expect(() => quantize(new Tensor(new Float32Array(4), [4]))).toThrowError(ShapeError);
    expect(() => quantize(new Tensor(new Int8Array(4), [2, 2]))).toThrowError(/2-D float32 weight/);
    expect(() => quantize(new Tensor(new Float32Array(0), [3, 0]))).toThrowError(/in_features must be at least 1/);
  });

  it('dequantize rejects a scale whose shape does not fit the granularity', () => {
    const q = quantize(w2x4([1, 2, 3, 4, 5, 6, 7, 8]));
    expect(() => dequantize({ ...q, scale: new Tensor(new Float32Array(1), [1]) })).toThrowError(/needs \(2, 1\)/);
  });
});

describe('metrics', () => {
  const a = new Tensor(new Float32Array([1, 2, 3, 4]), [4]);
  const b = new Tensor(new Float32Array([1, 2, 3, 5]), [4]);
  it('sqnr is 10·log10(Σa² / Σ(a-b)²) and Infinity for equal tensors', () => {
    expect(sqnr(a, b)).toBeCloseTo(10 * Math.log10(30), 12);
    expect(sqnr(a, a)).toBe(Infinity);
  });
  it('max and mean absolute error', () => {
    expect(maxAbsError(a, b)).toBe(1);
    expect(meanAbsError(a, b)).toBe(0.25);
    expect(maxAbsError(a, new Tensor(new Float32Array([1, NaN, 3, 4]), [4]))).toBeNaN();
  });
  it('reject tensors of different shapes or int8 tensors', () => {
    expect(() => sqnr(a, a.reshape([2, 2]))).toThrowError(ShapeError);
    expect(() => sqnr(a, new Tensor(new Int8Array(4), [4]))).toThrowError(/dequantize int8 values first/);
  });
});
