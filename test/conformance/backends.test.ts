import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableBackends } from '../../src/kernels/available.js';
import { createJsBackend } from '../../src/kernels/js-packed.js';
import { referenceLinear, referenceLinearW8A16, referenceLinearW8A8 } from '../../src/kernels/reference.js';
import type { Backend, KernelWeight } from '../../src/kernels/types.js';
import { createWasmBackend, relaxedSimdSupported, wasmSimdSupported } from '../../src/kernels/wasm/backend.js';
import { createThreadedWasmBackend } from '../../src/kernels/wasm/node-threads.js';
import { quantizeActivations, quantizeActivationsInt16 } from '../../src/quant/activations.js';
import { CONFORMANCE_CASES, caseData, caseLabel } from './shapes.js';
import { expectBitExact, expectWithin, float32AccumulationLimit } from './tolerance.js';

/**
 * Backends tested beyond those `availableBackends()` returns here. To put a new backend under the
 * same table (e.g. gpu.js), add its factory: it is created once and runs every case.
 * The JS fallback is listed so it is tested even where availableBackends() prefers wasm.
 */
export const EXTRA_BACKEND_FACTORIES: readonly (() => Backend | Promise<Backend>)[] = [
  createJsBackend,
  // Node-only (int8-linear/node); threaded on every call, however small, so the split is what runs.
  () => createThreadedWasmBackend({ threads: 2, minThreadedMacs: 0 }),
];

/**
 * Where the runtime has relaxed SIMD (Node >= 22), the wasm backends run the relaxed build by default:
 * the plain SIMD128 build (what Node 20 runs) is then put under the same table too, so CI's run under
 * Node 24 covers both kernels.
 */
const PLAIN_FACTORIES: readonly (readonly [string, () => Promise<Backend>])[] = relaxedSimdSupported()
  ? [
      ['wasm-simd plain', () => createWasmBackend({ relaxed: false })],
      ['wasm-simd-threads plain', () => createThreadedWasmBackend({ threads: 2, minThreadedMacs: 0, relaxed: false })],
    ]
  : [];

/** Every backend under test, by label: its name, or for the plain builds '<name> plain'. */
const KERNELS = ['wasm-simd', 'wasm-simd-threads', 'js-packed', 'reference', ...PLAIN_FACTORIES.map(([label]) => label)];
const FAST_KERNELS = KERNELS.filter((label) => label !== 'reference');

const backends = new Map<string, Backend>();

beforeAll(async () => {
  for (const b of [...(await availableBackends()), ...(await Promise.all(EXTRA_BACKEND_FACTORIES.map((f) => f())))]) {
    if (backends.has(b.name)) b.dispose();
    else backends.set(b.name, b);
  }
  for (const [label, create] of PLAIN_FACTORIES) backends.set(label, await create());
});
afterAll(() => backends.forEach((b) => b.dispose()));

function backendOf(label: string): Backend {
  const b = backends.get(label);
  if (b === undefined) throw new Error(`backend ${label} was not created`);
  return b;
}

describe('the kernel builds under test', () => {
  it('the wasm backends run relaxed SIMD exactly where the runtime has it, and the plain build is tested beside it', () => {
    const relaxed = relaxedSimdSupported();
    expect(backendOf('wasm-simd').mode).toBe(relaxed ? 'wasm-simd128-relaxed' : 'wasm-simd128');
    expect(backendOf('wasm-simd-threads').mode).toBe(relaxed ? 'wasm-simd128-relaxed-threads2' : 'wasm-simd128-threads2');
    if (relaxed) expect([backendOf('wasm-simd plain').mode, backendOf('wasm-simd-threads plain').mode]).toEqual(['wasm-simd128', 'wasm-simd128-threads2']);
  });
});

describe('availableBackends', () => {
  it('lists wasm-simd where WebAssembly SIMD exists, then the JS fallback, then the reference', async () => {
    const names = (await availableBackends()).map((b) => b.name);
    expect(names).toEqual(wasmSimdSupported() ? ['wasm-simd', 'js-packed', 'reference'] : ['js-packed', 'reference']);
  });
  it('Node 20 has wasm SIMD, so the wasm backend is really under test here', () => {
    expect(wasmSimdSupported()).toBe(true);
  });
});

function run(backend: Backend, x: Float32Array, m: number, weight: KernelWeight, bias: Float32Array | null): Float32Array {
  const out = new Float32Array(m * weight.n).fill(Number.NaN); // every element must be written
  backend.linear({ x, m, weight, bias, out });
  return out;
}

describe.each(KERNELS)('%s against the reference kernel', (name) => {
  const backend = () => backendOf(name);

  it.each(CONFORMANCE_CASES.map((c) => [caseLabel(c), c] as const))('W8A32 %s: within FLOAT32_ACCUMULATION', (label, c) => {
    const { weight, x, bias } = caseData(c);
    for (const b of [bias, null]) {
      const expected = new Float32Array(c.m * c.n);
      referenceLinear({ x, m: c.m, weight, bias: b, out: expected });
      expectWithin(`${name} ${label} bias=${b !== null}`, run(backend(), x, c.m, weight, b), expected, float32AccumulationLimit(x, weight, b));
    }
  });

  it.each(CONFORMANCE_CASES.map((c) => [caseLabel(c), c] as const))('W8A8 %s: bit-exact with referenceLinearW8A8', (label, c) => {
    const { weight, x, bias } = caseData(c);
    const { xq, xScales } = quantizeActivations(x, c.m, c.k);
    for (const b of [bias, null]) {
      const expected = new Float32Array(c.m * c.n);
      referenceLinearW8A8({ xq, xScales, m: c.m, weight, bias: b, out: expected });
      const out = new Float32Array(c.m * c.n).fill(Number.NaN);
      backend().linearW8A8!({ xq, xScales, m: c.m, weight, bias: b, out });
      expectBitExact(`${name} W8A8 ${label} bias=${b !== null}`, out, expected);
    }
  });

  it.each(CONFORMANCE_CASES.map((c) => [caseLabel(c), c] as const))('W8A16 %s: bit-exact with referenceLinearW8A16', (label, c) => {
    const { weight, x, bias } = caseData(c);
    const { xq, xScales } = quantizeActivationsInt16(x, c.m, c.k);
    for (const b of [bias, null]) {
      const expected = new Float32Array(c.m * c.n);
      referenceLinearW8A16({ xq, xScales, m: c.m, weight, bias: b, out: expected });
      const out = new Float32Array(c.m * c.n).fill(Number.NaN);
      backend().linearW8A16!({ xq, xScales, m: c.m, weight, bias: b, out });
      expectBitExact(`${name} W8A16 ${label} bias=${b !== null}`, out, expected);
    }
  });
});

