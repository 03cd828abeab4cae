/**
 * `npm run bench [-- --json out.json] [--shapes 1x4096x4096,...] [--no-peers] [--no-cold] [--no-gpu]`
 *
 * One process, the shapes of test/conformance/shapes.ts (BENCH_SHAPES). For each shape and row: a
 * correctness check against the reference kernel first, then warm-up runs and the median of at least
 * 7 timed runs. Reported: ms, GFLOP/s (2·M·K·N / t), effective GB/s of weight bytes for M = 1, and
 * the speed ratio to the naive float32 JS loop measured in the same process (the in-process baseline).
 * Peers (onnxruntime-node, onnxruntime-web) come from bench/peers (`npm run bench:peers`); when they
 * are missing or a graph fails, the row says why and the rest still runs.
 * A cold-cache case rotates 4 different 4096x4096 layers (64 MiB of int8, more than L3).
 * Every other backend in the registries (test/conformance/registry.ts: the ones the conformance suite
 * runs) gets a W8A32 per-channel row too, so a newly registered backend is benchmarked unchanged.
 * The gpu.js backend runs in every mode Node has (bench/gpu-modes.ts: webasm, cpu, headlessgl under
 * `xvfb-run -a`) up to 2^28 multiply-adds; `npm run bench:gpu` adds its first-call times.
 * Wall time is what the tables rank by; `cpu ms` (this process's user + system time per run) is
 * printed beside it because the machine this runs on is shared: it is what a row costs with a core
 * to itself (every row here is single-threaded, except the 'wasm 2 threads' rows of
 * createThreadedWasmBackend, whose cpu ms counts both threads: about 2x wall when both had a core).
 */
import { layerKernelWeight } from '../src/nn/quantized-linear.js';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { createJsBackend } from '../src/kernels/js-packed.js';
import { runLinearAsync } from '../src/kernels/dispatch.js';
import { referenceLinear, referenceLinearF32, referenceLinearW8A16, referenceLinearW8A8, createReferenceBackend } from '../src/kernels/reference.js';
import type { Backend, KernelWeight, W8A16Backend, W8A8Backend } from '../src/kernels/types.js';
import { createWasmBackend, relaxedDotSaturates, relaxedSimdSupported } from '../src/kernels/wasm/backend.js';
import { createGpuBackend, type GpuBackend } from '../src/gpu/index.js';
import { gpuModes, gpujsSkip } from './gpu-modes.js';
import { createThreadedWasmBackend } from '../src/node.js';
import { quantizeActivations, quantizeActivationsInt16 } from '../src/quant/activations.js';
import { describeMachine, machineLine, type Machine } from './machine.js';
import { COLD_INPUT_SEED, COLD_SEEDS, benchInput, inputSeed, makeLayer, warmSeed, type BenchLayer } from './layers.js';
import { VARIANTS } from '../test/conformance/registry.js';
import { BENCH_SHAPES } from '../test/conformance/shapes.js';
import type * as Ort from './peers/ort.mjs';
import type { Runtime } from './peers/ort.mjs';
import { median, relErr } from './stats.js';

interface Shape {
  m: number;
  k: number;
  n: number;
}

/** What a row must reproduce: the W8A32 reference (within FLOAT_CHECK), or W8A8 numbers (within W8A8_CHECK). */
type Kind = 'float' | 'w8a8';

/** Max |y - ref| / max |ref| allowed for rows that compute the exact (weight-only) result: float32 rounding. */
const FLOAT_CHECK = 1e-4;
/** Same for activation-quantized rows: int8 activations cost about 1e-3..1e-2 relative; 5e-2 means broken. */
const W8A8_CHECK = 5e-2;

interface RowResult {
  name: string;
  group: 'ours' | 'onnxruntime-node' | 'onnxruntime-web';
  kind: Kind;
  ms: number | null;
  samples: number[];
  /** Median CPU time of this process per run (user + system): what the row costs when it has a core to itself. */
  cpuMs: number | null;
  cpuSamples: number[];
  gflops: number | null;
  gbs: number | null;
  vsBaseline: number | null;
  relErr: number | null;
  check: string;
  note?: string;
}

