import { describe, expect, it } from 'vitest';
import { Generator, Int8LinearError, Linear, Tensor, manualSeed, uniform_ } from '../../src/index.js';

describe('Generator', () => {
  it('produces the MT19937 reference outputs (init_genrand(5489))', () => {
    // First outputs of the reference mt19937ar.c seeded with 5489 (std::mt19937's default seed).
    const g = new Generator(5489);
    expect([g.nextUint32(), g.nextUint32(), g.nextUint32()]).toEqual([3499211612, 581869302, 3890346734]);
  });

  it('an explicit generator is an independent stream, equal to the default one seeded alike', () => {
    manualSeed(3);
    const a = new Linear(10, 4);
    manualSeed(99);
    const b = new Linear(10, 4, { generator: new Generator(3) });
    expect(Array.from(b.weight.data)).toEqual(Array.from(a.weight.data));
    // the default stream did not move because of the explicit generator
    const c = new Linear(10, 4);
    manualSeed(99);
    expect(Array.from(new Linear(10, 4).weight.data)).toEqual(Array.from(c.weight.data));
  });

  it('resetParameters draws again from the stream', () => {
    const g = new Generator(5);
    const l = new Linear(4, 2, { generator: g });
    const first = Array.from(l.weight.data);
    l.resetParameters(new Generator(5));
    expect(Array.from(l.weight.data)).toEqual(first);
    l.resetParameters(g);
    expect(Array.from(l.weight.data)).not.toEqual(first);
  });

  it('uniform_ stays within [from, to)', () => {
    const t = uniform_(Tensor.zeros([1000]), -0.25, 0.5, new Generator(1));
    for (const v of t.data) expect(v >= -0.25 && v < 0.5).toBe(true);
  });

  it('rejects seeds that are not integers or out of range', () => {
    expect(() => manualSeed(1.5)).toThrowError(Int8LinearError);
    expect(() => manualSeed(2n ** 64n)).toThrowError(/outside/);
    expect(new Generator(2n ** 64n - 1n).initialSeed()).toBe(2n ** 64n - 1n);
  });
});
