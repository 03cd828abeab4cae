import { layerKernelWeight } from '../../src/nn/quantized-linear.js';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendError, Generator, Linear, QuantizedLinear, Tensor, uniform_ } from '../../src/index.js';
import { availableBackends as mainBackends } from '../../src/kernels/available.js';
import { referenceLinear } from '../../src/kernels/reference.js';
import type { KernelWeight } from '../../src/kernels/types.js';
import { availableBackends, createGpuBackend, isSoftwareRenderer, M_BUCKETS, type GpuBackend } from '../../src/gpu/index.js';
import { packInt8Rows } from '../../src/gpu/pack.js';
import { headlessglUnavailable } from './registry.js';
import { caseData, caseLabel, type ShapeCase } from './shapes.js';
import { expectWithin, float32AccumulationLimit } from './tolerance.js';

/**
 * What is particular to the gpu.js backend, in every gpu.js mode Node has. The conformance table
 * itself runs it like every registered backend (backends.test.ts, variants gpujs/webasm, gpujs/cpu,
 * gpujs/headlessgl); here: K past gpu.js's loop limit, M past the largest bucket, the packed words,
 * buckets, device memory and lifetime.
 */

/** Beyond the table: K past gpu.js's default loopMaxIterations (1000), and M past the largest bucket. */
const EXTRA_CASES: readonly ShapeCase[] = [
  { m: 3, k: 1001, n: 5, scheme: { granularity: 'channel', range: 'full' } },
  { m: 2, k: 1001, n: 7, scheme: { granularity: 'group', groupSize: 7, range: 'restricted' } },
  { m: M_BUCKETS[M_BUCKETS.length - 1] + 5, k: 64, n: 5, scheme: { granularity: 'group', groupSize: 16, range: 'full' } },
];

function runCase(backend: GpuBackend, c: ShapeCase): void {
  const { weight, x, bias } = caseData(c);
  for (const b of [bias, null]) {
    const expected = new Float32Array(c.m * c.n);
    referenceLinear({ x, m: c.m, weight, bias: b, out: expected });
    const out = new Float32Array(c.m * c.n).fill(Number.NaN); // every element must be written
    backend.linear({ x, m: c.m, weight, bias: b, out });
    expectWithin(`gpujs/${backend.mode} ${caseLabel(c)} bias=${b !== null}`, out, expected, float32AccumulationLimit(x, weight, b));
  }
  backend.release(weight);
}

const skipGl = headlessglUnavailable();

const MODES = [
  { mode: 'webasm', skip: null },
  { mode: 'cpu', skip: null },
  { mode: 'headlessgl', skip: skipGl },
] as const;

describe.each(MODES)('gpujs in mode $mode', ({ mode, skip }) => {
  let backend: GpuBackend;
  beforeAll(async () => {
    if (skip === null) backend = await createGpuBackend({ mode });
  });
  afterAll(() => backend?.dispose());

  it.skipIf(skip !== null)(`runs in mode ${mode}${skip === null ? '' : ` (skipped: ${skip})`}`, () => {
    expect(backend.name).toBe('gpujs');
    if (mode === 'headlessgl') {
      // Under xvfb headless-gl runs on Mesa's llvmpipe: the renderer says so and the mode is marked.
      expect(backend.renderer).not.toBeNull();
      const software = isSoftwareRenderer({ renderer: backend.renderer, isFallbackAdapter: false });
      expect([backend.mode, backend.softwareEmulated]).toEqual([software ? 'headlessgl-software' : 'headlessgl', software]);
    } else {
      // gpu.js's own CPU modes: no device, always emulated.
      expect([backend.mode, backend.softwareEmulated, backend.renderer]).toEqual([mode, true, null]);
    }
  });

  it.skipIf(skip !== null)('K = 1001 (above loopMaxIterations) and M above the largest bucket', () => {
    for (const c of EXTRA_CASES) runCase(backend, c);
  });
});