interface Runner {
  name: string;
  group: RowResult['group'];
  kind: Kind;
  weightBytes: number;
  /** Runs once and returns the output (may be a view that the next run overwrites). */
  run: () => Float32Array | Promise<Float32Array>;
  /** The W8A32 result this row must match, when it is not the shape's per-channel reference (group weights). */
  ref?: Float32Array;
  /** Optional exact check: returns a description, or throws. */
  exact?: (y: Float32Array) => string;
  release?: () => void;
}

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const option = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const jsonPath = option('--json');
const shapeFilter = option('--shapes')?.split(',');
const shapes: Shape[] = BENCH_SHAPES.filter((s) => shapeFilter === undefined || shapeFilter.includes(`${s.m}x${s.k}x${s.n}`));
/** A row whose first (checking) run takes longer than this is reported from that one run. */
const SLOW_ROW_MS = 4000;
/** Rows that run in plain JS are skipped above this many multiply-adds (7 runs would take minutes). */
const SLOW_JS_MAX_MACS = 2 ** 27;

type Layer = BenchLayer;

type OrtModule = typeof Ort;

async function loadPeers(): Promise<{ mod: OrtModule | null; runtimes: Runtime[]; why: string }> {
  if (flag('--no-peers')) return { mod: null, runtimes: [], why: '--no-peers' };
  try {
    const mod = (await import('./peers/ort.mjs')) as OrtModule;
    return { mod, runtimes: await mod.loadRuntimes(), why: '' };
  } catch (e) {
    return { mod: null, runtimes: [], why: `bench/peers not installed (run npm run bench:peers): ${String((e as Error).message).split('\n')[0]}` };
  }
}

/**
 * The W8A32 and W8A8 (incl. quantizing x) per-channel rows of a wasm backend: `label` 'wasm' for
 * createWasmBackend, 'wasm 2 threads' for createThreadedWasmBackend.
 */
function wasmRows(label: string, wasm: W8A8Backend & W8A16Backend, m: number, k: number, weight: KernelWeight, bias: Float32Array, x: Float32Array, refW8A8: Float32Array | null): Runner[] {
  const out = new Float32Array(m * weight.n);
  const weightBytes = weight.n * k;
  return [
    { name: `${label} W8A32 per-channel`, group: 'ours', kind: 'float', weightBytes, run: () => (wasm.linear({ x, m, weight, bias, out }), out) },
    {
      name: `${label} W8A8 per-channel (incl. quantizing x)`,
      group: 'ours',
      kind: 'w8a8',
      weightBytes,
      run: () => {
        const { xq, xScales } = quantizeActivations(x, m, k);
        wasm.linearW8A8({ xq, xScales, m, weight, bias, out });
        return out;
      },
      exact: (y) => {
        if (refW8A8 === null) return '';
        for (let i = 0; i < y.length; i++) if (!Object.is(y[i], refW8A8[i])) throw new Error(`W8A8 differs from referenceLinearW8A8 at ${i}: ${y[i]} vs ${refW8A8[i]}`);
        return 'bit-exact vs referenceLinearW8A8';
      },
    },
    {
      name: `${label} W8A16 per-channel (incl. quantizing x)`,
      group: 'ours',
      kind: 'w8a8',
      weightBytes,
      run: () => {
        const { xq, xScales } = quantizeActivationsInt16(x, m, k);
        wasm.linearW8A16!({ xq, xScales, m, weight, bias, out });
        return out;
      },
      exact: (y) => {
        if (refW8A8 === null) return '';
        const { xq, xScales } = quantizeActivationsInt16(x, m, k);
        const want = new Float32Array(y.length);
        referenceLinearW8A16({ xq, xScales, m, weight, bias, out: want });
        for (let i = 0; i < y.length; i++) if (!Object.is(y[i], want[i])) throw new Error(`W8A16 differs from referenceLinearW8A16 at ${i}: ${y[i]} vs ${want[i]}`);
        return 'bit-exact vs referenceLinearW8A16';
      },
    },
  ];
}

