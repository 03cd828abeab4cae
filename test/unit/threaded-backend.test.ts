import { layerKernelWeight } from '../../src/nn/quantized-linear.js';
import { availableParallelism } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendError, Generator, Linear, QuantizedLinear, Tensor, uniform_ } from '../../src/index.js';
import type { KernelWeight } from '../../src/kernels/types.js';
import { createWasmBackend, relaxedSimdSupported, type WasmBackend } from '../../src/kernels/wasm/backend.js';
import { availableBackends as mainBackends } from '../../src/kernels/available.js';
import { availableBackends, createThreadedWasmBackend, MIN_THREADED_MACS, type ThreadedWasmBackend } from '../../src/node.js';
import { quantize } from '../../src/quant/quantize.js';
import { expectScriptExits } from '../helpers/child-script.js';
import { expectBitExact, expectWithin } from '../helpers/compare.js';
import { float32AccumulationLimit } from '../conformance/tolerance.js';

/** The mode's build part: the relaxed-SIMD kernel runs by default where the runtime has it (Node >= 22). */
const RELAXED = relaxedSimdSupported() ? '-relaxed' : '';

/**
 * The threaded wasm backend runs the single-thread backend's kernels over slices of the row blocks,
 * so its outputs must be the single-thread outputs bit for bit, however the blocks were split.
 */

let one: WasmBackend;
let forced: ThreadedWasmBackend; // threads every call, however small
let three: ThreadedWasmBackend; // two workers
let auto: ThreadedWasmBackend; // 2 threads, the default threshold

beforeAll(async () => {
  one = await createWasmBackend();
  forced = await createThreadedWasmBackend({ threads: 2, minThreadedMacs: 0 });
  three = await createThreadedWasmBackend({ threads: 3, minThreadedMacs: 0 });
  auto = await createThreadedWasmBackend({ threads: 2 }); // explicit: the default is 1 on a 1-core machine
});
afterAll(() => [one, forced, three, auto].forEach((b) => b.dispose()));

function weightOf(n: number, k: number, groupSize: number, seed: number): KernelWeight {
  const g = new Generator(seed);
  const w = uniform_(Tensor.zeros([n, k]), -1, 1, g);
  const q = quantize(w, groupSize === k ? { granularity: 'channel' } : { granularity: 'group', groupSize });
  return { n, k, groupSize, values: q.values.data, scales: q.scale.data };
}

function inputs(m: number, k: number, n: number, seed: number) {
  const g = new Generator(seed);
  const x = uniform_(Tensor.zeros([m, k]), -2, 2, g).data;
  const bias = uniform_(Tensor.zeros([n]), -1, 1, g).data;
  const xq = new Int8Array(m * k).map((_, i) => ((i * 37 + seed) % 256) - 128);
  const xScales = uniform_(Tensor.zeros([m]), 1e-3, 2e-2, g).data;
  return { x, bias, xq, xScales };
}

/** W8A32 and W8A8 outputs of `b` (NaN-filled first: every element must be written). */
function outputs(b: WasmBackend, m: number, w: KernelWeight, d: ReturnType<typeof inputs>, bias: Float32Array | null) {
  const f = new Float32Array(m * w.n).fill(Number.NaN);
  const q = new Float32Array(m * w.n).fill(Number.NaN);
  b.linear({ x: d.x, m, weight: w, bias, out: f });
  b.linearW8A8!({ xq: d.xq, xScales: d.xScales, m, weight: w, bias, out: q });
  return { f, q };
}

// (m, k, n, groupSize): M = 1 and 17 (odd: the W8A32 pair loop leaves a last row, W8A8 a remainder
// of its 4-row loop); n not a multiple of 4 or 8 (padding rows, an odd number of blocks); groups
// whose length is not a multiple of 16 (padded groups); K = 4096 (several panels per thread).
const SHAPES: [number, number, number, number][] = [
  [1, 64, 5, 64],
  [1, 100, 1030, 100],
  [1, 4096, 262, 4096],
  [17, 64, 5, 64],
  [17, 96, 1037, 8],
  [17, 512, 300, 128],
  [17, 4096, 67, 4096],
  [4, 37, 3, 37],
  [128, 256, 99, 32],
];

