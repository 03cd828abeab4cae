import { describe, expect, it } from 'vitest';
import {
  FormatError,
  Linear,
  Module,
  ModuleDict,
  ModuleList,
  QuantizationError,
  QuantizedLinear,
  ReLU,
  Sequential,
  Tensor,
  createJsBackend,
  defaultGenerator,
  loadCheckpoint,
  manualSeed,
  quantize_,
  saveCompressedTensors,
  writeSafetensors,
  readSafetensors,
} from '../../src/index.js';

class MLP extends Module {
  fc1: Linear | QuantizedLinear = new Linear(16, 32);
  act = new ReLU();
  fc2: Linear | QuantizedLinear = new Linear(32, 8);
  forward(x: Tensor): Tensor<'float32'> {
    return this.fc2.forward(this.act.forward(this.fc1.forward(x)));
  }
}

class Model extends Module {
  body = new Sequential(new Linear(16, 16), new ReLU());
  mlp = new MLP();
  heads = new ModuleDict([['10', new Linear(8, 4)], ['2', new Linear(8, 2, { bias: false })]]);
}

const x = new Tensor(Float32Array.from({ length: 3 * 16 }, (_, i) => Math.sin(i)), [3, 16]);

describe('Module tree', () => {
  it('children are own module properties in assignment order; containers keep insertion order', () => {
    const m = new Model();
    expect(m.namedChildren().map(([n]) => n)).toEqual(['body', 'mlp', 'heads']);
    expect(m.heads.keys()).toEqual(['10', '2']);
    expect(m.namedModules().map(([n]) => n)).toEqual(['', 'body', 'body.0', 'body.1', 'mlp', 'mlp.fc1', 'mlp.act', 'mlp.fc2', 'heads', 'heads.10', 'heads.2']);
    expect(m.getSubmodule('mlp.fc2')).toBe(m.mlp.fc2);
    expect(() => m.getSubmodule('mlp.fc3')).toThrowError(/MLP 'mlp' has no child 'fc3'/);
  });

  it('an array of modules is a FormatError naming ModuleList; a plain object of them names ModuleDict', () => {
    class Bad extends Module {
      layers = [new Linear(2, 2)];
    }
    expect(() => new Bad().stateDict()).toThrowError(FormatError);
    expect(() => new Bad().stateDict()).toThrowError(/Bad\.layers holds modules in an array.*use ModuleList/);
    class Bad2 extends Module {
      heads = { a: new Linear(2, 2) };
    }
    expect(() => String(new Bad2())).toThrowError(/use ModuleDict/);
  });

  it('a cycle is refused; a shared module is listed once by namedModules and under both names by stateDict', () => {
    const list = new ModuleList<Module>([new Linear(2, 2)]);
    list.append(list);
    expect(() => list.stateDict()).toThrowError(/'1' \(ModuleList\) is one of its own ancestors/);
    const shared = new Linear(2, 2);
    const seq = new Sequential(shared, shared);
    expect(seq.namedModules().map(([n]) => n)).toEqual(['', '0']);
    expect(Object.keys(seq.stateDict())).toEqual(['0.weight', '0.bias', '1.weight', '1.bias']);
    expect(seq.namedParameters().map(([n]) => n)).toEqual(['0.weight', '0.bias']);
  });

  it('apply visits children first, then the module, as PyTorch; containers index and iterate', () => {
    const seen: string[] = [];
    new MLP().apply((m) => seen.push(m.constructor.name));
    expect(seen).toEqual(['Linear', 'ReLU', 'Linear', 'MLP']);
    const seq = new Sequential(new Linear(16, 4), new ReLU());
    expect(seq.get(-1)).toBeInstanceOf(ReLU);
    expect([...seq].length).toBe(2);
    expect(() => seq.get(2)).toThrowError(/index 2 is out of range for 2/);
    expect(seq.forward<Tensor>(x).shape).toEqual([3, 4]);
  });

  it('loadStateDict converts float16 / float64 tensors into float32 parameters, as copy_ does', () => {
    const a = new MLP();
    const sd: Record<string, Tensor> = {};
    for (const [k, t] of Object.entries(a.stateDict())) sd[k] = k.endsWith('bias') ? new Tensor(Float64Array.from(t.data as Float32Array), t.shape, 'float64') : t.toHalf('float16');
    const b = new MLP();
    b.loadStateDict(sd);
    expect(Array.from(b.fc1.bias!.data)).toEqual(Array.from(a.fc1.bias!.data));
  });
});

describe('Linear init: false (skip_init)', () => {
  it('gives zeros and draws no random number', () => {
    manualSeed(7);
    const before = defaultGenerator().nextUint32();
    manualSeed(7);
    const fc = new Linear(64, 32, { init: false });
    expect(fc.weight.data.every((v) => v === 0) && fc.bias!.data.every((v) => v === 0)).toBe(true);
    expect(defaultGenerator().nextUint32()).toBe(before);
  });
});