function ourRunners(shape: Shape, layer: Layer, x: Float32Array, wasm: W8A8Backend & W8A16Backend, wasm2: W8A8Backend & W8A16Backend, plain: (W8A8Backend & W8A16Backend) | null, js: Backend, ref: Backend, gRef: Float32Array | null, refW8A8: Float32Array | null): Runner[] {
  const { m, k, n } = shape;
  const out = new Float32Array(m * n);
  const rows: Runner[] = [];
  const slow = m * k * n > SLOW_JS_MAX_MACS;
  rows.push({ name: 'naive float32 JS loop (baseline)', group: 'ours', kind: 'float', weightBytes: 4 * n * k, run: () => (referenceLinearF32(x, m, layer.wFloat, n, k, layer.bias, out), out) });
  if (!slow) {
    rows.push({ name: 'reference backend (int8, float64 JS)', group: 'ours', kind: 'float', weightBytes: n * k, run: () => (ref.linear({ x, m, weight: layer.weight, bias: layer.bias, out }), out) });
    rows.push({ name: 'JS fallback (js-packed)', group: 'ours', kind: 'float', weightBytes: n * k, run: () => (js.linear({ x, m, weight: layer.weight, bias: layer.bias, out }), out) });
  }
  const [wasmF32, wasmW8A8, wasmW8A16] = wasmRows('wasm', wasm, m, k, layer.weight, layer.bias, x, refW8A8);
  rows.push(wasmF32);
  if (layer.qg !== null && gRef !== null) {
    const gOut = new Float32Array(m * n);
    const gWeight = layerKernelWeight(layer.qg);
    rows.push({
      name: 'wasm W8A32 group(128)',
      group: 'ours',
      kind: 'float',
      weightBytes: n * k + (n * k) / 32, // + float32 scale per 128 weights
      run: () => (wasm.linear({ x, m, weight: gWeight, bias: layer.bias, out: gOut }), gOut),
      ref: gRef,
    });
  }
  rows.push(wasmW8A8, wasmW8A16, ...wasmRows('wasm 2 threads', wasm2, m, k, layer.weight, layer.bias, x, refW8A8));
  // Where the runtime has relaxed SIMD, the plain SIMD128 build (what Node 20 runs) beside it.
  if (plain !== null) rows.push(...wasmRows('wasm plain SIMD128', plain, m, k, layer.weight, layer.bias, x, refW8A8).slice(0, 2));
  return rows;
}

/**
 * The gpu.js backend's W8A32 row in each mode (its first call, compile and upload, is the checking
 * run and is not timed); rows over the size limits of bench/gpu-modes.ts are left out with a note.
 */
function gpujsRunners({ m, k, n }: Shape, layer: Layer, x: Float32Array, gpus: GpuBackend[], notes: string[]): Runner[] {
  const rows: Runner[] = [];
  for (const gpu of gpus) {
    const skip = gpujsSkip(gpu.mode, m * k * n);
    if (skip !== null) {
      notes.push(`gpu.js ${gpu.mode} row left out (${skip})`);
      continue;
    }
    const out = new Float32Array(m * n);
    rows.push({
      name: `gpu.js ${gpu.mode} W8A32 per-channel`,
      group: 'ours',
      kind: 'float',
      weightBytes: n * k,
      run: () => (gpu.linear({ x, m, weight: layer.weight, bias: layer.bias, out }), out),
      release: () => gpu.release(layer.weight),
    });
  }
  return rows;
}

async function peerRunners(shape: Shape, layer: Layer, x: Float32Array, peers: Awaited<ReturnType<typeof loadPeers>>, notes: string[], gRef: Float32Array | null): Promise<Runner[]> {
  const { m, k, n } = shape;
  const rows: Runner[] = [];
  if (peers.mod === null) {
    notes.push(`onnxruntime rows missing: ${peers.why}`);
    return rows;
  }
  const group = layer.qg === null ? null : { q: layer.qg.weight.data, scale: layer.qg.weightScale.data, groupSize: 128 };
  const graphs = peers.mod.buildGraphs({ q: layer.q.weight.data, scale: layer.q.weightScale.data, w: layer.wFloat, bias: layer.bias, n, k, group });
  for (const rt of peers.runtimes) {
    if (rt.ort === undefined) {
      notes.push(`${rt.name} rows missing: ${rt.error}`);
      continue;
    }
    for (const g of graphs) {
      try {
        const session = await peers.mod.createSession(rt, g.bytes);
        rows.push({
          name: g.name,
          group: rt.name,
          kind: g.kind,
          weightBytes: g.weightBytes,
          run: () => session.run(x, m, k),
          release: () => void session.release(),
          ...(g.grouped && gRef !== null ? { ref: gRef } : {}),
        });
      } catch (e) {
        notes.push(`${rt.name} '${g.name}' missing: ${String((e as Error).message).split('\n')[0].slice(0, 200)}`);
      }
    }
  }
  return rows;
}

