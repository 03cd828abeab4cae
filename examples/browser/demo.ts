import {
  Generator,
  Linear,
  QuantizedLinear,
  Tensor,
  createReferenceBackend,
  formatShape,
  uniform_,
  type Backend,
  type QuantScheme,
} from 'int8-linear';
import { layerKernelWeight, referenceLinear, releaseWeight } from 'int8-linear/advanced';
import type { GpuBackend } from 'int8-linear/gpu';

/**
 * The cases the browser page runs and the e2e test checks: one per granularity, both ranges, K past
 * gpu.js's loop limit (1001), K = 4096 and N past MAX_TEXTURE_SIZE. Everything is seeded, so Node rebuilds the same layer and
 * input from a case alone and checks the browser's output against its own reference.
 */
export interface DemoCase {
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly scheme: QuantScheme;
  readonly seed: number;
}

export const DEMO_CASES: readonly DemoCase[] = [
  { m: 1, k: 4096, n: 64, scheme: { granularity: 'channel', range: 'full' }, seed: 1 },
  { m: 3, k: 1001, n: 5, scheme: { granularity: 'tensor', range: 'restricted' }, seed: 2 },
  { m: 17, k: 512, n: 96, scheme: { granularity: 'group', groupSize: 128, range: 'full' }, seed: 3 },
  { m: 5, k: 64, n: 7, scheme: { granularity: 'group', groupSize: 8, range: 'restricted' }, seed: 4 },
  // More outputs than MAX_TEXTURE_SIZE (8192 on SwiftShader): a 2-D output this wide would throw.
  { m: 2, k: 7, n: 9000, scheme: { granularity: 'channel', range: 'full' }, seed: 7 },
];

/** The benchmark shapes (M x K x N, per channel): a decode step and a small batch of a 4096 layer. */
export const BENCH_CASES: readonly DemoCase[] = [
  { m: 1, k: 4096, n: 4096, scheme: { granularity: 'channel' }, seed: 5 },
  { m: 16, k: 1024, n: 1024, scheme: { granularity: 'channel' }, seed: 6 },
];

/** A seeded PyTorch-initialised Linear quantized under the case's scheme, and x ~ U(-1, 1). */
export function buildCase(c: DemoCase): { layer: QuantizedLinear; x: Tensor<'float32'> } {
  const generator = new Generator(c.seed);
  const layer = QuantizedLinear.fromLinear(new Linear(c.k, c.n, { generator }), c.scheme);
  return { layer, x: uniform_(Tensor.zeros([c.m, c.k], 'float32'), -1, 1, generator) };
}

export function label(c: DemoCase): string {
  const g = c.scheme.granularity === 'group' ? `group(${c.scheme.groupSize})` : (c.scheme.granularity ?? 'channel');
  return `${c.m}x${c.k}x${c.n} ${g} ${c.scheme.range ?? 'full'}`;
}

/**
 * One forward of the layer on `backend` through `forwardAsync`: the path webgpu needs (its results
 * come back asynchronously); on the other backends it resolves to what `forward` returns.
 */
export async function runOn(backend: Backend, layer: QuantizedLinear, x: Tensor<'float32'>, out: Float32Array): Promise<void> {
  out.set((await layer.to(backend).forwardAsync(x)).data);
}

export interface CaseResult {
  readonly label: string;
  readonly scaleShape: string;
  readonly y: number[];
  /** Largest |gpu - reference| seen in the page (the e2e test checks each element against its bound). */
  readonly maxAbsError: number;
  /** Device bytes per weight of this layer as gpu.js allocated them (gpujs only; null otherwise). */
  readonly bytesPerWeight: number | null;
}

/**
 * Frees what `backend` holds for `layer`: gpu.js caches each layer's kernels and device copy until
 * `release`; a backend that took the weight over (wasm-simd, js-packed) gives it back when the layer
 * moves to the reference backend.
 */
function freeLayer(backend: Backend, layer: QuantizedLinear): void {
  releaseWeight(backend, layerKernelWeight(layer));
  layer.to(createReferenceBackend());
}

/** Runs every demo case on `backend` and on the reference, in the page. */
export async function runCases(backend: Backend): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const c of DEMO_CASES) {
    const { layer, x } = buildCase(c);
    const expected = new Float32Array(c.m * c.n);
    referenceLinear({ x: x.data, m: c.m, weight: layerKernelWeight(layer), bias: layer.bias?.data ?? null, out: expected });
    const y = new Float32Array(c.m * c.n);
    await runOn(backend, layer, x, y);
    let err = 0;
    for (let i = 0; i < y.length; i++) err = Math.max(err, Math.abs(y[i] - expected[i]));
    const gpu = backend as Partial<GpuBackend>;
    // Each layer is released after its case, so the stats hold this layer alone.
    const bytesPerWeight = gpu.stats === undefined ? null : gpu.stats().gpuBytes / (c.n * c.k);
    results.push({ label: label(c), scaleShape: formatShape(layer.weightScale.shape), y: Array.from(y), maxAbsError: err, bytesPerWeight });
    freeLayer(backend, layer);
  }
  return results;
}

export interface BenchRow {
  readonly label: string;
  readonly backend: string;
  /** First call: compile, pack and upload, then run. */
  readonly firstMs: number;
  /** Median of `runs` later calls. */
  readonly medianMs: number;
  readonly runs: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Times the reference and `backend` on each bench shape: first call, then the median of `runs` calls. */
export async function bench(backend: Backend, runs = 7): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const c of BENCH_CASES) {
    const { layer, x } = buildCase(c);
    const out = new Float32Array(c.m * c.n);
    for (const b of [createReferenceBackend(), backend]) {
      let t = performance.now();
      await runOn(b, layer, x, out);
      const firstMs = performance.now() - t;
      const times: number[] = [];
      for (let r = 0; r < runs; r++) {
        t = performance.now();
        await runOn(b, layer, x, out);
        times.push(performance.now() - t);
      }
      rows.push({ label: label(c), backend: `${b.name}/${b.mode}`, firstMs, medianMs: median(times), runs });
    }
    freeLayer(backend, layer);
  }
  return rows;
}