describe('createThreadedWasmBackend: bit-exact with createWasmBackend', () => {
  it.each(SHAPES.map((s) => [s.join('x'), s] as const))('%s (m x k x n x groupSize): W8A32 and W8A8, with and without bias', (_label, [m, k, n, gs]) => {
    const w = weightOf(n, k, gs, m * 1000 + n);
    const d = inputs(m, k, n, k + n);
    for (const bias of [d.bias, null]) {
      const want = outputs(one, m, w, d, bias);
      for (const b of [forced, three]) {
        const got = outputs(b, m, w, d, bias);
        expectBitExact(`${b.mode} W8A32 ${m}x${k}x${n} g${gs}`, got.f, want.f);
        expectBitExact(`${b.mode} W8A8 ${m}x${k}x${n} g${gs}`, got.q, want.q);
      }
    }
  });

  it('workers really run chunks (and stay bit-exact) on a call large enough to wake them', () => {
    const [m, k, n] = [32, 1024, 1030];
    const w = weightOf(n, k, 128, 7);
    const d = inputs(m, k, n, 8);
    const want = outputs(one, m, w, d, d.bias);
    const before = auto.workerChunks;
    // A worker that shares its core with another process may miss a call (the caller then runs
    // every chunk); over 40 calls of ~1 ms each it gets some.
    for (let i = 0; i < 40 && auto.workerChunks === before; i++) {
      const got = outputs(auto, m, w, d, d.bias);
      expectBitExact('threads2 W8A32', got.f, want.f);
      expectBitExact('threads2 W8A8', got.q, want.q);
    }
    expect(auto.workerChunks).toBeGreaterThan(before);
  });

  it(`calls under MIN_THREADED_MACS (${MIN_THREADED_MACS}) run on the calling thread alone`, () => {
    const [m, k, n] = [1, 256, 256]; // 65536 multiply-adds
    expect(m * k * n).toBeLessThan(MIN_THREADED_MACS);
    const w = weightOf(n, k, k, 3);
    const d = inputs(m, k, n, 4);
    const before = auto.workerChunks;
    for (let i = 0; i < 50; i++) outputs(auto, m, w, d, d.bias);
    expect(auto.workerChunks).toBe(before);
    expectBitExact('under threshold', outputs(auto, m, w, d, d.bias).f, outputs(one, m, w, d, d.bias).f);
  });

  it('W8A8 calls count their multiply-adds as half: 1x512x1024 (MIN_THREADED_MACS) runs on one thread', () => {
    const [m, k, n] = [1, 512, 1024];
    expect(m * k * n).toBe(MIN_THREADED_MACS);
    const w = weightOf(n, k, k, 11);
    const d = inputs(m, k, n, 12);
    const before = auto.workerChunks;
    const want = new Float32Array(n);
    one.linearW8A8!({ xq: d.xq, xScales: d.xScales, m, weight: w, bias: d.bias, out: want });
    const got = new Float32Array(n);
    for (let i = 0; i < 30; i++) auto.linearW8A8!({ xq: d.xq, xScales: d.xScales, m, weight: w, bias: d.bias, out: got });
    expect(auto.workerChunks).toBe(before);
    expectBitExact('W8A8 1x512x1024', got, want);
  });

  it('a QuantizedLinear moved to it gives the single-thread forward bit for bit', () => {
    const fc = new Linear(300, 130, { generator: new Generator(5) });
    const x = uniform_(Tensor.zeros([17, 300]), -1, 1, new Generator(6));
    const a = QuantizedLinear.fromLinear(fc, { granularity: 'group', groupSize: 60 }).to(one).forward(x);
    const layer = QuantizedLinear.fromLinear(fc, { granularity: 'group', groupSize: 60 }).to(forced);
    expectBitExact('QuantizedLinear', layer.forward(x).data, a.data);
    expect(String(layer)).toContain('backend=wasm-simd-threads');
  });
});

