import { describe, expect, it } from 'vitest';
import { Int8LinearError, ShapeError, Tensor } from '../../src/index.js';

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
