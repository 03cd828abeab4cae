import { describe, expect, it } from 'vitest';
import { FormatError, Int8LinearError, Linear, ShapeError, Tensor, computeScale, quantize } from '../../src/index.js';

describe('Tensor', () => {
  it('infers dtype from the typed array and freezes its shape', () => {
    const t = new Tensor(new Int8Array(6), [2, 3]);
    expect(t.dtype).toBe('int8');
    expect(t.shape).toEqual([2, 3]);
    expect(Object.isFrozen(t.shape)).toBe(true);
    expect(t.nbytes).toBe(6);
    expect(String(t)).toBe('Tensor(shape=(2, 3), dtype=int8)');
  });

  it('rejects data whose length does not match the shape, saying both', () => {
    expect(() => new Tensor(new Float32Array(5), [2, 3])).toThrowError(ShapeError);
    expect(() => new Tensor(new Float32Array(5), [2, 3])).toThrowError(/5 elements but shape \[2, 3\] needs 6/);
  });

  it('rejects negative or fractional dimensions', () => {
    expect(() => new Tensor(new Float32Array(0), [-1, 0])).toThrowError(/dimension 0 = -1/);
    expect(() => new Tensor(new Float32Array(3), [1.5, 2])).toThrowError(ShapeError);
  });

  it('rejects a typed array that does not match an explicit dtype, and needs a dtype for 16-bit floats', () => {
    expect(() => new Tensor(new Float32Array(2) as unknown as Int8Array, [2], 'int8')).toThrowError(/needs a Int8Array, got a Float32Array/);
    expect(() => new Tensor(new Uint16Array(2), [2])).toThrowError(/'float16'/);
    expect(new Tensor(new Uint16Array(2), [2], 'bfloat16').nbytes).toBe(4);
  });

  it('reshape shares data and checks the element count; clone copies', () => {
    const t = new Tensor(new Float32Array([1, 2, 3, 4]), [2, 2]);
    const r = t.reshape([4]);
    r.data[0] = 9;
    expect(t.data[0]).toBe(9);
    expect(() => t.reshape([3])).toThrowError(ShapeError);
    const c = t.clone();
    c.data[1] = 7;
    expect(t.data[1]).toBe(2);
  });

  it('errors share one base class and carry their own names', () => {
    try {
      new Tensor(new Float32Array(1), [2]);
    } catch (e) {
      expect(e).toBeInstanceOf(Int8LinearError);
      expect((e as Error).name).toBe('ShapeError');
    }
    expect.assertions(2);
  });
});

describe('instanceof across the CommonJS and ES module builds', () => {
  // The other build's Tensor is another class whose prototype carries the same global brand; this stands in for
  // it here (test/smoke/dual-build.cjs runs the real dist/index.cjs against dist/index.js).
  const otherBuild = <T extends object>(name: string, proto: T): T => {
    const p = Object.create(proto) as T;
    Object.defineProperty(p, Symbol.for(`int8-linear.${name}`), { value: true });
    return p;
  };

  it('accepts an object branded by the other build and rejects look-alikes', () => {
    const foreign = Object.assign(Object.create(otherBuild('Tensor', {})), { data: new Float32Array(4), shape: [2, 2], dtype: 'float32' });
    expect(foreign instanceof Tensor).toBe(true);
    expect({ data: new Float32Array(4), shape: [2, 2], dtype: 'float32' } instanceof Tensor).toBe(false);
    expect(Object.create(otherBuild('Linear', {})) instanceof Tensor).toBe(false);
    expect((null as unknown) instanceof Tensor).toBe(false);
  });

  it('tells error classes apart by brand', () => {
    const err = Object.create(otherBuild('ShapeError', otherBuild('Int8LinearError', Error.prototype))) as Error;
    expect(err instanceof ShapeError).toBe(true);
    expect(err instanceof Int8LinearError).toBe(true);
    expect(err instanceof FormatError).toBe(false);
  });

  it("keeps JavaScript's ordinary instanceof for a user's subclass", () => {
    class Named extends Tensor {}
    const named = new Named(new Float32Array(2), [2]);
    expect(named instanceof Named && named instanceof Tensor).toBe(true);
    expect(new Tensor(new Float32Array(2), [2]) instanceof Named).toBe(false);
  });
});

describe('float16 and bfloat16 tensors where float32 is needed', () => {
  const half = new Tensor(new Float32Array([0.5, -1, 2, 0.25]), [2, 2]).toHalf('float16');
  const bf16 = new Tensor(new Float32Array([0.5, -1, 2, 0.25]), [2, 2]).toHalf('bfloat16');

  it('quantize and computeScale say to call toFloat32(), and that it is exact', () => {
    expect(() => quantize(half)).toThrowError(ShapeError);
    expect(() => quantize(half)).toThrowError(/got a float16 tensor of shape \(2, 2\); call weight\.toFloat32\(\) first \(exact: every float16 value is a float32 value\)/);
    expect(() => computeScale(bf16)).toThrowError(/got a bfloat16 tensor .*call weight\.toFloat32\(\) first \(exact: every bfloat16 value/);
    expect(() => quantize(new Tensor(new Float64Array(4), [2, 2]))).toThrowError(/call weight\.toFloat32\(\) first \(each value rounds to the nearest float32\)/);
    expect(quantize(half.toFloat32()).values.data).toEqual(quantize(new Tensor(new Float32Array([0.5, -1, 2, 0.25]), [2, 2])).values.data);
  });

  it('forward says the same; loadStateDict converts, as PyTorch copies a half state dict into float parameters', () => {
    const fc = new Linear(2, 2);
    expect(() => fc.forward(half)).toThrowError(/got a float16 tensor; call x\.toFloat32\(\) first/);
    fc.loadStateDict({ weight: bf16, bias: Tensor.zeros([2]) });
    expect(fc.weight.data).toEqual(bf16.toFloat32().data);
  });
});
