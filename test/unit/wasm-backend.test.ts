import { layerKernelWeight } from '../../src/nn/quantized-linear.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BackendError, Linear, QuantizationError, QuantizedLinear, Tensor, Generator, uniform_ } from '../../src/index.js';
import { createJsBackend } from '../../src/kernels/js-packed.js';
import { CHUNK, ROWS, packWeight, packedLayout, padActivations, splitPlanes, splitPlanes16 } from '../../src/kernels/packed.js';
import { createReferenceBackend, referenceLinearW8A16, referenceLinearW8A8 } from '../../src/kernels/reference.js';
import type { KernelWeight } from '../../src/kernels/types.js';
import { availableBackends } from '../../src/kernels/available.js';
import { WASM_MAX_K, createWasmBackend, wasmSimdSupported } from '../../src/kernels/wasm/backend.js';
import { WasmHeap } from '../../src/kernels/wasm/heap.js';
import { quantizeActivations, quantizeActivationsInt16 } from '../../src/quant/activations.js';

describe('packed layout', () => {
  it('puts weight (o, i) of group g at block o/4, chunk, row o%4, and pads groups and rows with zeros', () => {
    // n = 5 (one padding block of 3 rows), k = 40, groupSize 20 -> each group padded to 32, kp = 64
    const n = 5;
    const k = 40;
    const values = new Int8Array(n * k).map((_, i) => (i % 127) + 1); // never 0, so padding is visible
    const scales = new Float32Array(n * 2).map((_, i) => i + 1);
    const weight: KernelWeight = { n, k, values, scales, groupSize: 20 };
    const layout = packedLayout(weight);
    expect(layout).toMatchObject({ groups: 2, gp: 32, cpg: 2, kp: 64, nb: 2, np: 8, valueBytes: 512, scaleCount: 16 });
    const packed = new Int8Array(layout.valueBytes).fill(99);
    const packedScales = new Float32Array(layout.scaleCount).fill(99);
    packWeight(weight, layout, packed, packedScales);
    let nonZero = 0;
    for (let o = 0; o < n; o++) {
      for (let i = 0; i < k; i++) {
        const col = Math.floor(i / 20) * 32 + (i % 20);
        const at = Math.floor(o / ROWS) * ROWS * 64 + Math.floor(col / CHUNK) * ROWS * CHUNK + (o % ROWS) * CHUNK + (col % CHUNK);
        expect(packed[at]).toBe(values[o * k + i]);
      }
    }
    for (const v of packed) if (v !== 0) nonZero++;
    expect(nonZero).toBe(n * k); // everything else is zero padding
    // scales[(b * groups + g) * 4 + r]; padding rows get 1
    expect(Array.from(packedScales)).toEqual([1, 3, 5, 7, 2, 4, 6, 8, 9, 1, 1, 1, 10, 1, 1, 1]);
  });

  it('padActivations copies each group to its padded place and zeroes the padding', () => {
    const layout = packedLayout({ n: 1, k: 6, values: new Int8Array(6), scales: new Float32Array(2), groupSize: 3 });
    const dst = new Float32Array(2 * layout.kp).fill(7);
    padActivations(new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]), 2, layout, dst);
    const row = (a: number[]) => [...a, ...new Array(13).fill(0)];
    expect(Array.from(dst)).toEqual([...row([1, 2, 3]), ...row([4, 5, 6]), ...row([7, 8, 9]), ...row([10, 11, 12])]);
  });

  it('splitPlanes writes each 16-column chunk as 16 bytes of l = x & 127, then 16 of n = [x < 0], and x = l - 128 n for every int8', () => {
    // every int8 value once, in two chunks of 16 per 32 values: 256 values = 16 chunks
    const x = new Int8Array(256).map((_, i) => i - 128);
    const planes = new Uint8Array(512).fill(99);
    splitPlanes(new Uint32Array(x.buffer), new Uint32Array(planes.buffer));
    for (let i = 0; i < 256; i++) {
      const at = (i >> 4) * 32 + (i & 15);
      const l = planes[at];
      const n = planes[at + 16];
      expect(l).toBeLessThanOrEqual(127); // the operand range where relaxed_dot_i8x16_i7x16 is defined
      expect(n).toBe(x[i] < 0 ? 1 : 0);
      expect(l - 128 * n).toBe(x[i]);
    }
  });

  it('splitPlanes16 writes each 16-column chunk as 16 bytes each of p0, p1, p2 in [0, 127] with x + 32768 = p0 + 128 p1 + 16384 p2 for every int16', () => {
    // every int16 value once: 65536 values = 4096 chunks of 48 plane bytes
    const x = new Int16Array(65536).map((_, i) => i - 32768);
    const planes = new Uint8Array(3 * 65536).fill(255);
    splitPlanes16(new Uint32Array(x.buffer), new Uint32Array(planes.buffer));
    let bad = 0;
    for (let i = 0; i < 65536; i++) {
      const at = (i >> 4) * 48 + (i & 15);
      const [p0, p1, p2] = [planes[at], planes[at + 16], planes[at + 32]];
      if (p0 > 127 || p1 > 127 || p2 > 3 || p0 + 128 * p1 + 16384 * p2 !== x[i] + 32768) bad++;
    }
    expect(bad).toBe(0);
    expect(Array.from(planes.subarray(0, 4))).toEqual([0, 1, 2, 3]); // -32768 .. -32765: u = 0 .. 3
    expect(Array.from(planes.subarray(32, 36))).toEqual([0, 0, 0, 0]);
  });
});

