import { describe, expect, it } from 'vitest';
import { Tensor, computeScale, dequantize, quantize, type Granularity, type QuantRange } from '../../src/index.js';
import { expectBitExact } from '../helpers/compare.js';
import { fixture } from './fixtures.js';

interface QuantResult {
  granularity: Granularity;
  groupSize?: number;
  range: QuantRange;
  scale: number[];
  q: number[];
  dequantized: number[];
}
interface QuantFixture {
  weights: Record<
    string,
    {
      shape: [number, number];
      weight: number[];
      results: QuantResult[];
      observer_per_channel_scale: number[];
      observer_per_tensor_scale: number[];
    }
  >;
}

const { weights } = fixture<QuantFixture>('quant.json');

describe('int8 quantization is bit-exact with PyTorch', () => {
  for (const [name, w] of Object.entries(weights)) {
    const weight = new Tensor(new Float32Array(w.weight), w.shape);
    const [rows, cols] = w.shape;

    for (const r of w.results) {
      const scheme = r.granularity === 'group' ? { granularity: r.granularity, groupSize: r.groupSize, range: r.range } : { granularity: r.granularity, range: r.range };
      const label = `${name} ${r.granularity}${r.groupSize ? ` g=${r.groupSize}` : ''} ${r.range}`;

      it(`${label}: scales equal torch's absmax / divisor with the eps guard`, () => {
        const s = computeScale(weight, scheme);
        const expectedShape = r.granularity === 'tensor' ? [1] : r.granularity === 'channel' ? [rows, 1] : [rows, cols / r.groupSize!];
        expect(s.shape).toEqual(expectedShape);
        expectBitExact(`${label} scale`, s.data, r.scale);
      });

      it(`${label}: values equal torch.quantize_per_${r.granularity === 'tensor' ? 'tensor' : 'channel'}(...).int_repr()`, () => {
        const q = quantize(weight, scheme);
        expect(q.values.shape).toEqual([rows, cols]);
        expectBitExact(`${label} q`, q.values.data, r.q);
        expectBitExact(`${label} dequantize`, dequantize(q).data, r.dequantized);
      });
    }

    it(`${name}: torch.ao PerChannelMinMaxObserver(per_channel_symmetric, qint8) gives the 'full' per-channel scales`, () => {
      expectBitExact('observer per-channel', computeScale(weight, { granularity: 'channel', range: 'full' }).data, w.observer_per_channel_scale);
      expectBitExact('observer per-tensor', computeScale(weight, { granularity: 'tensor', range: 'full' }).data, w.observer_per_tensor_scale);
    });
  }
});
