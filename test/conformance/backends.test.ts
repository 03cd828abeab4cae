import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableBackends } from '../../src/kernels/available.js';
import { createJsBackend } from '../../src/kernels/js-packed.js';
import { referenceLinear, referenceLinearW8A8 } from '../../src/kernels/reference.js';
import type { Backend, KernelWeight } from '../../src/kernels/types.js';
import { wasmSimdSupported } from '../../src/kernels/wasm/backend.js';
import { createThreadedWasmBackend } from '../../src/kernels/wasm/node-threads.js';
import { quantizeActivations } from '../../src/quant/activations.js';
import { runLinearW8A8 } from '../../src/kernels/dispatch.js';
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

const backends: Backend[] = [];

beforeAll(async () => {
  for (const b of [...(await availableBackends()), ...(await Promise.all(EXTRA_BACKEND_FACTORIES.map((f) => f())))]) {
    if (backends.some((have) => have.name === b.name)) b.dispose();
    else backends.push(b);
  }
});
afterAll(() => backends.forEach((b) => b.dispose()));

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

describe.each(['wasm-simd', 'wasm-simd-threads', 'js-packed', 'reference'])('%s against the reference kernel', (name) => {
  const backend = () => {
    const b = backends.find((have) => have.name === name);
    if (b === undefined) throw new Error(`backend ${name} was not created`);
    return b;
  };

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
      runLinearW8A8(backend(), { xq, xScales, m: c.m, weight, bias: b, out });
      expectBitExact(`${name} W8A8 ${label} bias=${b !== null}`, out, expected);
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

  it.each(['wasm-simd', 'wasm-simd-threads', 'js-packed', 'reference'])('%s: 4096 products of -128 · -128 sum to exactly 2^26', (name) => {
    const out = new Float32Array(n);
    runLinearW8A8(backends.find((b) => b.name === name)!, { xq, xScales: new Float32Array([1]), m: 1, weight, bias: null, out });
    expect(Array.from(out)).toEqual(new Array(n).fill(2 ** 26));
  });

  it.each(['wasm-simd', 'wasm-simd-threads', 'js-packed'])('%s: alternating extremes (127·-128 and -128·-128) give the exact sum', (name) => {
    const alt = new Int8Array(k).map((_, i) => (i % 2 === 0 ? 127 : -128));
    const w: KernelWeight = { ...weight, values: new Int8Array(n * k).fill(-128) };
    // per pair: 127·-128 + -128·-128 = 128; 2048 pairs: 262144
    const out = new Float32Array(n);
    runLinearW8A8(backends.find((b) => b.name === name)!, { xq: alt, xScales: new Float32Array([0.5]), m: 1, weight: w, bias: null, out });
    expect(Array.from(out)).toEqual(new Array(n).fill(131072));
  });
});

describe('W8A32 handles the shapes kernels get wrong', () => {
  it.each(['wasm-simd', 'wasm-simd-threads', 'js-packed'])('%s: K = 13 (not a multiple of 4 or 16), M = 1, N = 7 (not a multiple of 4), exact small integers', (name) => {
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
    expectBitExact(name, run(backends.find((b) => b.name === name)!, x, 1, weight, bias), expected);
  });
});
