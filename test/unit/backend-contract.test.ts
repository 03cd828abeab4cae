import { describe, expect, it } from 'vitest';
import { BackendError } from '../../src/errors.js';
import {
  adoptWeight,
  checkCanRun,
  hasW8A8,
  isAsyncBackend,
  isCachingBackend,
  isResidentBackend,
  readWeightValues,
  releaseWeight,
  runLinearAsync,
  runLinearW8A8,
} from '../../src/kernels/dispatch.js';
import { createJsBackend } from '../../src/kernels/js-packed.js';
import { createReferenceBackend, referenceLinear } from '../../src/kernels/reference.js';
import { MAIN_BACKENDS, REFERENCE_FACTORY, createAvailable, type BackendFactory } from '../../src/kernels/registry.js';
import type { Backend, KernelWeight } from '../../src/kernels/types.js';
import { Generator, Linear, QuantizedLinear, Tensor } from '../../src/index.js';

/** A backend written from the `Backend` docstring alone: the five core members, no capability. */
function coreOnly(name = 'core-only'): Backend & { calls: number } {
  const b = {
    name,
    mode: 'js-float64',
    calls: 0,
    supports: (w: KernelWeight) => w.k <= 64,
    linear(args: Parameters<Backend['linear']>[0]) {
      b.calls++;
      referenceLinear(args);
    },
    dispose: () => undefined,
  };
  return b;
}

const weight: KernelWeight = { n: 2, k: 3, values: Int8Array.of(1, 2, 3, -4, -5, -6), scales: Float32Array.of(0.5, 0.25), groupSize: 3 };

describe('the dispatch module: capabilities and fallbacks in one place', () => {
  it('classifies the built-in backends by capability', () => {
    const ref = createReferenceBackend();
    const js = createJsBackend();
    expect([isAsyncBackend(ref), hasW8A8(ref), isCachingBackend(ref), isResidentBackend(ref)]).toEqual([false, true, false, false]);
    expect([isAsyncBackend(js), hasW8A8(js), isCachingBackend(js), isResidentBackend(js)]).toEqual([false, true, true, true]);
  });

  it('a core-only backend: async runs linear, release does nothing, adopt is refused, W8A8 is a BackendError', async () => {
    const b = coreOnly();
    const out = new Float32Array(2);
    await runLinearAsync(b, { x: Float32Array.of(1, 1, 1), m: 1, weight, bias: null, out });
    expect(Array.from(out)).toEqual([3, -3.75]);
    expect(b.calls).toBe(1);
    expect(() => releaseWeight(b, weight)).not.toThrow();
    expect(adoptWeight(b, weight)).toBe(false);
    expect(() => readWeightValues(b, weight, new Int8Array(6))).toThrow(BackendError);
    expect(() => runLinearW8A8(b, { xq: new Int8Array(3), xScales: new Float32Array(1), m: 1, weight, bias: null, out })).toThrow(/no W8A8 kernel/);
    expect(() => checkCanRun(b, { ...weight, k: 65 }, 'float32', 'test', '2x65 channel layer')).toThrow(/cannot run a 2x65 channel layer/);
  });

  it('QuantizedLinear runs on a core-only backend, forward and forwardAsync alike, and refuses it for W8A8', async () => {
    const fc = new Linear(8, 3, { generator: new Generator(1) });
    const x = new Tensor(new Float32Array(16).fill(0.25), [2, 8]);
    const layer = QuantizedLinear.fromLinear(fc);
    const expected = Array.from(layer.forward(x).data);
    const b = coreOnly();
    layer.to(b);
    expect(Array.from(layer.forward(x).data)).toEqual(expected);
    expect(Array.from((await layer.forwardAsync(x)).data)).toEqual(expected);
    expect(b.calls).toBe(2);
    expect(Array.from(layer.weight.data)).toEqual(Array.from(QuantizedLinear.fromLinear(fc).weight.data)); // it kept its weight
    const w8a8 = QuantizedLinear.fromLinear(fc, { activations: 'int8' });
    expect(() => w8a8.to(coreOnly())).toThrow(BackendError);
  });
});

describe('a registry: one ordered list of factories', () => {
  const factory = (name: string, extra: Partial<BackendFactory> = {}): BackendFactory => ({
    name,
    unavailable: () => null,
    create: () => coreOnly(name),
    accumulation: 'float64',
    ...extra,
  });

  it('keeps the order, puts emulated backends after the others and the reference last, and reports what it skipped', async () => {
    const skipped: string[] = [];
    const list = await createAvailable(
      [
        factory('emulated-gpu', { isEmulated: () => true }),
        factory('fast'),
        factory('missing', { unavailable: () => 'not here' }),
        factory('broken', { create: () => { throw new BackendError('probe failed'); } }),
        ...MAIN_BACKENDS.filter((f) => f !== REFERENCE_FACTORY),
        REFERENCE_FACTORY,
      ],
      (why) => skipped.push(why),
    );
    expect(list.map((b) => b.name)).toEqual(['fast', 'wasm-simd', 'js-packed', 'emulated-gpu', 'reference']);
    expect(skipped).toEqual(['missing: not here', 'broken: BackendError: probe failed']);
    for (const b of list) b.dispose();
  });
});