/** Warm-up per row: at least this long (and 2 runs), so V8 has tiered wasm and JS up to optimized code. */
const WARMUP_MS = 400;
/** A timed sample repeats a fast row until it lasts about this long (timer resolution, call overhead). */
const SAMPLE_MS = 5;

/**
 * Checks every row against its reference, warms it up, then times all rows in interleaved rounds
 * (round r runs each row once untimed, to have its weights in cache again, then times it), so load
 * from other processes on this shared machine hits every row alike; each row's result is the median
 * of its rounds (at least 7).
 */
async function measureAll(shape: Shape, runners: Runner[], refFloat: Float32Array): Promise<RowResult[]> {
  const { m, k, n } = shape;
  const rows: RowResult[] = [];
  const active: { runner: Runner; row: RowResult; reps: number }[] = [];
  for (const runner of runners) {
    const row: RowResult = { name: runner.name, group: runner.group, kind: runner.kind, ms: null, samples: [], cpuMs: null, cpuSamples: [], gflops: null, gbs: null, vsBaseline: null, relErr: null, check: '' };
    rows.push(row);
    try {
      const first = performance.now();
      const y = await runner.run();
      const firstMs = performance.now() - first;
      const err = relErr(y, runner.ref ?? refFloat);
      row.relErr = err;
      const limit = runner.kind === 'float' ? FLOAT_CHECK : W8A8_CHECK;
      row.check = runner.exact ? runner.exact(y) || 'ok' : 'ok';
      if (!(err <= limit)) row.check = `WRONG: rel err ${err.toExponential(2)} > ${limit}`;
      if (firstMs > SLOW_ROW_MS) {
        row.samples = [firstMs]; // 7 more runs would take minutes: report the one run, and say so
        row.note = `one run only (> ${SLOW_ROW_MS / 1000} s)`;
        continue;
      }
      let runs = 0;
      const start = performance.now();
      while (runs < 2 || (performance.now() - start < WARMUP_MS && runs < 200)) {
        await runner.run();
        runs++;
      }
      const perRun = (performance.now() - start) / runs;
      active.push({ runner, row, reps: Math.max(1, Math.ceil(SAMPLE_MS / perRun)) });
    } catch (e) {
      row.check = `FAILED: ${String((e as Error).message).split('\n')[0]}`;
    }
  }
  const rounds = m * k * n > 2 ** 30 ? 7 : 11;
  for (let r = 0; r < rounds; r++) {
    for (const a of active) {
      await a.runner.run(); // untimed: brings this row's weights back into cache after the other rows ran
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < a.reps; i++) await a.runner.run();
      a.row.samples.push((performance.now() - t0) / a.reps);
      const cpu = process.cpuUsage(c0);
      a.row.cpuSamples.push((cpu.user + cpu.system) / 1000 / a.reps);
    }
  }
  const baseline = rows.find((r) => r.name.includes('(baseline)'));
  const baselineMs = baseline !== undefined && baseline.samples.length > 0 ? median(baseline.samples) : null;
  for (const row of rows) {
    if (row.samples.length === 0) continue;
    const ms = median(row.samples);
    const runner = runners[rows.indexOf(row)];
    row.ms = ms;
    row.cpuMs = row.cpuSamples.length > 0 ? median(row.cpuSamples) : null;
    row.gflops = (2 * m * k * n) / (ms * 1e6);
    row.gbs = m === 1 ? runner.weightBytes / (ms * 1e6) : null;
    row.vsBaseline = baselineMs === null ? null : baselineMs / ms;
  }
  return rows;
}

function fmt(v: number | null, digits: number): string {
  return v === null ? '-' : v.toFixed(digits);
}

