import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableBackends } from '../../src/kernels/available.js';
import { BackendError } from '../../src/errors.js';
import { hasW8A16, hasW8A8, isAsyncBackend, releaseWeight, runLinearAsync, runLinearW8A16, runLinearW8A16Async, runLinearW8A8, runLinearW8A8Async } from '../../src/kernels/dispatch.js';
import { referenceLinear, referenceLinearW8A16, referenceLinearW8A8 } from '../../src/kernels/reference.js';
import type { Backend, KernelWeight } from '../../src/kernels/types.js';
import { WASM_MAX_K, wasmSimdSupported } from '../../src/kernels/wasm/backend.js';
import { quantizeActivations, quantizeActivationsInt16 } from '../../src/quant/activations.js';
import { Generator } from '../../src/random.js';
import { VARIANTS, type RegisteredVariant } from './registry.js';
import { CONFORMANCE_CASES, caseData, caseLabel } from './shapes.js';
import { expectBitExact, expectWithin, float32AccumulationLimit } from './tolerance.js';

/**
 * Every registered backend (every variant of every factory of the three entries' registries, see
 * registry.ts) against the reference kernel on the shared shape table, through both the synchronous
 * `linear` and the asynchronous path (`runLinearAsync`: `linearAsync` where the backend has one; W8A8
 * and W8A16 through `runLinearW8A8Async` / `runLinearW8A16Async`, synchronous where the backend is).
 *
 * Tolerances, named:
 * - W8A32, FLOAT32_ACCUMULATION (`float32AccumulationLimit`): a rigorous bound for any summation
 *   order in float32; backends whose factory says `accumulation: 'float64'` sum in double and are well
 *   inside it; the same bound for both keeps one rule (the reference is the spec, not a kernel to match
 *   bit for bit).
 * - W8A8, BIT_EXACT: every `W8A8Backend` reproduces referenceLinearW8A8's float32 formula exactly.
 */

/** `linear`'s output, or null on a backend that answers only asynchronously (gpu.js on webgpu: a BackendError). */
function runSync(backend: Backend, x: Float32Array, m: number, weight: KernelWeight, bias: Float32Array | null): Float32Array | null {
  const out = new Float32Array(m * weight.n).fill(Number.NaN); // every element must be written
  try {
    backend.linear({ x, m, weight, bias, out });
  } catch (e) {
    if (isAsyncBackend(backend) && e instanceof BackendError) return null;
    throw e;
  }
  return out;
}

async function runAsync(backend: Backend, x: Float32Array, m: number, weight: KernelWeight, bias: Float32Array | null): Promise<Float32Array> {
  const out = new Float32Array(m * weight.n).fill(Number.NaN);
  await runLinearAsync(backend, { x, m, weight, bias, out });
  return out;
}

describe('availableBackends', () => {
  it('lists wasm-simd where WebAssembly SIMD exists, then the JS fallback, then the reference', async () => {
    const backends = await availableBackends();
    expect(backends.map((b) => b.name)).toEqual(wasmSimdSupported() ? ['wasm-simd', 'js-packed', 'reference'] : ['js-packed', 'reference']);
    for (const b of backends) b.dispose();
  });
  it('Node 20 has wasm SIMD, so the wasm backend is really under test here', () => {
    expect(wasmSimdSupported()).toBe(true);
  });
  it('the registries hold every backend this package has, each variant under test below', () => {
    expect(VARIANTS.map((v) => v.label)).toEqual(
      expect.arrayContaining(['wasm-simd-threads', 'wasm-simd', 'js-packed', 'reference', 'gpujs/webasm', 'gpujs/cpu', 'gpujs/headlessgl']),
    );
  });
});

