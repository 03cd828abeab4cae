import { describe, expect, it } from 'vitest';
import { BackendError, Generator, Linear, QuantizedLinear, Tensor } from '../../src/index.js';
import { createReferenceBackend } from '../../src/kernels/reference.js';
import { createWasmBackend, type WasmBackend } from '../../src/kernels/wasm/backend.js';
import { WasmHeap } from '../../src/kernels/wasm/heap.js';
import { createThreadedWasmBackend } from '../../src/node.js';

/**
 * Out of wasm memory must change nothing. The bug this guards against: the scratch block was freed
 * before its replacement was allocated, so a failed allocation left the backend pointing at a freed
 * block; the next adopted layer was placed there and later calls overwrote its int8 weights.
 */

const LIMIT = 4 * 2 ** 20; // 4 MiB of wasm memory: a few 256x1024 layers and their scratch

function layerOf(seed: number, n = 256, k = 1024): QuantizedLinear {
  return QuantizedLinear.fromLinear(new Linear(k, n, { generator: new Generator(seed) }));
}

/** Index of the first difference, or -1 (vitest's toEqual on 256k-element arrays takes seconds). */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return 0;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

function inputOf(seed: number, m: number, k: number): Tensor {
  const g = new Generator(seed);
  const data = new Float32Array(m * k);
  for (let i = 0; i < data.length; i++) data[i] = (g.nextUint32() / 2 ** 32) * 4 - 2;
  return new Tensor(data, [m, k]);
}

async function fillUntilItFails(backend: WasmBackend): Promise<void> {
  const reference = createReferenceBackend();
  const held: { layer: QuantizedLinear; weight: Int8Array; y: Float32Array }[] = [];
  const x1 = inputOf(1, 1, 1024);
  let failure: unknown = null;
  // Alternate adopting layers and growing the scratch (larger m each time), as a model does when
  // batches grow, until the limit is hit by one or the other.
  for (let i = 0; i < 64 && failure === null; i++) {
    const layer = layerOf(100 + i);
    const weight = layer.weight.data.slice();
    try {
      layer.to(backend);
    } catch (e) {
      failure = e;
      // The layer that did not fit keeps its weight and its previous backend.
      expect(layer.backend.name).toBe('reference');
      expect(firstDifference(layer.weight.data, weight)).toBe(-1);
      break;
    }
    held.push({ layer, weight, y: layer.forward(x1).data.slice() });
    try {
      layer.forward(inputOf(2, 8 * (i + 1), 1024));
    } catch (e) {
      failure = e;
    }
  }
  expect(failure).toBeInstanceOf(BackendError);
  const message = (failure as Error).message;
  expect(message).toMatch(/out of memory: asked for \d+ bytes with \d+ bytes in use and a limit of \d+ bytes/);
  expect(message).toMatch(/4 GiB per backend/);
  expect(held.length).toBeGreaterThan(1);

  // After the failure: adopt more layers (a freed block would be reused by them) and run calls of
  // sizes that still fit, then check every layer, earlier and later, bit for bit.
  for (let i = 0; i < 8; i++) {
    const late = layerOf(200 + i, 16 * (i + 1), 1024);
    const weight = late.weight.data.slice();
    try {
      late.to(backend);
    } catch (e) {
      expect(e).toBeInstanceOf(BackendError);
      continue;
    }
    held.push({ layer: late, weight, y: late.forward(x1).data.slice() });
  }
  for (const { layer } of held) {
    for (const m of [1, 2, 4, 8]) {
      try {
        layer.forward(inputOf(4, m, 1024));
      } catch (e) {
        expect(e).toBeInstanceOf(BackendError);
      }
    }
  }
  for (const { layer, weight, y } of held) {
    expect(firstDifference(layer.weight.data, weight)).toBe(-1);
    expect(firstDifference(layer.forward(x1).data, y)).toBe(-1);
  }
  // And against the reference kernel, after moving every layer out of the backend.
  for (const { layer, weight, y } of held) {
    layer.to(reference);
    expect(firstDifference(layer.weight.data, weight)).toBe(-1);
    const yr = layer.forward(x1).data;
    for (let o = 0; o < yr.length; o++) expect(Math.abs(yr[o] - y[o])).toBeLessThan(1e-3);
  }
  backend.dispose();
}

/**
 * The exact sequence of the bug: a scratch block below a layer, a call too large for the memory, then
 * a small layer adopted where the old scratch block was, then a small call.
 */
async function failedGrowthThenAdopt(backend: WasmBackend): Promise<void> {
  const x1 = inputOf(1, 1, 1024);
  const a = layerOf(1).to(backend);
  a.forward(x1); // scratch for m = 1, right after a's weight
  const b = layerOf(2).to(backend); // above the scratch block
  const before = [a, b].map((l) => ({ l, w: l.weight.data.slice(), y: l.forward(x1).data.slice() }));
  expect(() => a.forward(inputOf(2, 2048, 1024))).toThrow(/out of memory: asked for \d+ bytes/);
  const small = QuantizedLinear.fromLinear(new Linear(1024, 4, { generator: new Generator(3) }));
  const w = small.weight.data.slice();
  const y = small.forward(x1).data.slice(); // on the reference backend
  small.to(backend);
  const ySmall = small.forward(x1).data;
  a.forward(x1);
  b.forward(x1);
  expect(firstDifference(small.weight.data, w)).toBe(-1);
  for (let o = 0; o < 4; o++) expect(Math.abs(ySmall[o] - y[o])).toBeLessThan(1e-3);
  for (const { l, w: lw, y: ly } of before) {
    expect(firstDifference(l.weight.data, lw)).toBe(-1);
    expect(firstDifference(l.forward(x1).data, ly)).toBe(-1);
  }
  backend.dispose();
}

describe('wasm backends out of memory', () => {
  it('single thread: a failed scratch growth leaves no freed block in use', async () => {
    await failedGrowthThenAdopt(await createWasmBackend({ maxMemoryBytes: LIMIT }));
  });

  it('threaded: a failed scratch growth leaves no freed block in use', async () => {
    await failedGrowthThenAdopt(await createThreadedWasmBackend({ threads: 2, minThreadedMacs: 0, maxMemoryBytes: LIMIT }));
  });

  it('single thread: the failure is a BackendError and no earlier layer changes', async () => {
    await fillUntilItFails(await createWasmBackend({ maxMemoryBytes: LIMIT }));
  });

  it('threaded: the failure is a BackendError and no earlier layer changes', async () => {
    await fillUntilItFails(await createThreadedWasmBackend({ threads: 2, minThreadedMacs: 0, maxMemoryBytes: LIMIT }));
  });

  it('WasmHeap: a refused memory.grow is a BackendError and the heap is unchanged', () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 2 });
    const heap = new WasmHeap(memory); // the heap's own limit is 4 GiB: the engine's maximum is what refuses
    const a = heap.alloc(1000);
    expect(() => heap.alloc(3 * 65536)).toThrow(BackendError);
    expect(() => heap.alloc(3 * 65536)).toThrow(/asked for 196608 bytes with 1008 bytes in use .*the engine refused to grow/);
    expect(heap.allocated).toBe(1008);
    const b = heap.alloc(1000);
    expect(b).toBe(a + 1008); // the bump pointer did not move on the failures
  });

  it('maxMemoryBytes is checked', async () => {
    await expect(createWasmBackend({ maxMemoryBytes: 100 })).rejects.toThrow(/maxMemoryBytes must be an integer from 65536/);
    await expect(createWasmBackend({ maxMemoryBytes: 2 ** 33 })).rejects.toThrow(BackendError);
  });
});