describe('packed int8 weights on the device', () => {
  let backend: GpuBackend;
  beforeAll(async () => {
    backend = await createGpuBackend({ mode: 'webasm' });
  });
  afterAll(() => backend.dispose());

  it('three int8 per float32: every word is an integer below 2^24 that decodes to its three weights', () => {
    // Every int8 value in every lane, with n = 256 * 3 - 1 rows so the last word is padded.
    const n = 256 * 3 - 1;
    const values = new Int8Array(n * 2);
    for (let i = 0; i < values.length; i++) values[i] = ((i * 37) % 256) - 128;
    const words = packInt8Rows({ n, k: 2, values });
    expect(words.length).toBe(256 * 2);
    for (let a = 0; a < 256; a++) {
      for (let i = 0; i < 2; i++) {
        const w = words[a * 2 + i];
        if (!(Number.isInteger(w) && w >= 0 && w < 2 ** 24)) throw new Error(`word ${a},${i} = ${w} is not an integer in [0, 2^24)`);
        for (let lane = 0; lane < 3; lane++) {
          const o = a * 3 + lane;
          const got = (Math.floor(w / 256 ** lane) % 256) - 128;
          const want = o < n ? values[o * 2 + i] : 0;
          if (got !== want) throw new Error(`row ${o} col ${i}: lane ${lane} of word ${w} decodes to ${got}, expected ${want}`);
        }
      }
    }
  });

  it('compiles one kernel per M bucket, not per batch size', () => {
    const c = { m: 40, k: 64, n: 5, scheme: { granularity: 'channel', range: 'full' } } as const;
    const { weight, x, bias } = caseData(c);
    const before = backend.stats().kernelsCompiled;
    for (let m = 1; m <= c.m; m++) {
      const out = new Float32Array(m * c.n);
      backend.linear({ x: x.subarray(0, m * c.k), m, weight, bias, out });
      const expected = new Float32Array(m * c.n);
      referenceLinear({ x, m, weight, bias, out: expected });
      expectWithin(`m=${m}`, out, expected, float32AccumulationLimit(x, weight, bias));
    }
    // On the CPU (webasm) rows are split exactly into buckets: 1..40 rows use the buckets 1 and 16 only.
    expect(backend.stats().kernelsCompiled - before).toBe(2);
    backend.release(weight);
  });
});

describe('device memory', () => {
  // Modes skipped here are listed (with the reason) by the conformance describe above.
  it.each(MODES.filter((m) => m.skip === null))('$mode: under 2 bytes per weight, measured from what gpu.js allocated, uploaded once per layer', async ({ mode }) => {
    const backend = await createGpuBackend({ mode });
    const cases = [
      { m: 1, k: 4096, n: 64, scheme: { granularity: 'channel', range: 'full' } },
      { m: 1, k: 4096, n: 64, scheme: { granularity: 'group', groupSize: 128, range: 'full' } },
    ] as const;
    for (const c of cases) {
      const { weight, x, bias } = caseData(c);
      const out = new Float32Array(c.n);
      const before = backend.stats();
      for (let call = 0; call < 5; call++) backend.linear({ x, m: 1, weight, bias, out });
      const { gpuBytes, layers, ...after } = backend.stats();
      const kernelsCompiled = after.kernelsCompiled - before.kernelsCompiled;
      const weightsUploaded = after.weightsUploaded - before.weightsUploaded;
      const perWeight = gpuBytes / (c.n * c.k);
      console.log(`[gpu.test] ${caseLabel(c)}: ${gpuBytes} device bytes = ${perWeight.toFixed(4)} bytes/weight (${mode})`);
      expect(layers).toBe(1);
      expect(kernelsCompiled).toBe(1);
      expect(weightsUploaded).toBe(c.n * c.k);
      // Packed words alone are 4/3 bytes per weight; scales add 4 bytes per group.
      expect(perWeight).toBeGreaterThanOrEqual(4 / 3);
      expect(perWeight).toBeLessThan(2);
      backend.release(weight);
      expect(backend.stats().gpuBytes).toBe(0);
    }
    backend.dispose();
  });

});