describe('WasmHeap', () => {
  it('reuses freed blocks, coalesces neighbours and lowers the top when the last block is freed', () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    const heap = new WasmHeap(memory);
    const a = heap.alloc(100);
    const b = heap.alloc(1000);
    const c = heap.alloc(10);
    expect([a % 16, b % 16, c % 16]).toEqual([0, 0, 0]);
    expect(b).toBeGreaterThanOrEqual(a + 100);
    heap.release(a);
    heap.release(b);
    expect(heap.alloc(1100)).toBe(a); // a and b coalesced
    heap.release(a);
    heap.release(c);
    expect(heap.highWater).toBe(16);
    expect(heap.allocated).toBe(0);
  });
  it('grows the memory when nothing fits, and refuses to free what it did not hand out', () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    const heap = new WasmHeap(memory);
    heap.alloc(200_000);
    expect(memory.buffer.byteLength).toBeGreaterThanOrEqual(200_016);
    expect(() => heap.release(12345)).toThrow(BackendError);
  });
});

describe('quantizeActivations (torchao per-token formula)', () => {
  it('the docstring example agrees with torch.quantize_per_channel (PyTorch 1.13: [[64, -127], [127, 0]])', () => {
    const { xq, xScales } = quantizeActivations(new Float32Array([0.5, -1, 2, 0]), 2, 2);
    expect(Array.from(xScales)).toEqual([Math.fround(1 / 127.5), Math.fround(2 / 127.5)]);
    expect(Array.from(xq)).toEqual([64, -127, 127, 0]); // fround(1 / s) is just below 127.5 here
  });
  it('an all-zero row gets scale EPS and zeros, and a NaN is a QuantizationError naming its place', () => {
    const { xq, xScales } = quantizeActivations(new Float32Array(4), 1, 4);
    expect(xScales[0]).toBe(2 ** -23);
    expect(Array.from(xq)).toEqual([0, 0, 0, 0]);
    expect(() => quantizeActivations(new Float32Array([0, 1, Number.NaN, 2]), 2, 2)).toThrow(/NaN at \[1, 0\]/);
    expect(() => quantizeActivations(new Float32Array([Infinity]), 1, 1)).toThrow(QuantizationError);
  });
});

describe('quantizeActivationsInt16 (the per-token formula with the int16 range)', () => {
  it('the docstring example: s = fround(absmax / 32767.5), -32767.5 rounds half to even', () => {
    const { xq, xScales } = quantizeActivationsInt16(new Float32Array([0.5, -1, 2, 0]), 2, 2);
    expect(Array.from(xScales)).toEqual([Math.fround(1 / 32767.5), Math.fround(2 / 32767.5)]);
    expect(Array.from(xq)).toEqual([16384, -32768, 32767, 0]);
  });
  it('an all-zero row gets scale EPS and zeros, and a NaN is a QuantizationError naming its place', () => {
    const { xq, xScales } = quantizeActivationsInt16(new Float32Array(4), 1, 4);
    expect(xScales[0]).toBe(2 ** -23);
    expect(Array.from(xq)).toEqual([0, 0, 0, 0]);
    expect(() => quantizeActivationsInt16(new Float32Array([0, 1, Number.NaN, 2]), 2, 2)).toThrow(/quantizeActivationsInt16: .*NaN at \[1, 0\]/);
    expect(() => quantizeActivationsInt16(new Float32Array([-Infinity]), 1, 1)).toThrow(QuantizationError);
  });
});