describe('W8A8 integer sums do not saturate', () => {
  // -128 · -128 = 2^14 per product: i16 pair sums (2^15) overflow int16, which is what breaks
  // onnxruntime's AVX2 u8·s8 kernel with full-range weights; our sums are int32.
  const k = 4096;
  const n = 5;
  const weight: KernelWeight = { n, k, values: new Int8Array(n * k).fill(-128), scales: new Float32Array(n).fill(1), groupSize: k };
  const xq = new Int8Array(k).fill(-128);

  it.each(KERNELS)('%s: 4096 products of -128 · -128 sum to exactly 2^26', (name) => {
    const out = new Float32Array(n);
    backendOf(name).linearW8A8!({ xq, xScales: new Float32Array([1]), m: 1, weight, bias: null, out });
    expect(Array.from(out)).toEqual(new Array(n).fill(2 ** 26));
  });

  it.each(FAST_KERNELS)('%s: alternating extremes (127·-128 and -128·-128) give the exact sum', (name) => {
    const alt = new Int8Array(k).map((_, i) => (i % 2 === 0 ? 127 : -128));
    const w: KernelWeight = { ...weight, values: new Int8Array(n * k).fill(-128) };
    // per pair: 127·-128 + -128·-128 = 128; 2048 pairs: 262144
    const out = new Float32Array(n);
    backendOf(name).linearW8A8!({ xq: alt, xScales: new Float32Array([0.5]), m: 1, weight: w, bias: null, out });
    expect(Array.from(out)).toEqual(new Array(n).fill(131072));
  });
});

describe('W8A16 integer sums are exact: int32 runs of W8A16_RUN = 256 columns', () => {
  // -32768 · -128 = 2^22 per product: 4096 of them are 2^34, past int32; runs of 256 are 2^30 each.
  const n = 5;
  it.each(KERNELS)('%s: 4096 products of -32768 · -128 sum to exactly 2^34 (16 runs of 2^30), per channel and per group of 4096 / 1000-column groups', (name) => {
    for (const [k, groupSize] of [[4096, 4096], [3000, 1000]] as const) {
      const weight: KernelWeight = { n, k, values: new Int8Array(n * k).fill(-128), scales: new Float32Array(n * (k / groupSize)).fill(1), groupSize };
      const out = new Float32Array(n);
      backendOf(name).linearW8A16!({ xq: new Int16Array(k).fill(-32768), xScales: new Float32Array([1]), m: 1, weight, bias: null, out });
      expect(Array.from(out)).toEqual(new Array(n).fill(k * 2 ** 22));
    }
  });
  it.each(KERNELS)('%s: M = 5 (the four-row kernel and one more row), extremes alternating in sign', (name) => {
    const k = 1024;
    const m = 5;
    const values = new Int8Array(n * k).map((_, i) => (i % 3 === 0 ? 127 : -128));
    const weight: KernelWeight = { n, k, values, scales: new Float32Array(n).fill(0.25), groupSize: k };
    const xq = new Int16Array(m * k).map((_, i) => (i % 2 === 0 ? 32767 : -32768));
    const xScales = new Float32Array(m).fill(2 ** -10);
    const expected = new Float32Array(m * n);
    referenceLinearW8A16({ xq, xScales, m, weight, bias: null, out: expected });
    const out = new Float32Array(m * n).fill(Number.NaN);
    backendOf(name).linearW8A16!({ xq, xScales, m, weight, bias: null, out });
    expectBitExact(`${name} W8A16 extremes`, out, expected);
  });
});

describe('W8A32 handles the shapes kernels get wrong', () => {
  it.each(FAST_KERNELS)('%s: K = 13 (not a multiple of 4 or 16), M = 1, N = 7 (not a multiple of 4), exact small integers', (name) => {
    const k = 13;
    const n = 7;
    const values = new Int8Array(n * k).map((_, i) => ((i * 37) % 256) - 128);
    const weight: KernelWeight = { n, k, values, scales: new Float32Array(n).fill(0.5), groupSize: k };
    const x = new Float32Array(k).map((_, i) => i - 6);
    const bias = new Float32Array(n).map((_, o) => o);
    // Every term is a small integer times 0.5: float32 sums are exact, so the result is exact.
    const expected = new Float32Array(n);
    for (let o = 0; o < n; o++) {
      let s = 0;
      for (let i = 0; i < k; i++) s += x[i] * values[o * k + i];
      expected[o] = s * 0.5 + o;
    }
    expectBitExact(name, run(backendOf(name), x, 1, weight, bias), expected);
  });
});