describe('entry point, modes and lifetime', () => {
  it('reports the mode it really runs in, and rejects unknown modes with a BackendError', async () => {
    const b = await createGpuBackend({ mode: 'cpu' });
    expect(b.mode).toBe('cpu');
    b.dispose();
    await expect(createGpuBackend({ mode: 'cuda' as 'cpu' })).rejects.toThrow(BackendError);
    await expect(createGpuBackend({ mode: 'cuda' as 'cpu' })).rejects.toThrow(/'cuda' is not one of/);
  });

  it("refuses 'webgpu' where no adapter answers (Node), saying what to use instead", async () => {
    await expect(createGpuBackend({ mode: 'webgpu' })).rejects.toThrow(/no WebGPU adapter.*use mode 'webgl2'/);
  });

  it('int8-linear/gpu lists the CPU backends plus gpujs in its real mode; the main entry has no gpujs', async () => {
    const all = await availableBackends();
    const main = await mainBackends();
    const cpu = main.map((b) => b.name);
    const gpu = all.find((b): b is GpuBackend => b.name === 'gpujs');
    expect(gpu?.mode).toMatch(skipGl === null ? /^headlessgl(-software)?$/ : /^webasm$/);
    expect(all.map((b) => b.name)).toEqual(
      // On a real GPU (headlessgl on hardware) gpujs goes first; emulated (webasm, or headlessgl on llvmpipe
      // under xvfb) it goes after the CPU kernels, before the reference.
      gpu?.softwareEmulated === false ? ['gpujs', ...cpu] : [...cpu.slice(0, -1), 'gpujs', 'reference'],
    );
    expect(main.some((b) => b.name === 'gpujs')).toBe(false);
    for (const b of [...all, ...main]) b.dispose();
  });

  it('runs a QuantizedLinear through .to(backend) with any leading dims', async () => {
    const gpu = await createGpuBackend({ mode: 'webasm' });
    const generator = new Generator(7);
    const layer = QuantizedLinear.fromLinear(new Linear(64, 5, { generator }), { granularity: 'group', groupSize: 16 });
    const x = uniform_(Tensor.zeros([2, 3, 64], 'float32'), -1, 1, generator);
    const expected = layer.forward(x);
    const y = layer.to(gpu).forward(x);
    expect(y.shape).toEqual([2, 3, 5]);
    expectWithin('QuantizedLinear on gpujs', y.data, expected.data, float32AccumulationLimit(x.data, layerKernelWeight(layer), layer.bias!.data));
    // forwardAsync (the path webgpu needs) goes through linearAsync and gives the same numbers
    const viaAsync = await layer.forwardAsync(x);
    expect(viaAsync.shape).toEqual([2, 3, 5]);
    expect(Array.from(viaAsync.data)).toEqual(Array.from(y.data));
    gpu.dispose();
  });

  it('supports() takes only layers whose kernel indices stay below 2^24, where float32 is exact', async () => {
    const gpu = await createGpuBackend({ mode: 'cpu' });
    const w = (n: number, k: number, groupSize = k): KernelWeight => ({ n, k, groupSize, values: new Int8Array(0), scales: new Float32Array(0) });
    expect(gpu.supports(w(11008, 4096))).toBe(true); // 3670 · 4096 = 15.0 M packed words
    expect(gpu.supports(w(4096, 11008))).toBe(true);
    expect(gpu.supports(w(32000, 4096))).toBe(false); // 10667 · 4096 = 43.7 M words
    expect(gpu.supports(w(4096, 8192, 1))).toBe(false); // 33.6 M scales
    expect(gpu.supports(w(64, 2 ** 16 + 1))).toBe(false); // 256 rows of x: 16.8 M > 2^24
    expect(gpu.supports(w(2 ** 16 + 1, 1))).toBe(false); // 256 rows of output
    gpu.dispose();
  });

  it('frees the kernels of a layer whose weight object was garbage-collected', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const gpu = await createGpuBackend({ mode: 'webasm' });
    // The weight exists only inside this call, as after loadStateDict replaces a layer's weight.
    const runOnce = () => {
      const weight: KernelWeight = { n: 4, k: 8, values: new Int8Array(32).fill(1), scales: new Float32Array(4).fill(1), groupSize: 8 };
      gpu.linear({ x: new Float32Array(8).fill(1), m: 1, weight, bias: null, out: new Float32Array(4) });
    };
    runOnce();
    expect(gpu.stats().layers).toBe(1);
    for (let i = 0; i < 100 && gpu.stats().layers > 0; i++) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(gpu.stats()).toMatchObject({ layers: 0, gpuBytes: 0 });
    gpu.dispose();
  });

  it('dispose() frees every layer and later calls throw a BackendError', async () => {
    const gpu = await createGpuBackend({ mode: 'webasm' });
    const weight: KernelWeight = { n: 2, k: 3, values: Int8Array.of(1, 2, 3, -4, -5, -6), scales: Float32Array.of(0.5, 0.25), groupSize: 3 };
    const out = new Float32Array(2);
    gpu.linear({ x: Float32Array.of(1, 1, 1), m: 1, weight, bias: null, out });
    expect(Array.from(out)).toEqual([3, -3.75]);
    expect(gpu.stats().layers).toBe(1);
    gpu.dispose();
    expect(gpu.stats()).toMatchObject({ layers: 0, gpuBytes: 0 });
    expect(() => gpu.linear({ x: Float32Array.of(1, 1, 1), m: 1, weight, bias: null, out })).toThrow(/disposed/);
  });
});