describe('referenceLinearW8A16', () => {
  it('sums each run of 256 columns exactly, then in float32: run 0 = 2^24 + 1 rounds to 2^24, and so does 2^24 + run 1 (= 1)', () => {
    // One group of 257 columns: 16 products 2^14 · 2^6 = 2^20 and one 1 · 1 in run 0, one 1 · 1 in run 1.
    // One exact sum of the whole group would be 2^24 + 2, a float32; by runs it is fround(fround(2^24 + 1) + 1) = 2^24.
    const k = 257;
    const xq = new Int16Array(k);
    const values = new Int8Array(k);
    for (let i = 0; i < 16; i++) [xq[i], values[i]] = [2 ** 14, 2 ** 6];
    [xq[100], values[100], xq[256], values[256]] = [1, 1, 1, 1];
    const out = new Float32Array(1);
    referenceLinearW8A16({ xq, xScales: new Float32Array([1]), m: 1, weight: { n: 1, k, values, scales: new Float32Array([1]), groupSize: k }, bias: null, out });
    expect(out[0]).toBe(2 ** 24);
  });
  it('equals referenceLinearW8A8 when every group has at most 256 columns and x fits int8', () => {
    const k = 512;
    const xq8 = new Int8Array(k).map((_, i) => ((i * 29) % 256) - 128);
    const values = new Int8Array(2 * k).map((_, i) => ((i * 53) % 255) - 127);
    const weight = { n: 2, k, values, scales: new Float32Array([0.5, 0.25, 0.125, 2]), groupSize: 256 };
    const a = new Float32Array(2);
    const b = new Float32Array(2);
    referenceLinearW8A8({ xq: xq8, xScales: new Float32Array([0.01]), m: 1, weight, bias: null, out: a });
    referenceLinearW8A16({ xq: Int16Array.from(xq8), xScales: new Float32Array([0.01]), m: 1, weight, bias: null, out: b });
    expect(Array.from(b)).toEqual(Array.from(a));
  });
});

describe('referenceLinearW8A8', () => {
  it('a hand-computed case: acc = 127·-128 + -128·-128 + 5·3 = 143; y = 143 · (0.5 · 0.25) + 1', () => {
    const out = new Float32Array(1);
    referenceLinearW8A8({
      xq: new Int8Array([127, -128, 5]),
      xScales: new Float32Array([0.5]),
      m: 1,
      weight: { n: 1, k: 3, values: new Int8Array([-128, -128, 3]), scales: new Float32Array([0.25]), groupSize: 3 },
      bias: new Float32Array([1]),
      out,
    });
    expect(out[0]).toBe(18.875);
  });
  it('per group the float32 total adds each group in order: 1e8 + 1 + -1e8 loses the 1 as float32 does', () => {
    const out = new Float32Array(1);
    // three groups of one: acc 100, 1, -100 with scales 1e6, 1, 1e6 -> 1e8, 1, -1e8
    referenceLinearW8A8({
      xq: new Int8Array([100, 1, -100]),
      xScales: new Float32Array([1]),
      m: 1,
      weight: { n: 1, k: 3, values: new Int8Array([1, 1, 1]), scales: new Float32Array([1e6, 1, 1e6]), groupSize: 1 },
      bias: null,
      out,
    });
    expect(out[0]).toBe(0); // fround(1e8 + 1) = 1e8 (float32 spacing at 1e8 is 8)
  });
});

