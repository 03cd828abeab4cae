import { describe, expect, it } from 'vitest';
import {
  BackendError,
  FormatError,
  Generator,
  Linear,
  QuantizedLinear,
  ShapeError,
  Tensor,
  createReferenceBackend,
  dequantize,
  quantize,
  type AsyncBackend,
  type Backend,
} from '../../src/index.js';
import { expectWithin } from '../helpers/compare.js';

const gen = () => new Generator(11);
const randn = (shape: number[], seed = 1) => {
  const g = new Generator(seed);
  const t = Tensor.zeros(shape);
  for (let i = 0; i < t.size; i++) t.data[i] = (g.nextUint32() / 2 ** 32) * 2 - 1;
  return t;
};

describe('Linear', () => {
  it('has PyTorch layout and printed form', () => {
    const fc = new Linear(512, 1024, { generator: gen() });
    expect(fc.weight.shape).toEqual([1024, 512]);
    expect(fc.bias!.shape).toEqual([1024]);
    expect(String(fc)).toBe('Linear(in_features=512, out_features=1024, bias=True)');
    expect(String(new Linear(3, 2, { bias: false, generator: gen() }))).toBe('Linear(in_features=3, out_features=2, bias=False)');
  });

  it('forward maps (*, in) to (*, out), for 1-D, 2-D and 3-D inputs', () => {
    const fc = new Linear(4, 3, { generator: gen() });
    expect(fc.forward(randn([4])).shape).toEqual([3]);
    expect(fc.forward(randn([5, 4])).shape).toEqual([5, 3]);
    expect(fc.forward(randn([2, 3, 4])).shape).toEqual([2, 3, 3]);
    expect(fc.forward(Tensor.zeros([0, 4])).shape).toEqual([0, 3]);
    // x = e_j picks column j of W plus the bias
    const x = new Tensor(new Float32Array([0, 1, 0, 0]), [4]);
    const y = fc.forward(x);
    for (let o = 0; o < 3; o++) expect(y.data[o]).toBe(Math.fround(fc.weight.data[o * 4 + 1] + fc.bias!.data[o]));
  });

  it('forward rejects a wrong last dimension or dtype', () => {
    const fc = new Linear(4, 3, { generator: gen() });
    expect(() => fc.forward(randn([2, 5]))).toThrowError(ShapeError);
    expect(() => fc.forward(randn([2, 5]))).toThrowError(/\(2, 5\) does not end in in_features=4/);
    expect(() => fc.forward(new Tensor(new Int8Array(4), [4]))).toThrowError(/float32 Tensor/);
  });

  it('rejects bad feature counts', () => {
    expect(() => new Linear(-1, 2)).toThrowError(ShapeError);
    expect(() => new Linear(2, 1.5)).toThrowError(/out_features must be a non-negative integer/);
  });

  it('stateDict shares data; loadStateDict copies and checks keys, dtypes and shapes before writing', () => {
    const a = new Linear(4, 3, { generator: new Generator(1) });
    const b = new Linear(4, 3, { generator: new Generator(2) });
    b.loadStateDict(a.stateDict());
    expect(Array.from(b.weight.data)).toEqual(Array.from(a.weight.data));
    expect(a.stateDict().weight).toBe(a.weight);

    const before = Array.from(b.weight.data);
    const badShape = { weight: Tensor.zeros([3, 5]), bias: Tensor.zeros([3]) };
    expect(() => b.loadStateDict(badShape)).toThrowError(ShapeError);
    expect(() => b.loadStateDict(badShape)).toThrowError(/size mismatch for weight: .*torch.Size\(\[3, 5\]\).*torch.Size\(\[3, 4\]\)/);
    expect(() => b.loadStateDict({ weight: Tensor.zeros([3, 4]) })).toThrowError(/Missing key\(s\) in state_dict: "bias"/);
    expect(() => b.loadStateDict({ ...a.stateDict(), extra: Tensor.zeros([1]) })).toThrowError(/Unexpected key\(s\) in state_dict: "extra"/);
    expect(() => b.loadStateDict({ weight: Tensor.zeros([3, 4], 'int8'), bias: Tensor.zeros([3]) })).toThrowError(FormatError);
    expect(Array.from(b.weight.data)).toEqual(before);
  });
});