describe('availableBackends of int8-linear/node', () => {
  it('puts the threaded backend first where there are two cores, then the main entry list, all runnable', async () => {
    const all = await availableBackends();
    const main = await mainBackends();
    const cores = availableParallelism();
    expect(all.map((b) => b.name)).toEqual(cores >= 2 ? ['wasm-simd-threads', ...main.map((b) => b.name)] : main.map((b) => b.name));
    if (cores >= 2) expect(all[0].mode).toBe(`wasm-simd128${RELAXED}-threads${Math.min(2, cores)}`);
    const gen = new Generator(3);
    const layer = QuantizedLinear.fromLinear(new Linear(64, 9, { generator: gen }));
    const x = uniform_(Tensor.zeros([2, 64], 'float32'), -1, 1, gen);
    const expected = layer.forward(x).data.slice();
    const limit = float32AccumulationLimit(x.data, layerKernelWeight(layer), layer.bias!.data);
    for (const b of all) expectWithin(`${b.name} via node availableBackends`, layer.to(b).forward(x).data, expected, limit);
    for (const b of [...all, ...main]) b.dispose();
    if (cores >= 2) await (all[0] as ThreadedWasmBackend).exited;
  });
});

describe('createThreadedWasmBackend: options, mode, lifetime', () => {
  it('reports its name, mode and threads', () => {
    expect([forced.name, forced.mode, forced.threads]).toEqual(['wasm-simd-threads', `wasm-simd128${RELAXED}-threads2`, 2]);
    expect([three.mode, three.threads]).toEqual([`wasm-simd128${RELAXED}-threads3`, 3]);
  });

  it('defaults to 2 threads, or 1 where the machine has one core', async () => {
    const b = await createThreadedWasmBackend();
    expect(b.threads).toBe(Math.min(2, availableParallelism()));
    expect(b.mode).toBe(`wasm-simd128${RELAXED}-threads${b.threads}`);
    b.dispose();
    await b.exited;
  });

  it.each([0, 1.5, -2, Number.NaN, 65])('threads: %s is a BackendError that names the value and the range', async (threads) => {
    const err = await createThreadedWasmBackend({ threads }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect(String((err as Error).message)).toContain(`got ${threads}`);
    expect(String((err as Error).message)).toContain('from 1 to 64');
  });

  it.each([-1, Number.NaN])('minThreadedMacs: %s is a BackendError that names the value', async (minThreadedMacs) => {
    const err = await createThreadedWasmBackend({ minThreadedMacs }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect(String((err as Error).message)).toContain(`minThreadedMacs must be a number >= 0, got ${minThreadedMacs}`);
  });

  it('threads: 1 has no worker and gives the single-thread numbers', async () => {
    const b = await createThreadedWasmBackend({ threads: 1, minThreadedMacs: 0 });
    const w = weightOf(9, 40, 40, 1);
    const d = inputs(3, 40, 9, 2);
    expectBitExact('threads1', outputs(b, 3, w, d, d.bias).f, outputs(one, 3, w, d, d.bias).f);
    expect(b.workerChunks).toBe(0);
    b.dispose();
    await b.exited;
  });

  it('dispose() terminates the workers; the backend then refuses calls but still gives weights back', async () => {
    const b = await createThreadedWasmBackend({ threads: 3, minThreadedMacs: 0 });
    const w = weightOf(20, 64, 64, 9);
    const d = inputs(2, 64, 20, 10);
    outputs(b, 2, w, d, null);
    let exited = false;
    void b.exited.then(() => (exited = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(exited).toBe(false); // alive until dispose
    b.dispose();
    await b.exited; // hangs (test timeout) if a worker is left running
    expect(() => outputs(b, 2, w, d, null)).toThrow(BackendError);
    const back = new Int8Array(20 * 64);
    b.readValues!(w, back);
    expect(back).toEqual(w.values);
  });

  it('workers do not keep the process alive (a script that never calls dispose exits)', () => {
    const script = [
      "import { createThreadedWasmBackend } from './src/node.ts';",
      'const b = await createThreadedWasmBackend({ minThreadedMacs: 0 });',
      'const out = new Float32Array(8);',
      'b.linear({ x: new Float32Array(32).fill(1), m: 1, weight: { n: 8, k: 32, groupSize: 32, values: new Int8Array(256).fill(1), scales: new Float32Array(8).fill(1) }, bias: null, out });',
      "console.log('sum', out[0], b.workerChunks >= 0);",
    ];
    expectScriptExits(script, 'sum 32 true');
  });
});
