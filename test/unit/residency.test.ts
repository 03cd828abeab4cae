import { layerKernelWeight } from '../../src/nn/quantized-linear.js';
import { describe, expect, it } from 'vitest';
import { BackendError, Generator, Linear, QuantizedLinear, Tensor, uniform_, type QuantScheme } from '../../src/index.js';
import { createJsBackend } from '../../src/kernels/js-packed.js';
import { createReferenceBackend } from '../../src/kernels/reference.js';
import type { Backend, ResidentBackend } from '../../src/kernels/types.js';
import { createWasmBackend } from '../../src/kernels/wasm/backend.js';
import { createThreadedWasmBackend } from '../../src/kernels/wasm/node-threads.js';
import { unpackValues, packWeight, packedLayout } from '../../src/kernels/packed.js';
import { expectBitExact } from '../helpers/compare.js';

/**
 * `QuantizedLinear.to(backend)` moves the int8 weight into backends that keep their own layout
 * (wasm memory, the JS fallback's packed array), as PyTorch's `.to(device)` moves a tensor: the layer
 * then holds no row-major copy, and reads the values back when asked.
 */

// Shapes whose packed layout has padding: n not a multiple of 4, k and groups not multiples of 16.
const CASES: { k: number; n: number; scheme: QuantScheme }[] = [
  { k: 37, n: 5, scheme: { granularity: 'channel' } },
  { k: 64, n: 9, scheme: { granularity: 'group', groupSize: 8, range: 'restricted' } },
  { k: 60, n: 3, scheme: { granularity: 'group', groupSize: 20 } },
  { k: 33, n: 4, scheme: { granularity: 'tensor' } },
];

const makers: [string, () => Promise<Backend>][] = [
  ['wasm-simd', () => createWasmBackend()],
  ['wasm-simd-threads', () => createThreadedWasmBackend({ minThreadedMacs: 0 })],
  ['js-packed', async () => createJsBackend()],
];

/** The forward of `layer`'s current weight on a fresh backend made by `make` that does not hold it. */
async function forwardElsewhere(make: () => Promise<Backend>, layer: QuantizedLinear, x: Tensor<'float32'>): Promise<Float32Array> {
  const b = await make();
  const out = new Float32Array(x.shape[0] * layer.outFeatures);
  b.linear({ x: x.data, m: x.shape[0], weight: layerKernelWeight(layer), bias: layer.bias?.data ?? null, out });
  b.dispose();
  return out;
}

function build(k: number, n: number, scheme: QuantScheme, seed: number) {
  const gen = new Generator(seed);
  const layer = QuantizedLinear.fromLinear(new Linear(k, n, { generator: gen }), scheme);
  const x = uniform_(Tensor.zeros([3, k], 'float32'), -1, 1, gen);
  return { layer, x };
}

describe('unpackValues', () => {
  it('inverts packWeight for padded layouts', () => {
    for (const { k, n, scheme } of CASES) {
      const { layer } = build(k, n, scheme, 1);
      const w = layerKernelWeight(layer);
      const layout = packedLayout(w);
      const packed = new Int8Array(layout.valueBytes);
      packWeight(w, layout, packed, new Float32Array(layout.scaleCount));
      const back = new Int8Array(n * k).fill(99);
      unpackValues(layout, packed, back);
      expect(Array.from(back)).toEqual(Array.from(w.values));
    }
  });
});

