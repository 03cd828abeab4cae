import { describe, expect, it } from 'vitest';
import {
  Embedding,
  FormatError,
  GELU,
  LayerNorm,
  Linear,
  Module,
  ModuleDict,
  ModuleList,
  ReLU,
  RMSNorm,
  Sequential,
  ShapeError,
  SiLU,
  Tensor,
  manualSeed,
} from '../../src/index.js';
import { fixture } from './fixtures.js';

// Fixtures: test/golden/make_modules.py (PyTorch 1.13; RMSNorm as Llama computes it, printed as PyTorch 2.4).
interface Case {
  drop: string[];
  add: [string, number[]][];
  reshape: [string, number[]][];
  strict: string | null;
  nonstrict: { missing: string[]; unexpected: string[] } | string;
}
interface Tree {
  repr: string;
  keys: [string, number[]][];
  modules: string[];
  cases: Case[];
}
interface Numerics {
  x: number[];
  xShape: number[];
  xs: number[];
  layerNorm: { weight: number[]; bias: number[]; y: number[] };
  rmsNorm: { weight: number[]; y: number[]; yNoEps: number[] };
  gelu: number[];
  geluTanh: number[];
  silu: number[];
  relu: number[];
  embedding: { weight: number[]; ids: number[]; idsShape: number[]; y: number[] };
  embeddingInit: Record<string, number[]>;
}
const golden = fixture<{ trees: Record<string, Tree>; numerics: Numerics }>('modules.json');

class MLP extends Module {
  fc1 = new Linear(64, 128);
  act = new ReLU();
  fc2 = new Linear(128, 10);
}
class Block extends Module {
  norm = new LayerNorm(8);
  attn = new Linear(8, 8, { bias: false });
  mlp = new Sequential(new Linear(8, 16), new GELU({ approximate: 'tanh' }), new Linear(16, 8));
}
class Net extends Module {
  embed = new Embedding(16, 8);
  blocks = new ModuleList([new Block(), new Block()]);
  norm = new RMSNorm(8, { eps: 1e-5 });
  head = new Linear(8, 16, { bias: false });
}
class Heads extends Module {
  trunk = new Linear(4, 4);
  heads = new ModuleDict({ cls: new Linear(4, 3), box: new Linear(4, 4, { bias: false }) });
  act = new SiLU();
}
class Misc extends Module {
  emb = new Embedding(10, 3, { paddingIdx: 0 });
  ln = new LayerNorm(5, { eps: 1e-6, elementwiseAffine: false });
  rms = new RMSNorm(5);
  gelu = new GELU();
  seq = new Sequential();
}

const TREES: Record<string, () => Module> = {
  sequential: () => new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 2, { bias: false })),
  mlp: () => new MLP(),
  nested: () => new Net(),
  dict: () => new Heads(),
  misc: () => new Misc(),
};

/** The case's state dict, made with the same operations in the same order as make_modules.py's load_case. */
function caseState(make: () => Module, c: Case): Record<string, Tensor> {
  const sd: Record<string, Tensor> = { ...make().stateDict() };
  for (const k of c.drop) delete sd[k];
  for (const [k, shape] of c.reshape) sd[k] = Tensor.zeros(shape);
  for (const [k, shape] of c.add) sd[k] = Tensor.zeros(shape);
  return sd;
}

describe('module trees match PyTorch 1.13 (print, state_dict, load_state_dict)', () => {
  for (const [name, make] of Object.entries(TREES)) {
    const want = golden.trees[name];
    it(`${name}: print(model), state_dict keys/shapes/order, named_modules`, () => {
      const model = make();
      expect(String(model)).toBe(want.repr);
      expect(Object.entries(model.stateDict()).map(([k, t]) => [k, t.shape])).toEqual(want.keys);
      expect(model.namedModules().map(([n]) => n)).toEqual(want.modules);
    });
    it(`${name}: load_state_dict messages and results, strict and not`, () => {
      for (const c of want.cases) {
        const sd = caseState(make, c);
        const strict = make();
        if (c.strict === null) expect(strict.loadStateDict(sd)).toEqual({ missingKeys: [], unexpectedKeys: [] });
        else expect(() => strict.loadStateDict(sd)).toThrowError(c.strict);
        const loose = make();
        if (typeof c.nonstrict === 'string') {
          expect(() => loose.loadStateDict(sd, { strict: false })).toThrowError(c.nonstrict);
        } else {
          expect(loose.loadStateDict(sd, { strict: false })).toEqual({ missingKeys: c.nonstrict.missing, unexpectedKeys: c.nonstrict.unexpected });
        }
      }
    });
  }

  it('a refused state dict changes nothing; size mismatch alone is a ShapeError, key errors a FormatError', () => {
    const a = new MLP();
    const before = Array.from(a.fc1.weight.data);
    const sd = { ...new MLP().stateDict(), 'fc2.bias': Tensor.zeros([3]) };
    expect(() => a.loadStateDict(sd)).toThrowError(ShapeError);
    expect(Array.from(a.fc1.weight.data)).toEqual(before);
    expect(() => a.loadStateDict({})).toThrowError(FormatError);
  });
});