/** The bare read loop's GB/s (bench/machine.ts): M = 1 rows print their GB/s as a share of it. */
let readGBs = 0;

function printTable(title: string, rows: RowResult[]): void {
  console.log(`\n${title}`);
  const header = ['row', 'runtime', 'ms (median)', 'cpu ms', 'GFLOP/s', 'GB/s', '% of read bw', 'x naive f32', 'rel err', 'check'];
  const withNote = (r: RowResult) => (r.note === undefined ? r.check : `${r.check}; ${r.note}`);
  const share = (r: RowResult) => (r.gbs === null || readGBs === 0 ? '-' : `${((100 * r.gbs) / readGBs).toFixed(0)}%`);
  const lines = rows.map((r) => [r.name, r.group, fmt(r.ms, 3), fmt(r.cpuMs, 3), fmt(r.gflops, 2), fmt(r.gbs, 2), share(r), r.vsBaseline === null ? '-' : `${r.vsBaseline.toFixed(2)}x`, r.relErr === null ? '-' : r.relErr.toExponential(1), withNote(r)]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i])).join(' | ') + ' |';
  console.log(line(header));
  console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const l of lines) console.log(line(l));
}

/** Registered backends that have their own rows above (the rest get one W8A32 row each). */
const HAS_OWN_ROWS = ['wasm-simd', 'wasm-simd-threads', 'js-packed', 'reference', 'gpujs'];

/** Which W8A8 kernel the default wasm build runs here (backend.ts `relaxedDotSaturates`). */
function w8a8Kernel(): string {
  if (!relaxedSimdSupported()) return 'W8A8 kernel: plain SIMD128 (i32x4.dot_i16x8_s)';
  return relaxedDotSaturates()
    ? 'W8A8 kernel: plain SIMD128 (this engine emulates the relaxed dot with saturating int16 steps, slower here)'
    : 'W8A8 kernel: relaxed dot on 7-bit planes of x (i32x4.relaxed_dot_i8x16_i7x16_add_s)';
}

async function main(): Promise<void> {
  const described: Machine = await describeMachine();
  readGBs = described.readGBs;
  const machine = { ...described, node: process.version, loadavgStart: loadavg() };
  console.log(`int8-linear bench: ${machineLine(described)}; load average ${machine.loadavgStart.map((l) => l.toFixed(2)).join(' ')}`);
  const wasm = await createWasmBackend();
  const plain = relaxedSimdSupported() ? await createWasmBackend({ relaxed: false }) : null;
  console.log(`wasm backend mode: ${wasm.mode}${plain === null ? '' : `, plain build beside it: ${plain.mode}`}; ${w8a8Kernel()}`);
  const wasm2 = await createThreadedWasmBackend({ threads: 2 });
  const js = createJsBackend();
  const ref = createReferenceBackend();
  const peers = await loadPeers();
  const gpus: GpuBackend[] = [];
  if (!flag('--no-gpu')) for (const mode of await gpuModes()) gpus.push(await createGpuBackend({ mode }));
  const others: Backend[] = [];
  for (const v of VARIANTS) if (!HAS_OWN_ROWS.includes(v.factory.name) && v.unavailable() === null) others.push(await v.create());
  const results: { shape: Shape; rows: RowResult[]; notes: string[] }[] = [];

  for (const shape of shapes) {
    const { m, k, n } = shape;
    const layer = makeLayer(k, n, warmSeed(k, n));
    const x = benchInput(m, k, inputSeed(m));
    const refFloat = new Float32Array(m * n);
    referenceLinear({ x, m, weight: layer.weight, bias: layer.bias, out: refFloat });
    const { xq, xScales } = quantizeActivations(x, m, k);
    const refW8A8 = new Float32Array(m * n);
    referenceLinearW8A8({ xq, xScales, m, weight: layer.weight, bias: layer.bias, out: refW8A8 });
    const notes: string[] = [];
    let gRef: Float32Array | null = null;
    if (layer.qg !== null) {
      gRef = new Float32Array(m * n);
      referenceLinear({ x, m, weight: layerKernelWeight(layer.qg), bias: layer.bias, out: gRef });
    }
    const runners = [
      ...ourRunners(shape, layer, x, wasm, wasm2, plain, js, ref, gRef, refW8A8),
      ...others.map((b): Runner => {
        const out = new Float32Array(m * n);
        return { name: `${b.name} (${b.mode}) W8A32 per-channel`, group: 'ours', kind: 'float', weightBytes: n * k, run: async () => (await runLinearAsync(b, { x, m, weight: layer.weight, bias: layer.bias, out }), out) };
      }),
      ...gpujsRunners(shape, layer, x, gpus, notes),
      ...(await peerRunners(shape, layer, x, peers, notes, gRef)),
    ];
    const rows = await measureAll(shape, runners, refFloat);
    for (const runner of runners) runner.release?.();
    results.push({ shape, rows, notes });
    printTable(`${m}x${k}x${n} (M x K x N), warm cache, W8A8 accuracy: ${relErr(refW8A8, refFloat).toExponential(2)} rel. to weight-only`, rows);
    for (const note of notes) console.log(`  note: ${note}`);
  }

  const cold = flag('--no-cold') ? null : await coldCase(wasm, wasm2, plain, peers);
  wasm.dispose();
  plain?.dispose();
  wasm2.dispose();
  for (const gpu of gpus) gpu.dispose();
  for (const b of others) b.dispose();
  const report = { machine: { ...machine, loadavgEnd: loadavg() }, date: new Date().toISOString(), results, cold };
  if (jsonPath !== undefined) {
    writeFileSync(jsonPath, JSON.stringify(report, null, 1) + '\n');
    console.log(`\nwrote ${jsonPath}`);
  }
}

