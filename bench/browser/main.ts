import { createWasmBackend, createWorkerBackend, type WasmBackend, type WorkerBackend } from 'int8-linear';
import { quantizeActivations, referenceLinear, referenceLinearW8A8, runLinearAsync, runLinearW8A8Async } from 'int8-linear/advanced';
import { COLD_INPUT_SEED, COLD_SEEDS, benchInput, inputSeed, makeLayer, warmSeed, type BenchLayer } from '../layers.js';
import { median, relErr } from '../stats.js';

/**
 * The browser benchmark page (bench/browser.ts builds, serves and drives it): the same seeded layers
 * as `npm run bench`, on createWasmBackend() on the page's thread (relaxed SIMD and plain SIMD128),
 * on createWorkerBackend() with 1 and 2 threads (forwardAsync: includes posting x and the output),
 * and on onnxruntime-web in this page (its wasm build, 1 thread, the graphs bench/peers/ort.mjs
 * builds, written next to the page by the driver). Every row is checked first (W8A32 rows within
 * 1e-4 of the reference, ours W8A8 bit for bit referenceLinearW8A8, the peers' W8A8 within 5e-2),
 * then timed in interleaved rounds: the median of the rounds.
 */
export interface PageRow {
  readonly name: string;
  readonly group: 'ours' | 'onnxruntime-web';
  readonly ms: number | null;
  readonly samples: number[];
  readonly check: string;
}

export interface PageCase {
  readonly title: string;
  readonly shape: { m: number; k: number; n: number };
  readonly rows: PageRow[];
}

export interface PageReport {
  readonly userAgent: string;
  readonly crossOriginIsolated: boolean;
  readonly hardwareConcurrency: number;
  readonly modes: Record<string, string>;
  readonly cases: PageCase[];
  readonly error: string | null;
}

declare global {
  interface Window {
    benchDone: Promise<PageReport>;
  }
}

/** The graph files the driver wrote: per layer seed, the onnxruntime graphs (name -> file). */
interface GraphIndex {
  readonly graphs: Record<string, { name: string; file: string; kind: 'float' | 'w8a8' }[]>;
}

interface Row {
  name: string;
  group: PageRow['group'];
  kind: 'float' | 'w8a8-ours' | 'w8a8-peer';
  /** Runs once on layer `i` (of the case's layers) and returns its output. */
  run(i: number): Promise<Float32Array> | Float32Array;
}

const WARMUP_MS = 300;
const SAMPLE_MS = 5;

/** The part of onnxruntime-web's API the page uses (it is loaded at run time, not bundled or typechecked against). */
interface Ort {
  env: { wasm: { numThreads: number; wasmPaths: string } };
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => unknown;
  InferenceSession: { create(bytes: Uint8Array, options: Record<string, unknown>): Promise<{ run(feeds: Record<string, unknown>): Promise<Record<string, { data: unknown }>> }> };
}

async function loadOrt(): Promise<Ort | null> {
  try {
    const url = './ort.wasm.min.mjs'; // copied here by the driver; not bundled
    const ort = (await import(/* @vite-ignore */ url)) as Ort;
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.wasmPaths = new URL('./', location.href).href;
    return ort;
  } catch (e) {
    console.error('onnxruntime-web did not load', e);
    return null;
  }
}

/** W8A32 and W8A8 rows of one of our backends, through the dispatch (awaited: the worker backend answers asynchronously). */
function ourRows(label: string, b: WasmBackend | WorkerBackend, layers: BenchLayer[], x: Float32Array, m: number): Row[] {
  const outs = layers.map((l) => new Float32Array(m * l.weight.n));
  const k = layers[0].weight.k;
  const call = (i: number) => ({ m, weight: layers[i].weight, bias: layers[i].bias, out: outs[i] });
  return [
    { name: `${label} W8A32`, group: 'ours', kind: 'float', run: async (i) => (await runLinearAsync(b, { x, ...call(i) }), outs[i]) },
    { name: `${label} W8A8 (incl. quantizing x)`, group: 'ours', kind: 'w8a8-ours', run: async (i) => (await runLinearW8A8Async(b, { ...quantizeActivations(x, m, k), ...call(i) }), outs[i]) },
  ];
}