describe.each(makers)('a layer moved to %s', (_name, make) => {
  it('gives back exactly its int8 weight (weight, stateDict, packed) and the same forward', async () => {
    const backend = await make();
    for (const [i, { k, n, scheme }] of CASES.entries()) {
      const { layer, x } = build(k, n, scheme, 10 + i);
      const original = layer.weight.data.slice();
      const expected = await forwardElsewhere(make, layer, x); // same kernel, weight not moved
      layer.to(backend);
      expect(Array.from(layer.weight.data)).toEqual(Array.from(original));
      expect(Array.from(layer.stateDict().weight.data as Int8Array)).toEqual(Array.from(original));
      expect(Array.from(layerKernelWeight(layer).values)).toEqual(Array.from(original));
      expect(layer.weight.shape).toEqual([n, k]);
      expectBitExact(`${n}x${k} moved`, layer.forward(x).data, expected);
      // and back out: the reference backend gets the layer's own copy again
      const onRef = layer.to(createReferenceBackend());
      expect(Array.from(onRef.weight.data)).toEqual(Array.from(original));
      expect(onRef.weight).toBe(onRef.weight); // its own tensor again, shared, not a copy per read
    }
    backend.dispose();
  });

  it('loadStateDict while the backend holds the weight loads the new one and frees nothing twice', async () => {
    const backend = await make();
    const { layer, x } = build(64, 9, { granularity: 'channel' }, 3);
    const other = build(64, 9, { granularity: 'channel' }, 4).layer;
    layer.to(backend);
    layer.loadStateDict(other.stateDict());
    expect(Array.from(layer.weight.data)).toEqual(Array.from(other.weight.data));
    expectBitExact('after loadStateDict', layer.forward(x).data, await forwardElsewhere(make, other, x));
    // a bad state dict changes nothing
    expect(() => layer.loadStateDict({ weight: Tensor.zeros([9, 63], 'int8'), weight_scale: other.weightScale, bias: other.bias! })).toThrow();
    expect(Array.from(layer.weight.data)).toEqual(Array.from(other.weight.data));
    backend.dispose();
  });

  it('after dispose() the weight is still readable and the layer can move to another backend', async () => {
    const backend = await make();
    const { layer, x } = build(37, 5, { granularity: 'channel' }, 5);
    const original = layer.weight.data.slice();
    const originalState = { weight: layer.weight.clone(), weight_scale: layer.weightScale.clone(), bias: layer.bias!.clone() };
    const expected = layer.forward(x).data.slice();
    layer.to(backend);
    backend.dispose();
    if (_name === 'wasm-simd') expect(() => layer.forward(x)).toThrow(/after dispose.*layer\.to\(otherBackend\)/);
    // loadStateDict on the disposed backend loads the state (no throw after a half-done change)
    const other = build(37, 5, { granularity: 'channel' }, 6).layer;
    layer.loadStateDict(other.stateDict());
    expect(Array.from(layer.weight.data)).toEqual(Array.from(other.weight.data));
    layer.loadStateDict(originalState);
    layer.to(createReferenceBackend());
    expect(Array.from(layer.weight.data)).toEqual(Array.from(original));
    expectBitExact('forward after moving back', layer.forward(x).data, expected);
  });
});

describe('memory of a layer on the wasm backend', () => {
  async function collected(ref: WeakRef<object>): Promise<boolean> {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (gc === undefined) throw new Error('run with node --expose-gc (vitest.config.ts sets execArgv)');
    for (let i = 0; i < 10 && ref.deref() !== undefined; i++) {
      await new Promise((r) => setTimeout(r, 0));
      gc();
    }
    return ref.deref() === undefined;
  }

  it('a 1024x2048 layer holds its int8 weight once: in wasm memory, and its own copy is collected', async () => {
    const wasm = await createWasmBackend();
    const n = 1024;
    const k = 2048;
    const layer = QuantizedLinear.fromLinear(new Linear(k, n, { generator: new Generator(6) }));
    const ownValues = new WeakRef(layer.weight.data);
    const before = wasm.allocatedBytes;
    layer.to(wasm);
    const held = wasm.allocatedBytes - before;
    expect(held).toBeGreaterThanOrEqual(n * k); // 1 byte per weight in wasm memory
    expect(held).toBeLessThanOrEqual(n * k + n * 4 + 64); // + one float32 scale per row, nothing else
    expect(await collected(ownValues)).toBe(true);
    // moving back out gives the layer its own copy and frees the wasm one
    layer.to(createReferenceBackend());
    expect(wasm.allocatedBytes).toBe(before);
    wasm.dispose();
  });

  it('a backend that cannot take the weight leaves the layer where it was', async () => {
    const wasm = await createWasmBackend();
    const { layer, x } = build(37, 5, { granularity: 'channel' }, 7);
    const js = createJsBackend();
    layer.to(js);
    const failing: ResidentBackend = { ...wasm, adopt: () => { throw new BackendError('no memory'); } };
    expect(() => layer.to(failing)).toThrow(/no memory/);
    expect(layer.backend).toBe(js);
    expect(layer.forward(x).data.length).toBe(15);
    wasm.dispose();
  });
});