describe.each(VARIANTS.map((v) => [v.label, v] as const))('%s against the reference kernel', (label, variant: RegisteredVariant) => {
  const skip = variant.unavailable();
  if (skip !== null) console.log(`[conformance] ${label} skipped: ${skip}`);
  let backend: Backend;
  beforeAll(async () => {
    if (skip === null) backend = await variant.create();
  });
  afterAll(() => backend?.dispose());

  it.skipIf(skip !== null)(`creates a '${variant.factory.name}' backend`, () => {
    expect(backend.name).toBe(variant.factory.name);
  });

  it.skipIf(skip !== null).each(CONFORMANCE_CASES.map((c) => [caseLabel(c), c] as const))('W8A32 %s: within FLOAT32_ACCUMULATION, sync and async', async (name, c) => {
    const { weight, x, bias } = caseData(c);
    for (const b of [bias, null]) {
      const expected = new Float32Array(c.m * c.n);
      referenceLinear({ x, m: c.m, weight, bias: b, out: expected });
      const limit = float32AccumulationLimit(x, weight, b);
      const what = `${label} ${name} bias=${b !== null}`;
      const viaAsync = await runAsync(backend, x, c.m, weight, b);
      expectWithin(`${what} (async)`, viaAsync, expected, limit);
      expectBitExact(`${what}: sync = async`, runSync(backend, x, c.m, weight, b) ?? viaAsync, viaAsync);
    }
    releaseWeight(backend, weight);
  });

  it.skipIf(skip !== null).each(CONFORMANCE_CASES.map((c) => [caseLabel(c), c] as const))('W8A8 %s: bit-exact with referenceLinearW8A8 (a BackendError where it has no W8A8 kernel)', async (name, c) => {
    if (!hasW8A8(backend)) {
      const weight: KernelWeight = { n: c.n, k: c.k, values: new Int8Array(c.n * c.k), scales: new Float32Array(c.n), groupSize: c.k };
      const out = new Float32Array(c.m * c.n);
      expect(() => runLinearW8A8(backend, { xq: new Int8Array(c.m * c.k), xScales: new Float32Array(c.m), m: c.m, weight, bias: null, out })).toThrow(BackendError);
      return;
    }
    const { weight, x, bias } = caseData(c);
    const { xq, xScales } = quantizeActivations(x, c.m, c.k);
    for (const b of [bias, null]) {
      const expected = new Float32Array(c.m * c.n);
      referenceLinearW8A8({ xq, xScales, m: c.m, weight, bias: b, out: expected });
      const out = new Float32Array(c.m * c.n).fill(Number.NaN);
      await runLinearW8A8Async(backend, { xq, xScales, m: c.m, weight, bias: b, out });
      expectBitExact(`${label} W8A8 ${name} bias=${b !== null}`, out, expected);
    }
    releaseWeight(backend, weight);
  });

  it.skipIf(skip !== null)('W8A8 (where there is a kernel): 4096 products of -128 · -128 sum to exactly 2^26, and alternating extremes give the exact sum', async () => {
    // -128 · -128 = 2^14 per product: i16 pair sums (2^15) overflow int16, which is what breaks
    // onnxruntime's AVX2 u8·s8 kernel with full-range weights; our sums are int32.
    if (!hasW8A8(backend)) return;
    const k = 4096;
    const n = 5;
    const weight: KernelWeight = { n, k, values: new Int8Array(n * k).fill(-128), scales: new Float32Array(n).fill(1), groupSize: k };
    const out = new Float32Array(n);
    await runLinearW8A8Async(backend, { xq: new Int8Array(k).fill(-128), xScales: new Float32Array([1]), m: 1, weight, bias: null, out });
    expect(Array.from(out)).toEqual(new Array(n).fill(2 ** 26));
    // per pair: 127·-128 + -128·-128 = 128; 2048 pairs: 262144, times 0.5
    const alt = new Int8Array(k).map((_, i) => (i % 2 === 0 ? 127 : -128));
    await runLinearW8A8Async(backend, { xq: alt, xScales: new Float32Array([0.5]), m: 1, weight, bias: null, out });
    expect(Array.from(out)).toEqual(new Array(n).fill(131072));
  });

  it.skipIf(skip !== null)('W8A8 (where there is a kernel): m = 1..9 (each kernel path: one x row, pairs of blocks, panels of 3 and 4 rows and what is left), full-range int8, k = 100 per channel and per group of 20, bit-exact', async () => {
    if (!hasW8A8(backend)) return;
    const g = new Generator(7);
    const int8 = (len: number) => new Int8Array(len).map(() => (g.nextUint32() & 255) - 128); // -128 .. 127, both ends included
    const n = 13; // 4 row blocks, the last with 3 padding rows
    const k = 100; // padded to 112 per channel, groups of 20 to 32
    for (const groupSize of [k, 20]) {
      const weight: KernelWeight = { n, k, values: int8(n * k), scales: new Float32Array(n * (k / groupSize)).map(() => (1 + (g.nextUint32() % 1000)) / 4096), groupSize };
      weight.values[0] = -128;
      const bias = new Float32Array(n).map((_, i) => i / 8 - 1);
      for (let m = 1; m <= 9; m++) {
        const xq = int8(m * k);
        xq[0] = -128;
        xq[1] = 127;
        const xScales = new Float32Array(m).map(() => (1 + (g.nextUint32() % 1000)) / 1024);
        const expected = new Float32Array(m * n);
        referenceLinearW8A8({ xq, xScales, m, weight, bias, out: expected });
        const out = new Float32Array(m * n).fill(Number.NaN);
        await runLinearW8A8Async(backend, { xq, xScales, m, weight, bias, out });
        expectBitExact(`${label} W8A8 ${m}x${k}x${n} groupSize ${groupSize}`, out, expected);
      }
      releaseWeight(backend, weight);
    }
  });

  it.skipIf(skip !== null)(`W8A8 (where there is a kernel): the extremes at the largest k (${WASM_MAX_K}): -128 weights times all -128 (the largest int32 sum, 2^14 k) and all 127, m = 1 and 5, per channel (and per group of 1285 at k - 1)`, async () => {
    if (!hasW8A8(backend)) return;
    const n = 5;
    // WASM_MAX_K = 2^17 - 1 is prime: the grouped case is k - 1 = 131070 = 102 · 1285 (groups padded to 1296)
    for (const [k, groupSize] of [[WASM_MAX_K, WASM_MAX_K], [WASM_MAX_K - 1, 1285]]) {
      const weight: KernelWeight = { n, k, values: new Int8Array(n * k).fill(-128), scales: new Float32Array(n * (k / groupSize)).fill(1), groupSize };
      for (const m of [1, 5]) {
        for (const v of [-128, 127]) {
          const xq = new Int8Array(m * k).fill(v);
          const xScales = new Float32Array(m).fill(1);
          const expected = new Float32Array(m * n);
          referenceLinearW8A8({ xq, xScales, m, weight, bias: null, out: expected });
          if (v === -128 && k === WASM_MAX_K) expect(expected[0]).toBe(2 ** 14 * k); // 2147467264 < 2^31, a float32 exactly
          const out = new Float32Array(m * n).fill(Number.NaN);
          await runLinearW8A8Async(backend, { xq, xScales, m, weight, bias: null, out });
          expectBitExact(`${label} W8A8 ${m}x${k}x${n} all ${v} groupSize ${groupSize}`, out, expected);
        }
      }
      releaseWeight(backend, weight);
    }
  });

  it.skipIf(skip !== null).each(CONFORMANCE_CASES.map((c) => [caseLabel(c), c] as const))('W8A16 %s: bit-exact with referenceLinearW8A16 (a BackendError where it has no W8A16 kernel)', async (name, c) => {
    if (!hasW8A16(backend)) {
      const weight: KernelWeight = { n: c.n, k: c.k, values: new Int8Array(c.n * c.k), scales: new Float32Array(c.n), groupSize: c.k };
      const out = new Float32Array(c.m * c.n);
      expect(() => runLinearW8A16(backend, { xq: new Int16Array(c.m * c.k), xScales: new Float32Array(c.m), m: c.m, weight, bias: null, out })).toThrow(BackendError);
      return;
    }
    const { weight, x, bias } = caseData(c);
    const { xq, xScales } = quantizeActivationsInt16(x, c.m, c.k);
    for (const b of [bias, null]) {
      const expected = new Float32Array(c.m * c.n);
      referenceLinearW8A16({ xq, xScales, m: c.m, weight, bias: b, out: expected });
      const out = new Float32Array(c.m * c.n).fill(Number.NaN);
      await runLinearW8A16Async(backend, { xq, xScales, m: c.m, weight, bias: b, out });
      expectBitExact(`${label} W8A16 ${name} bias=${b !== null}`, out, expected);
    }
    releaseWeight(backend, weight);
  });

  it.skipIf(skip !== null)('W8A16 (where there is a kernel): sums past int32 are exact through runs of 256 (4096 products of -32768 · -128 = 2^34; groups of 1000), and extremes at M = 5', async () => {
    // -32768 · -128 = 2^22 per product: 4096 of them are 2^34, past int32; runs of 256 are 2^30 each.
    if (!hasW8A16(backend)) return;
    const n = 5;
    for (const [k, groupSize] of [[4096, 4096], [3000, 1000]] as const) {
      const weight: KernelWeight = { n, k, values: new Int8Array(n * k).fill(-128), scales: new Float32Array(n * (k / groupSize)).fill(1), groupSize };
      const out = new Float32Array(n);
      await runLinearW8A16Async(backend, { xq: new Int16Array(k).fill(-32768), xScales: new Float32Array([1]), m: 1, weight, bias: null, out });
      expect(Array.from(out)).toEqual(new Array(n).fill(k * 2 ** 22));
    }
    const k = 1024;
    const m = 5;
    const weight: KernelWeight = { n, k, values: new Int8Array(n * k).map((_, i) => (i % 3 === 0 ? 127 : -128)), scales: new Float32Array(n).fill(0.25), groupSize: k };
    const xq = new Int16Array(m * k).map((_, i) => (i % 2 === 0 ? 32767 : -32768));
    const xScales = new Float32Array(m).fill(2 ** -10);
    const expected = new Float32Array(m * n);
    referenceLinearW8A16({ xq, xScales, m, weight, bias: null, out: expected });
    const out = new Float32Array(m * n).fill(Number.NaN);
    await runLinearW8A16Async(backend, { xq, xScales, m, weight, bias: null, out });
    expectBitExact(`${label} W8A16 extremes`, out, expected);
  });

  it.skipIf(skip !== null)('W8A16 (where there is a kernel): m = 1..9 (each kernel path, the relaxed three-plane one included), x all -32768, all 32767, alternating extremes and full range, k = 100 (not a multiple of 16) per channel and per group of 20, k = 600 per group of 300 (runs of 256 and 44), bit-exact', async () => {
    // The relaxed kernel splits u = x + 32768 into 7-bit planes (0 and 65535 are its ends) and takes
    // 32768 · Σw off per run; rows 0 and 1 of the weight (all -128, all 127) give the largest runs.
    if (!hasW8A16(backend)) return;
    const g = new Generator(11);
    const n = 13; // 4 row blocks, the last with 3 padding rows
    const patterns: [string, (i: number) => number][] = [
      ['all -32768', () => -32768],
      ['all 32767', () => 32767],
      ['alternating', (i) => (i % 2 === 0 ? 32767 : -32768)],
      ['full range', () => (g.nextUint32() & 65535) - 32768],
    ];
    for (const [k, groupSize] of [[100, 100], [100, 20], [600, 300]]) {
      const values = new Int8Array(n * k).map(() => (g.nextUint32() & 255) - 128);
      values.fill(-128, 0, k);
      values.fill(127, k, 2 * k);
      const weight: KernelWeight = { n, k, values, scales: new Float32Array(n * (k / groupSize)).map(() => (1 + (g.nextUint32() % 1000)) / 4096), groupSize };
      const bias = new Float32Array(n).map((_, i) => i / 8 - 1);
      for (const [name, at] of patterns) {
        for (let m = 1; m <= 9; m++) {
          const xq = new Int16Array(m * k).map((_, i) => at(i));
          const xScales = new Float32Array(m).map(() => (1 + (g.nextUint32() % 1000)) / 2 ** 20);
          const expected = new Float32Array(m * n);
          referenceLinearW8A16({ xq, xScales, m, weight, bias, out: expected });
          const out = new Float32Array(m * n).fill(Number.NaN);
          await runLinearW8A16Async(backend, { xq, xScales, m, weight, bias, out });
          expectBitExact(`${label} W8A16 ${m}x${k}x${n} groupSize ${groupSize} x ${name}`, out, expected);
        }
      }
      releaseWeight(backend, weight);
    }
  });

  it.skipIf(skip !== null)('W8A32: K = 13 (not a multiple of 4 or 16), M = 1, N = 7 (not a multiple of 4), exact small integers', async () => {
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
    expectBitExact(label, await runAsync(backend, x, 1, weight, bias), expected);
  });

});