describe('quantize_', () => {
  it('replaces every Linear by default, in place, keeping names and order, and returns the model', () => {
    manualSeed(0);
    const m = new MLP();
    const y = m.forward(x);
    const ref = QuantizedLinear.fromLinear(m.fc1 as Linear);
    expect(quantize_(m)).toBe(m);
    expect(m.fc1).toBeInstanceOf(QuantizedLinear);
    expect(m.namedChildren().map(([n]) => n)).toEqual(['fc1', 'act', 'fc2']);
    expect(Object.keys(m.stateDict())).toEqual(['fc1.weight', 'fc1.weight_scale', 'fc1.bias', 'fc2.weight', 'fc2.weight_scale', 'fc2.bias']);
    expect(Array.from((m.fc1 as QuantizedLinear).weightScale.data)).toEqual(Array.from(ref.weightScale.data));
    const yq = m.forward(x);
    for (let i = 0; i < y.size; i++) expect(Math.abs(yq.data[i] - y.data[i])).toBeLessThan(0.05);
    expect(String(m)).toContain('(fc1): QuantizedLinear(in_features=16, out_features=32, bias=True, dtype=int8, granularity=channel');
  });

  it('filter and per-layer overrides (names, re: patterns, null keeps float); a key that selects nothing changes nothing', () => {
    const m = new Model();
    quantize_(m, { granularity: 'group', groupSize: 8, layers: { 'mlp.fc1': { granularity: 'tensor' }, 're:heads\\..*': null } }, (_l, name) => name !== 'body.0');
    expect(m.body.get(0)).toBeInstanceOf(Linear);
    expect((m.mlp.fc1 as QuantizedLinear).granularity).toBe('tensor');
    expect((m.mlp.fc2 as QuantizedLinear).groupSize).toBe(8);
    expect(m.heads.get('10')).toBeInstanceOf(Linear);
    const n = new Model();
    expect(() => quantize_(n, { layers: { 'mlp.fc9': null } })).toThrowError(QuantizationError);
    expect(() => quantize_(n, { layers: { 'mlp.fc9': null } })).toThrowError(/'mlp.fc9' selected no Linear layer/);
    expect(n.mlp.fc1).toBeInstanceOf(Linear);
    expect(() => quantize_(n, { layers: { 're:(': null } })).toThrowError(/not a regular expression this library can run/);
  });

  it('to(backend) moves every quantized layer; results equal the reference backend bit for bit', () => {
    const m = quantize_(new MLP());
    const y = m.forward(x);
    m.to(createJsBackend());
    expect((m.fc2 as QuantizedLinear).backend.name).toBe('js-packed');
    expect(Array.from(m.forward(x).data)).toEqual(Array.from(y.data));
  });
});

describe('loadCheckpoint', () => {
  it('swaps in QuantizedLinear exactly where the file has quantized layers; a float file just loads', () => {
    manualSeed(3);
    const src = new Model();
    const q = QuantizedLinear.fromLinear(src.mlp.fc2 as Linear, { granularity: 'group', groupSize: 16 });
    const tensors: Record<string, Tensor> = {};
    for (const [k, t] of Object.entries(src.stateDict())) if (!k.startsWith('mlp.fc2.')) tensors[k] = t;
    const bytes = saveCompressedTensors({ 'mlp.fc2': q }, { tensors });
    const model = new Model();
    expect(loadCheckpoint(model, bytes)).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(model.mlp.fc2).toBeInstanceOf(QuantizedLinear);
    expect(model.mlp.fc1).toBeInstanceOf(Linear);
    expect(Array.from((model.mlp.fc2 as QuantizedLinear).weight.data)).toEqual(Array.from(q.weight.data));
    expect(Array.from(model.mlp.fc1.weight.data)).toEqual(Array.from(src.mlp.fc1.weight.data));
    const float = new Model();
    loadCheckpoint(float, readSafetensors(writeSafetensors(src.stateDict())));
    expect(float.mlp.fc2).toBeInstanceOf(Linear);
    expect(Array.from(float.mlp.fc2.weight.data)).toEqual(Array.from(src.mlp.fc2.weight.data));
  });

  it('a file that does not fit the model changes nothing', () => {
    const q = QuantizedLinear.fromLinear(new Linear(16, 8));
    const model = new Model();
    expect(() => loadCheckpoint(model, saveCompressedTensors({ 'mlp.act': q }))).toThrowError(/has a ReLU there/);
    expect(() => loadCheckpoint(model, saveCompressedTensors({ 'mlp.fc1': q }))).toThrowError(/size mismatch for mlp.fc1/);
    const ok = saveCompressedTensors({ 'mlp.fc2': QuantizedLinear.fromLinear(new Linear(32, 8)) });
    expect(() => loadCheckpoint(model, ok)).toThrowError(/Missing key\(s\) in state_dict: "body.0.weight"/);
    expect(model.mlp.fc2).toBeInstanceOf(Linear);
  });
});