describe('QuantizedLinear', () => {
  const fc = new Linear(64, 24, { generator: gen() });

  it('fromLinear keeps int8 weights and the scale shape of the scheme, and prints them', () => {
    const q = QuantizedLinear.fromLinear(fc, { granularity: 'group', groupSize: 16 });
    expect(q.weight.dtype).toBe('int8');
    expect(q.weightScale.shape).toEqual([24, 4]);
    expect(String(q)).toBe(
      'QuantizedLinear(in_features=64, out_features=24, bias=True, dtype=int8, granularity=group, group_size=16, range=full, scale_shape=(24, 4), backend=reference)',
    );
    expect(String(QuantizedLinear.fromLinear(fc))).toContain('granularity=channel, range=full, scale_shape=(24, 1)');
    expect(String(QuantizedLinear.fromLinear(fc, { granularity: 'tensor' }))).toContain('scale_shape=(1,)');
  });

  it.each([
    [{ granularity: 'channel' as const }],
    [{ granularity: 'tensor' as const, range: 'restricted' as const }],
    [{ granularity: 'group' as const, groupSize: 8 }],
  ])('forward equals the float layer on the dequantized weight (%o)', (scheme) => {
    const q = QuantizedLinear.fromLinear(fc, scheme);
    const deq = new Linear(64, 24, { generator: gen() });
    deq.loadStateDict({ weight: dequantize(quantize(fc.weight, scheme)), bias: fc.bias! });
    const x = randn([3, 2, 64]);
    const y = q.forward(x);
    expect(y.shape).toEqual([3, 2, 24]);
    // Both sum exactly-representable products in double; they differ only by the float32 rounding of
    // q*scale in the dequantized weight (relative 2^-24 per term) and of the result.
    const yd = deq.forward(x);
    expectWithin('quantized vs dequantized float', y.data, yd.data, (i) => 64 * 2 ** -22 * (Math.abs(yd.data[i]) + 1));
  });

  it('round-trips through stateDict with compressed-tensors names', () => {
    const a = QuantizedLinear.fromLinear(fc, { granularity: 'group', groupSize: 32 });
    const sd = a.stateDict();
    expect(Object.keys(sd).sort()).toEqual(['bias', 'weight', 'weight_scale']);
    expect(sd.weight_scale.shape).toEqual([24, 2]);
    const b = new QuantizedLinear(64, 24, { granularity: 'group', groupSize: 32 });
    b.loadStateDict(sd);
    const x = randn([5, 64]);
    expect(Array.from(b.forward(x).data)).toEqual(Array.from(a.forward(x).data));
  });

  it('loadStateDict rejects mismatched scale shapes, dtypes and bad scales, leaving the layer unchanged', () => {
    const a = QuantizedLinear.fromLinear(fc); // per channel: scale (24, 1)
    const sd = a.stateDict();
    const b = QuantizedLinear.fromLinear(fc, { granularity: 'group', groupSize: 32 });
    const before = Array.from(b.weightScale.data);
    expect(() => b.loadStateDict(sd)).toThrowError(/size mismatch for weight_scale: .*torch.Size\(\[24, 1\]\).*torch.Size\(\[24, 2\]\)/);
    expect(() => a.loadStateDict({ ...sd, weight: Tensor.zeros([24, 64]) })).toThrowError(/dtype mismatch for weight: .*float32.*int8/);
    const negativeScale = new Tensor(new Float32Array(24).fill(-1), [24, 1]);
    expect(() => a.loadStateDict({ ...sd, weight_scale: negativeScale })).toThrowError(/weight_scale\[0\] = -1; every scale must be finite and not negative/);
    const nanScale = new Tensor(new Float32Array(24).fill(NaN), [24, 1]);
    expect(() => a.loadStateDict({ ...sd, weight_scale: nanScale })).toThrowError(/weight_scale\[0\] = NaN/);
    // A zero scale is a valid block of zeros (GGUF Q8_0 stores d = 0 for one): its outputs are the bias alone.
    const c = QuantizedLinear.fromLinear(fc);
    c.loadStateDict({ ...c.stateDict(), weight_scale: new Tensor(new Float32Array(24), [24, 1]) });
    expect(Array.from(c.forward(randn([1, 64])).data)).toEqual(Array.from(c.bias!.data));
    expect(Array.from(b.weightScale.data)).toEqual(before);
  });

  it('forward rejects inputs whose last dimension is not in_features', () => {
    const q = QuantizedLinear.fromLinear(fc);
    expect(() => q.forward(randn([2, 63]))).toThrowError(ShapeError);
  });

  it('to(backend) returns the layer, runs on it, and refuses a backend that cannot run the layer', () => {
    const q = QuantizedLinear.fromLinear(fc);
    let calls = 0;
    const ref = createReferenceBackend();
    const counting: Backend = { ...ref, name: 'counting', linear: (a) => { calls++; ref.linear(a); } };
    expect(q.to(counting)).toBe(q);
    q.forward(randn([2, 64]));
    expect(calls).toBe(1);
    expect(q.backend.name).toBe('counting');
    expect(() => q.to({ ...ref, name: 'tiny', supports: () => false })).toThrowError(BackendError);
  });

  it('forwardAsync awaits a backend that only reads back asynchronously, and equals forward elsewhere', async () => {
    const q = QuantizedLinear.fromLinear(fc, { granularity: 'group', groupSize: 16 });
    const x = randn([2, 3, 64]);
    const expected = q.forward(x);
    expect(Array.from((await q.forwardAsync(x)).data)).toEqual(Array.from(expected.data)); // reference: no linearAsync
    const ref = createReferenceBackend();
    let settled = false;
    const asyncOnly: AsyncBackend = {
      ...ref,
      name: 'async-only',
      linear: () => {
        throw new BackendError('reads back asynchronously; use forwardAsync');
      },
      linearAsync: async (a) => {
        await new Promise((r) => setTimeout(r, 1));
        ref.linear(a);
        settled = true;
      },
    };
    q.to(asyncOnly);
    expect(() => q.forward(x)).toThrowError(/forwardAsync/);
    const pending = q.forwardAsync(x);
    expect(settled).toBe(false); // it really waits for the device
    const y = await pending;
    expect(y.shape).toEqual([2, 3, fc.outFeatures]);
    expect(Array.from(y.data)).toEqual(Array.from(expected.data));
    await expect(q.forwardAsync(randn([2, 63]))).rejects.toThrowError(ShapeError);
  });

  it('rejects bad constructor arguments', () => {
    expect(() => new QuantizedLinear(0, 3)).toThrowError(ShapeError);
    expect(() => new QuantizedLinear(10, 3, { granularity: 'group', groupSize: 4 })).toThrowError(/not divisible/);
  });
});
