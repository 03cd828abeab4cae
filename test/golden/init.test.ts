import { describe, expect, it } from 'vitest';
import { Linear, manualSeed } from '../../src/index.js';
import { expectBitExact } from '../helpers/compare.js';
import { fixture } from './fixtures.js';

interface InitFixture {
  cases: {
    seed: string;
    layers: { in: number; out: number; bias: boolean; weight: number[]; bias_values: number[] | null; repr: string }[];
  }[];
}

const { cases } = fixture<InitFixture>('init.json');

describe('nn.Linear init is bit-exact with torch.manual_seed(s); nn.Linear(...)', () => {
  it('matches the DESIGN check value', () => {
    manualSeed(42);
    expectBitExact('weight[0, :4]', new Linear(5, 3).weight.data.slice(0, 4), [0.34191203, 0.37119082, -0.10476983, 0.41081545].map(Math.fround));
  });

  for (const c of cases) {
    const label = c.layers.map((l) => `Linear(${l.in}, ${l.out}, bias=${l.bias})`).join(' then ');
    it(`seed ${c.seed}: ${label}`, () => {
      manualSeed(BigInt(c.seed));
      for (const [i, l] of c.layers.entries()) {
        const lin = new Linear(l.in, l.out, { bias: l.bias });
        expect(lin.weight.shape).toEqual([l.out, l.in]);
        expectBitExact(`layer ${i} weight`, lin.weight.data, l.weight);
        if (l.bias_values === null) expect(lin.bias).toBeNull();
        else expectBitExact(`layer ${i} bias`, lin.bias!.data, l.bias_values);
        expect(String(lin)).toBe(l.repr);
      }
    });
  }
});