describe('QuantizedLinear with the fast backends', () => {
  const gen = new Generator(7);
  const linear = new Linear(256, 96, { generator: gen });
  const x = new Tensor(uniform_(Tensor.zeros([3, 256], 'float32'), -1, 1, gen).data, [3, 256]);

  it("activations: 'int8' runs W8A8 (bit-exact across backends) and shows in toString only then", async () => {
    const wasm = await createWasmBackend();
    const q8 = QuantizedLinear.fromLinear(linear, { granularity: 'group', groupSize: 64, activations: 'int8' });
    expect(String(q8)).toContain(', activations=int8, backend=reference');
    expect(String(QuantizedLinear.fromLinear(linear))).not.toContain('activations');
    const onRef = q8.forward(x).data.slice();
    const onWasm = q8.to(wasm).forward(x).data;
    expect(Array.from(onWasm)).toEqual(Array.from(onRef));
    const { xq, xScales } = quantizeActivations(x.data as Float32Array, 3, 256);
    const expected = new Float32Array(3 * 96);
    referenceLinearW8A8({ xq, xScales, m: 3, weight: layerKernelWeight(q8), bias: q8.bias!.data, out: expected });
    expect(Array.from(onWasm)).toEqual(Array.from(expected));
    wasm.dispose();
  });

  it("activations: 'int16' runs W8A16, bit-exact with referenceLinearW8A16 on wasm, and shows in toString", async () => {
    const wasm = await createWasmBackend();
    const q16 = QuantizedLinear.fromLinear(linear, { granularity: 'group', groupSize: 64, activations: 'int16' });
    expect(String(q16)).toContain(', activations=int16, backend=reference');
    const onRef = q16.forward(x).data.slice();
    const onWasm = q16.to(wasm).forward(x).data;
    const { xq, xScales } = quantizeActivationsInt16(x.data as Float32Array, 3, 256);
    const expected = new Float32Array(3 * 96);
    referenceLinearW8A16({ xq, xScales, m: 3, weight: layerKernelWeight(q16), bias: q16.bias!.data, out: expected });
    expect(Array.from(onRef)).toEqual(Array.from(expected));
    expect(Array.from(onWasm)).toEqual(Array.from(expected));
    wasm.dispose();
  });

  it("W8A16 on a backend without linearW8A16 is a BackendError that says what to do", () => {
    const { linearW8A16: _, ...noW8A16 } = createReferenceBackend();
    expect(() => QuantizedLinear.fromLinear(linear, { activations: 'int16' }).to(noW8A16)).toThrow(/no W8A16 kernel \(linearW8A16\).*activations='int16'.*activations: 'float32'/);
  });

  it("W8A8 on a backend without linearW8A8 is a BackendError that says what to do", () => {
    const { linearW8A8: _, ...noW8A8 } = createReferenceBackend();
    const q8 = QuantizedLinear.fromLinear(linear, { activations: 'int8' });
    expect(() => q8.to(noW8A8)).toThrow(/no W8A8 kernel.*activations: 'float32'/);
    expect(() => new QuantizedLinear(4, 4, { activations: 'int4' as never })).toThrow(QuantizationError);
  });

  it('re-packing a layer (loadStateDict) frees the old packed copy: wasm memory does not grow', async () => {
    const wasm = await createWasmBackend();
    const layer = QuantizedLinear.fromLinear(new Linear(1024, 512, { generator: gen })).to(wasm);
    const input = new Tensor(new Float32Array(1024).fill(0.5), [1, 1024]);
    layer.forward(input);
    const allocated = wasm.allocatedBytes;
    const memoryBytes = wasm.memoryBytes;
    expect(allocated).toBeGreaterThanOrEqual(512 * 1024); // the int8 weights, 1 byte each
    expect(allocated).toBeLessThan(512 * 1024 * 1.1); // and no float copy
    for (let i = 0; i < 20; i++) {
      layer.loadStateDict(layer.stateDict());
      layer.forward(input);
    }
    expect(wasm.allocatedBytes).toBe(allocated);
    expect(wasm.memoryBytes).toBe(memoryBytes);
    wasm.dispose();
    expect(() => layer.forward(input)).toThrow(/after dispose/);
  });

  it('the JS fallback gives the same W8A32 numbers before and after re-packing', () => {
    const js = createJsBackend();
    const layer = QuantizedLinear.fromLinear(linear).to(js);
    const before = layer.forward(x).data.slice();
    layer.loadStateDict(layer.stateDict());
    expect(Array.from(layer.forward(x).data)).toEqual(Array.from(before));
  });
});

describe('where the wasm backend cannot run', () => {
  afterEach(() => vi.restoreAllMocks());

  it('without wasm SIMD: createWasmBackend rejects with a BackendError and availableBackends falls back to JS', async () => {
    vi.spyOn(WebAssembly, 'validate').mockReturnValue(false);
    expect(wasmSimdSupported()).toBe(false);
    await expect(createWasmBackend()).rejects.toThrow(BackendError);
    await expect(createWasmBackend()).rejects.toThrow(/createJsBackend/);
    expect((await availableBackends()).map((b) => b.name)).toEqual(['js-packed', 'reference']);
  });

  it('K beyond the exact int32 range of W8A8 (128·128·K >= 2^31): supports() is false and .to() says why', async () => {
    const wasm = await createWasmBackend();
    const k = WASM_MAX_K + 1;
    expect(128 * 128 * k).toBeGreaterThanOrEqual(2 ** 31);
    expect(128 * 128 * WASM_MAX_K).toBeLessThan(2 ** 31);
    const layer = new QuantizedLinear(k, 1);
    expect(wasm.supports(layerKernelWeight(layer))).toBe(false);
    expect(() => layer.to(wasm)).toThrow(/cannot run a 1x131072 channel layer/);
    wasm.dispose();
  });
});
