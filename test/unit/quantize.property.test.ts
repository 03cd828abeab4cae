import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RANGES } from '../../src/advanced.js';
import { Tensor, computeScale, dequantize, quantize, type QuantScheme } from '../../src/index.js';

/**
 * Properties of symmetric int8 quantization over random shapes and float32 values, including
 * subnormals, ±0 and magnitudes up to float32's maximum. Bounded to run in a few seconds.
 */
const RUNS = { numRuns: 400, interruptAfterTimeLimit: 5_000 };

/**
 * Round to nearest puts w within scale/2 of q·scale. Float32 adds three roundings on top: the
 * reciprocal fround(1/scale) and the product w·(1/scale) (relative 2^-24 each, on |w/scale| <= 128,
 * so up to 2^-16 of a scale), and fround(q·scale) (half an ulp of the result). The bound is
 * scale·(1/2 + 2^-15) + ulp(w).
 */
function bound(scale: number, w: number): number {
  const ulp = Math.max(Math.abs(w) * 2 ** -23, 2 ** -149);
  return scale * (0.5 + 2 ** -15) + ulp;
}

const special = fc.constantFrom(0, -0, 2 ** -149, -(2 ** -149), 1.1754942106924411e-38, 3.4028234663852886e38, -3.4028234663852886e38, 1, -1, 0.5);
const value = fc.oneof(
  { arbitrary: fc.float({ noNaN: true, noDefaultInfinity: true }), weight: 3 },
  { arbitrary: fc.float({ noNaN: true, noDefaultInfinity: true, min: -1, max: 1 }), weight: 3 },
  { arbitrary: special, weight: 1 },
);

/** A weight of random shape with a scheme that fits it (group sizes divide in_features). */
const caseArb = fc
  .record({
    out: fc.integer({ min: 1, max: 6 }),
    groups: fc.integer({ min: 1, max: 4 }),
    groupSize: fc.integer({ min: 1, max: 8 }),
    granularity: fc.constantFrom('tensor', 'channel', 'group'),
    range: fc.constantFrom('full', 'restricted'),
  })
  .chain((c) => {
    const inF = c.groups * c.groupSize;
    return fc.array(value, { minLength: c.out * inF, maxLength: c.out * inF }).map((vals) => {
      const scheme: QuantScheme = c.granularity === 'group'
        ? { granularity: 'group', groupSize: c.groupSize, range: c.range as 'full' }
        : { granularity: c.granularity as 'tensor', range: c.range as 'full' };
      return { w: new Tensor(Float32Array.from(vals), [c.out, inF], 'float32'), scheme, out: c.out, inF };
    });
  });

describe('quantize properties', () => {
  it('scale shape, q in range, sign kept, within scale/2 unless clamped, scale = computeScale', () => {
    fc.assert(
      fc.property(caseArb, ({ w, scheme, out, inF }) => {
        const q = quantize(w, scheme);
        const expectedShape = scheme.granularity === 'tensor' ? [1] : scheme.granularity === 'channel' ? [out, 1] : [out, inF / (scheme.groupSize as number)];
        expect(q.scale.shape).toEqual(expectedShape);
        expect([...q.scale.data]).toEqual([...computeScale(w, scheme).data]);
        const { qmin, qmax } = RANGES[q.range];
        const back = dequantize(q).data;
        const block = scheme.granularity === 'tensor' ? out * inF : scheme.granularity === 'channel' ? inF : (scheme.groupSize as number);
        for (let i = 0; i < w.data.length; i++) {
          const v = q.values.data[i];
          const s = q.scale.data[Math.floor(i / block)];
          const x = w.data[i];
          if (!(v >= qmin && v <= qmax)) throw new Error(`index ${i}: q = ${v} outside [${qmin}, ${qmax}]`);
          if (!(s > 0 && s < Infinity)) throw new Error(`index ${i}: scale ${s} is not finite and positive`);
          if (v !== 0 && Math.sign(v) !== Math.sign(x)) throw new Error(`index ${i}: q = ${v} has not the sign of w = ${x}`);
          const err = Math.abs(x - back[i]);
          const clamped = v === qmin || v === qmax;
          if (clamped) {
            // Clamped: w lies at or beyond the last level, on the same side.
            if (!(Math.abs(x) >= Math.abs(v) * s - bound(s, x))) throw new Error(`index ${i}: clamped q = ${v} but |w| = ${Math.abs(x)} < |q|·scale = ${Math.abs(v) * s}`);
          } else if (!(err <= bound(s, x))) {
            throw new Error(`index ${i}: w = ${x}, dequantized ${back[i]}, error ${err} > limit ${bound(s, x)} (scale ${s})`);
          }
        }
      }),
      RUNS,
    );
  });
});
