/**
 * `npm run bench:gpu [-- --shapes 1x4096x4096,16x1024x1024] [--runs 7] [--all]`
 *
 * The gpu.js backend in every mode Node has (webasm, cpu; headlessgl when `gl` loads and a display
 * exists, i.e. under `xvfb-run -a`), against the reference kernel and the naive float32 JS loop
 * (`referenceLinearF32` on the dequantized weight: the in-process baseline), all in this process, on
 * the shapes of test/conformance/shapes.ts (BENCH_SHAPES). Per row: a correctness check against the
 * reference first (max |y - ref| / max |ref| <= FLOAT_CHECK), the first call (compile + pack +
 * upload) alone, then the median of at least `--runs` timed calls after one warm-up.
 * `npm run bench` has the same gpu.js rows (median only) beside the CPU kernels and onnxruntime.
 */
import { layerKernelWeight } from '../src/nn/quantized-linear.js';
import { cpus, loadavg } from 'node:os';
import { Generator, Linear, QuantizedLinear, Tensor, dequantize, uniform_ } from '../src/index.js';
import { referenceLinear, referenceLinearF32 } from '../src/kernels/reference.js';
import type { Backend } from '../src/kernels/types.js';
import { createGpuBackend } from '../src/gpu/index.js';
import { BENCH_SHAPES } from '../test/conformance/shapes.js';
import { GPUJS_CPU_MAX_MACS, gpuModes, gpujsSkip } from './gpu-modes.js';
import { median, relErr } from './stats.js';

const args = process.argv.slice(2);

/** Max |y - ref| / max |ref| a row may show: float32 accumulation gives ~1e-6; 1e-4 means broken. */
const FLOAT_CHECK = 1e-4;
/** The naive loop and the reference are skipped above this many multiply-adds, as gpu.js's cpu mode. */
const SLOW_MAX_MACS = GPUJS_CPU_MAX_MACS;

const option = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const shapeFilter = option('--shapes')?.split(',');
const minRuns = Math.max(7, Number(option('--runs') ?? 7));
const shapes = BENCH_SHAPES.filter((s) => shapeFilter === undefined || shapeFilter.includes(`${s.m}x${s.k}x${s.n}`));

function time(run: () => void, runs: number): number {
  run();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    run();
    samples.push(performance.now() - t0);
  }
  return median(samples);
}

const modes = await gpuModes();
const cpu = cpus();
console.log(`machine: ${cpu.length} x ${cpu[0]?.model ?? '?'}, Node ${process.version}, load ${loadavg()[0].toFixed(2)}; gpu.js modes: ${modes.join(', ')}`);
console.log(`median of ${minRuns} runs after 1 warm-up; 'first' = first call (compile, pack, upload, run)\n`);
const header = ['shape MxKxN', 'row', 'first ms', 'ms (median)', 'GFLOP/s', 'x naive f32', 'rel err', 'device B/weight'];
console.log(header.join(' | '));
console.log(header.map(() => '---').join(' | '));

for (const { m, k, n } of shapes) {
  const generator = new Generator(m * 31 + k * 7 + n);
  const layer = QuantizedLinear.fromLinear(new Linear(k, n, { generator }), { granularity: 'channel' });
  const x = uniform_(Tensor.zeros([m, k], 'float32'), -1, 1, generator).data;
  const weight = layerKernelWeight(layer);
  const bias = layer.bias!.data;
  const wFloat = dequantize({ values: layer.weight, scale: layer.weightScale, ...layer.scheme }).data;
  const ref = new Float32Array(m * n);
  referenceLinear({ x, m, weight, bias, out: ref });
  const out = new Float32Array(m * n);
  const macs = m * k * n;
  const shape = `${m}x${k}x${n}`;
  const row = (name: string, first: number | null, ms: number | null, err: number | null, bytes: number | null, note = '') => {
    const gflops = ms === null ? '-' : ((2 * macs) / (ms * 1e6)).toFixed(2);
    const ratio = ms === null || baseline === null ? '-' : `${(baseline / ms).toFixed(2)}x`;
    console.log(
      [shape, name, first === null ? '-' : first.toFixed(1), ms === null ? `skipped${note}` : ms.toFixed(3), gflops, ratio,
        err === null ? '-' : err.toExponential(1), bytes === null ? '-' : bytes.toFixed(3)].join(' | '),
    );
  };
  let baseline: number | null = null;
  if (macs <= SLOW_MAX_MACS) {
    baseline = time(() => referenceLinearF32(x, m, wFloat, n, k, bias, out), minRuns);
    row('naive float32 JS loop (baseline)', null, baseline, relErr(out, ref), 4);
    row('reference (js-float64, int8)', null, time(() => referenceLinear({ x, m, weight, bias, out }), minRuns), 0, 1);
  } else {
    row('naive float32 JS loop (baseline)', null, null, null, null, ` (> 2^27 MACs)`);
  }
  for (const mode of modes) {
    const skip = gpujsSkip(mode, macs, args.includes('--all'));
    if (skip !== null) {
      row(`gpujs/${mode}`, null, null, null, null, ` (${skip})`);
      continue;
    }
    const backend: Backend & { stats(): { gpuBytes: number } } = await createGpuBackend({ mode });
    const t0 = performance.now();
    out.fill(Number.NaN);
    backend.linear({ x, m, weight, bias, out });
    const first = performance.now() - t0;
    const err = relErr(out, ref);
    if (!(err <= FLOAT_CHECK)) throw new Error(`gpujs/${mode} ${shape}: relative error ${err} > FLOAT_CHECK ${FLOAT_CHECK}`);
    const ms = time(() => backend.linear({ x, m, weight, bias, out }), minRuns);
    row(`gpujs/${mode}`, first, ms, err, backend.stats().gpuBytes / (n * k));
    backend.dispose();
  }
}