async function peerRows(ort: Ort | null, index: GraphIndex, seeds: readonly number[], m: number, k: number): Promise<Row[]> {
  if (ort === null) return [];
  const rows: Row[] = [];
  for (const g of index.graphs[String(seeds[0])]) {
    const sessions: Awaited<ReturnType<Ort['InferenceSession']['create']>>[] = [];
    for (const seed of seeds) {
      const file = index.graphs[String(seed)].find((h) => h.name === g.name)!.file;
      const bytes = new Uint8Array(await (await fetch(file)).arrayBuffer());
      sessions.push(await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' }));
    }
    rows.push({
      name: `${g.name} (1 thread)`,
      group: 'onnxruntime-web',
      kind: g.kind === 'float' ? 'float' : 'w8a8-peer',
      run: async (i) => {
        const x = currentX;
        const r = await sessions[i].run({ X: new ort.Tensor('float32', x, [m, k]) });
        return r.Y.data as Float32Array;
      },
    });
  }
  return rows;
}

/** The input of the case being measured (the peers' rows read it when they run). */
let currentX: Float32Array = new Float32Array(0);

async function measure(title: string, shape: PageCase['shape'], layers: BenchLayer[], x: Float32Array, rows: Row[]): Promise<PageCase> {
  currentX = x;
  const { m } = shape;
  const refs = layers.map((l) => {
    const y = new Float32Array(m * l.weight.n);
    referenceLinear({ x, m, weight: l.weight, bias: l.bias, out: y });
    return y;
  });
  const refs8 = layers.map((l) => {
    const y = new Float32Array(m * l.weight.n);
    referenceLinearW8A8({ ...quantizeActivations(x, m, l.weight.k), m, weight: l.weight, bias: l.bias, out: y });
    return y;
  });
  const results: { row: Row; check: string; samples: number[]; reps: number }[] = [];
  for (const row of rows) {
    let check = 'ok';
    try {
      for (let i = 0; i < layers.length; i++) {
        const y = await row.run(i);
        if (row.kind === 'w8a8-ours') {
          const bad = y.findIndex((v, j) => !Object.is(v, refs8[i][j]));
          if (bad >= 0) check = `WRONG: layer ${i} differs from referenceLinearW8A8 at ${bad}`;
          else check = 'bit-exact vs referenceLinearW8A8';
        } else {
          const e = relErr(y, refs[i]);
          if (!(e <= (row.kind === 'float' ? 1e-4 : 5e-2))) check = `WRONG: layer ${i} rel err ${e.toExponential(2)}`;
        }
      }
      let runs = 0;
      const t0 = performance.now();
      while (runs < 2 || (performance.now() - t0 < WARMUP_MS && runs < 200)) await row.run(runs++ % layers.length);
      const per = (performance.now() - t0) / runs;
      results.push({ row, check, samples: [], reps: Math.max(layers.length, Math.ceil(SAMPLE_MS / per)) });
    } catch (e) {
      results.push({ row, check: `FAILED: ${String((e as Error).message ?? e).split('\n')[0]}`, samples: [], reps: 0 });
    }
  }
  const rounds = m * shape.k * shape.n > 2 ** 30 ? 7 : 11;
  let turn = 0;
  for (let r = 0; r < rounds; r++) {
    for (const res of results) {
      if (res.reps === 0) continue;
      await res.row.run(turn % layers.length); // untimed: this row's weights back in cache (warm case)
      const t0 = performance.now();
      for (let j = 0; j < res.reps; j++) await res.row.run(turn++ % layers.length);
      res.samples.push((performance.now() - t0) / res.reps);
    }
  }
  return { title, shape, rows: results.map((r) => ({ name: r.row.name, group: r.row.group, ms: r.samples.length > 0 ? median(r.samples) : null, samples: r.samples, check: r.check })) };
}

async function run(): Promise<PageReport> {
  const index = (await (await fetch('./graphs.json')).json()) as GraphIndex;
  const ort = await loadOrt();
  const relaxed = await createWasmBackend();
  const plain = await createWasmBackend({ relaxed: false });
  const w1 = await createWorkerBackend({ threads: 1 });
  const w2 = await createWorkerBackend({ threads: 2 });
  const modes = { page: relaxed.mode, plain: plain.mode, workers1: `${w1.mode}: ${w1.reason}`, workers2: `${w2.mode}: ${w2.reason}`, ort: ort === null ? 'missing' : 'onnxruntime-web wasm, 1 thread' };
  const cases: PageCase[] = [];
  const backends = (layers: BenchLayer[], x: Float32Array, m: number): Row[] => [
    ...ourRows('wasm page thread, relaxed', relaxed, layers, x, m),
    ...ourRows('wasm page thread, plain SIMD128', plain, layers, x, m),
    ...ourRows('workers, 1 thread', w1, layers, x, m),
    ...ourRows('workers, 2 threads', w2, layers, x, m),
  ];
  const k = 4096;
  const n = 4096;
  const warm = [makeLayer(k, n, warmSeed(k, n))];
  for (const m of [1, 128]) {
    const x = benchInput(m, k, inputSeed(m));
    const rows = [...backends(warm, x, m), ...(await peerRows(ort, index, [warmSeed(k, n)], m, k))];
    cases.push(await measure(`${m}x${k}x${n} warm cache`, { m, k, n }, warm, x, rows));
  }
  const cold = COLD_SEEDS.map((seed) => makeLayer(k, n, seed));
  const x = benchInput(1, k, COLD_INPUT_SEED);
  const rows = [...backends(cold, x, 1), ...(await peerRows(ort, index, COLD_SEEDS, 1, k))];
  cases.push(await measure(`1x${k}x${n} cold cache: ${cold.length} layers rotated (64 MiB int8 > L3)`, { m: 1, k, n }, cold, x, rows));
  for (const b of [relaxed, plain, w1, w2]) b.dispose();
  return { userAgent: navigator.userAgent, crossOriginIsolated, hardwareConcurrency: navigator.hardwareConcurrency, modes, cases, error: null };
}

function render(r: PageReport): void {
  const root = document.getElementById('results') as HTMLElement;
  root.innerHTML = r.cases
    .map((c) => `<h2>${c.title}</h2><table><tr><th>row</th><th>runtime</th><th>ms (median)</th><th>check</th></tr>${c.rows.map((row) => `<tr><td>${row.name}</td><td>${row.group}</td><td>${row.ms?.toFixed(3) ?? '-'}</td><td>${row.check}</td></tr>`).join('')}</table>`)
    .join('');
}

window.benchDone = run().catch((e: unknown) => ({ userAgent: navigator.userAgent, crossOriginIsolated, hardwareConcurrency: navigator.hardwareConcurrency, modes: {}, cases: [], error: String((e as Error)?.stack ?? e) }));
void window.benchDone.then((r) => (r.error === null ? render(r) : ((document.getElementById('results') as HTMLElement).textContent = r.error)));
