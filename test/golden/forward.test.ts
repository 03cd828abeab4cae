import { describe, it } from 'vitest';
import { Linear, QuantizedLinear, Tensor, type Granularity, type QuantRange } from '../../src/index.js';
import { expectWithin, float32DotBound } from '../helpers/compare.js';
import { fixture } from './fixtures.js';

interface ForwardFixture {
  in: number;
  out: number;
  weight: number[];
  bias: number[];
  x2: number[];
  x2_shape: number[];
  x3: number[];
  x3_shape: number[];
  float_y2: number[];
  float_y3: number[];
  cases: { granularity: Granularity; groupSize: number | null; range: QuantRange; y2: number[]; y3: number[] }[];
}

const f = fixture<ForwardFixture>('forward.json');

function loadLinear(): Linear {
  const lin = new Linear(f.in, f.out);
  lin.loadStateDict({ weight: new Tensor(new Float32Array(f.weight), [f.out, f.in]), bias: new Tensor(new Float32Array(f.bias), [f.out]) });
  return lin;
}

/**
 * FORWARD tolerance: PyTorch sums the K products in float32 in an order we do not know, we sum in
 * double; both are within float32DotBound(K, Σ|x·w| + |b|) of the exact result, so their difference
 * is within twice that. `absW` is the weight the layer really multiplies by (dequantized for int8).
 */
function tolerance(x: Float32Array, absW: (o: number, k: number) => number, rowsOut: number) {
  return (i: number) => {
    const r = Math.floor(i / rowsOut);
    const o = i % rowsOut;
    let s = Math.abs(f.bias[o]);
    for (let k = 0; k < f.in; k++) s += Math.abs(x[r * f.in + k] * absW(o, k));
    return 2 * float32DotBound(f.in, s);
  };
}

describe('forward agrees with F.linear within the float32 summation bound', () => {
  const lin = loadLinear();
  const inputs = [
    ['(5, in)', new Tensor(new Float32Array(f.x2), f.x2_shape)],
    ['(2, 3, in)', new Tensor(new Float32Array(f.x3), f.x3_shape)],
  ] as const;

  it('float Linear.forward vs nn.Linear', () => {
    for (const [label, x] of inputs) {
      const y = lin.forward(x);
      const expected = label === '(5, in)' ? f.float_y2 : f.float_y3;
      expectWithin(`float ${label}`, y.data, expected, tolerance(x.data as Float32Array, (o, k) => Math.abs(f.weight[o * f.in + k]), f.out));
    }
  });

  for (const c of f.cases) {
    const scheme = c.granularity === 'group' ? { granularity: c.granularity, groupSize: c.groupSize!, range: c.range } : { granularity: c.granularity, range: c.range };
    it(`QuantizedLinear ${c.granularity}${c.groupSize ? ` g=${c.groupSize}` : ''} ${c.range} vs F.linear(x, dequantized weight, bias)`, () => {
      const q = QuantizedLinear.fromLinear(lin, scheme);
      const spr = q.weightScale.size / f.out; // scales per row (1 for tensor: broadcast below)
      const absW = (o: number, k: number) =>
        Math.abs(q.weight.data[o * f.in + k] * (q.granularity === 'tensor' ? q.weightScale.data[0] : q.weightScale.data[o * spr + Math.floor(k / (f.in / spr))]));
      for (const [label, x] of inputs) {
        const y = q.forward(x);
        const expected = label === '(5, in)' ? c.y2 : c.y3;
        expectWithin(`${c.granularity} ${label}`, y.data, expected, tolerance(x.data as Float32Array, absW, f.out));
      }
    });
  }
});