/**
 * Tolerances (float32 results of float64 math vs PyTorch's float32 math):
 * - NORM_TOL 2e-6 relative to max(1, |y|): PyTorch accumulates the mean and variance in float32.
 * - ACT_TOL 4 ulp of the value (relative 5e-7): libm tanh/exp in float32 vs float64.
 * - GELU_TAIL 1e-7·|x| absolute for both GELUs: PyTorch adds 1 to a float32 erf (or tanh), whose ulp near -1 is
 *   6e-8, so its left tail is quantized (and 0 below x = -5.5); ours is computed in float64.
 * - INIT_TOL 1e-6 absolute: ATen's Box-Muller in float32 (float log, cos, sin of libm) vs correctly rounded ones.
 */
const NORM_TOL = 2e-6;
const ACT_TOL = 5e-7;
const GELU_TAIL = 1e-7;
const INIT_TOL = 1e-6;

function expectClose(what: string, got: ArrayLike<number>, want: readonly number[], rel: number, abs = 0): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    if (!(err <= rel * Math.max(1, Math.abs(want[i])) + abs)) {
      throw new Error(`${what}[${i}]: got ${got[i]}, PyTorch ${want[i]}, |diff| ${err} over the limit ${rel} (relative)`);
    }
  }
}

function expectRelative(what: string, got: ArrayLike<number>, want: readonly number[], rel: number, perX = 0): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    if (!(err <= rel * Math.abs(want[i]) + perX * Math.abs(golden.numerics.xs[i]))) {
      throw new Error(`${what}[${i}] (x = ${golden.numerics.xs[i]}): got ${got[i]}, PyTorch ${want[i]}, |diff| ${err} over ${rel} relative`);
    }
  }
}

describe('layer numerics match PyTorch 1.13', () => {
  const n = golden.numerics;
  const x = new Tensor(new Float32Array(n.x), n.xShape);
  const xs = new Tensor(new Float32Array(n.xs), [n.xs.length]);

  it('LayerNorm and RMSNorm (with and without eps) within NORM_TOL', () => {
    const ln = new LayerNorm(16, { eps: 1e-5 });
    ln.loadStateDict({ weight: new Tensor(new Float32Array(n.layerNorm.weight), [16]), bias: new Tensor(new Float32Array(n.layerNorm.bias), [16]) });
    expectClose('LayerNorm', ln.forward(x).data, n.layerNorm.y, NORM_TOL);
    const rms = new RMSNorm(16, { eps: 1e-6 });
    rms.loadStateDict({ weight: new Tensor(new Float32Array(n.rmsNorm.weight), [16]) });
    expectClose('RMSNorm', rms.forward(x).data, n.rmsNorm.y, NORM_TOL);
    expectClose('RMSNorm eps=None', new RMSNorm(16).forward(x).data, n.rmsNorm.yNoEps, NORM_TOL);
    expect(ln.forward(x).shape).toEqual(n.xShape);
  });

  it('GELU (none, tanh), SiLU, ReLU within ACT_TOL relative, tails included', () => {
    expectRelative('GELU', new GELU().forward(xs).data, n.gelu, ACT_TOL, GELU_TAIL);
    expectRelative('GELU tanh', new GELU({ approximate: 'tanh' }).forward(xs).data, n.geluTanh, ACT_TOL, GELU_TAIL);
    expectRelative('SiLU', new SiLU().forward(xs).data, n.silu, ACT_TOL);
    expect(Array.from(new ReLU().forward(xs).data)).toEqual(n.relu);
  });

  it('Embedding lookup is exact; its N(0, 1) init follows PyTorch within INIT_TOL (16 or more elements)', () => {
    const emb = new Embedding(11, 4, { init: false });
    emb.loadStateDict({ weight: new Tensor(new Float32Array(n.embedding.weight), [11, 4]) });
    const y = emb.forward(new Tensor(new Int32Array(n.embedding.ids), n.embedding.idsShape, 'int32'));
    expect(y.shape).toEqual([...n.embedding.idsShape, 4]);
    expect(Array.from(y.data)).toEqual(n.embedding.y);
    for (const [key, want] of Object.entries(n.embeddingInit)) {
      const [rows, dim] = key.split('x').map(Number);
      manualSeed(0);
      expectClose(`Embedding(${key}) init`, new Embedding(rows, dim).weight.data, want, 0, INIT_TOL);
    }
  });
});