/** 1x4096x4096 rotating 4 layers (64 MiB int8, 256 MiB float32): every run reads its weights from DRAM. */
async function coldCase(wasm: W8A8Backend & W8A16Backend, wasm2: W8A8Backend & W8A16Backend, plain: (W8A8Backend & W8A16Backend) | null, peers: Awaited<ReturnType<typeof loadPeers>>) {
  const shape = { m: 1, k: 4096, n: 4096 };
  const layers = COLD_SEEDS.map((seed) => makeLayer(shape.k, shape.n, seed));
  const x = benchInput(1, shape.k, COLD_INPUT_SEED);
  const refs = layers.map((l) => {
    const y = new Float32Array(shape.n);
    referenceLinear({ x, m: 1, weight: l.weight, bias: l.bias, out: y });
    return y;
  });
  const perLayer: Runner[][] = [];
  const notes: string[] = [];
  for (const layer of layers) {
    const ours: Runner[] = [
      ...wasmRows('wasm', wasm, 1, shape.k, layer.weight, layer.bias, x, null),
      ...wasmRows('wasm 2 threads', wasm2, 1, shape.k, layer.weight, layer.bias, x, null),
      ...(plain === null ? [] : wasmRows('wasm plain SIMD128', plain, 1, shape.k, layer.weight, layer.bias, x, null).slice(0, 2)),
    ];
    const peerRows = (await peerRunners(shape, layer, x, peers, notes, null)).filter((r) => r.name.startsWith('Gemm') || r.name.includes('W8A8'));
    perLayer.push([...ours, ...peerRows]);
  }
  const rotating: Runner[] = [];
  for (let j = 0; j < perLayer[0].length; j++) {
    // each layer checked against its own reference once; the timed runs rotate through the 4 layers
    let check = 'ok';
    for (let i = 0; i < 4; i++) {
      const e = relErr(await perLayer[i][j].run(), refs[i]);
      if (!(e <= (perLayer[0][j].kind === 'float' ? FLOAT_CHECK : W8A8_CHECK))) check = `WRONG: layer ${i} rel err ${e.toExponential(2)}`;
    }
    let turn = 0;
    rotating.push({ ...perLayer[0][j], run: () => perLayer[turn++ % 4][j].run(), exact: () => check, ref: refs[0] });
  }
  const rows = await measureAll(shape, rotating, refs[0]);
  for (const per of perLayer) for (const r of per) r.release?.();
  printTable('1x4096x4096 cold cache: 4 layers rotated (64 MiB int8 > L3), median per call', rows);
  for (const note of new Set(notes)) console.log(`  note: ${note}`);
  return { shape, rows, notes: [...new Set(notes)] };
}

await main();
