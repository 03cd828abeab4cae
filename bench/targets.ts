/**
 * `npx tsx bench/targets.ts FILE.json ...`: the issue-12 targets table of docs/wasm.md, read from
 * runs of `npm run bench -- --json FILE.json` (Node) and `npm run bench:browser -- --out NAME`
 * (Chromium; its NAME.json): one line per target and runtime, each run's ratio in the order given,
 * and their spread (min..max). Ratios are of medians of one run's interleaved rounds (wall time), so
 * a row and its peer always ran under the same load.
 */
import { readFileSync } from 'node:fs';

interface Row {
  name: string;
  group: string;
  ms: number | null;
}
interface NodeRun {
  machine: { runtime: string };
  results: { shape: { m: number; k: number; n: number }; rows: Row[] }[];
  cold: { rows: Row[] } | null;
}
interface BrowserRun {
  report: { userAgent: string; cases: { title: string; shape: { m: number }; rows: Row[] }[] };
}

/** One target: how to read its ratio (higher is better) from a run's rows, and the bar. */
interface Target {
  readonly what: string;
  readonly bar: string;
  /** The ratio, or null when a row is missing; `ok` says whether it meets the bar. */
  ratio(rows: (name: string, group?: string) => number | null): number | null;
  ok(r: number): boolean;
}

const ORT_GEMM = 'Gemm float32 (transB)';
const ORT_W8A8_7 = 'DynamicQuantizeLinear+MatMulInteger W8A8 (7-bit weights, reduce_range)';
const ORT_W8A8_8 = 'DynamicQuantizeLinear+MatMulInteger W8A8 (8-bit weights)';
const div = (a: number | null, b: number | null) => (a === null || b === null ? null : a / b);

/** Row names of the two benches for the same thing: [Node bench/run.ts, browser page]. */
const OURS = {
  w8a32: ['wasm W8A32 per-channel', 'wasm page thread, relaxed W8A32'],
  w8a8: ['wasm W8A8 per-channel (incl. quantizing x)', 'wasm page thread, relaxed W8A8 (incl. quantizing x)'],
  plainW8a32: ['wasm plain SIMD128 W8A32 per-channel', 'wasm page thread, plain SIMD128 W8A32'],
  plainW8a8: ['wasm plain SIMD128 W8A8 per-channel (incl. quantizing x)', 'wasm page thread, plain SIMD128 W8A8 (incl. quantizing x)'],
} as const;

function targets(browser: boolean): { shape: 'warm1' | 'cold' | 'warm128'; t: Target }[] {
  const i = browser ? 1 : 0;
  const peer = (name: string) => (browser ? `${name} (1 thread)` : name);
  const web = browser ? undefined : 'onnxruntime-web';
  const list: { shape: 'warm1' | 'cold' | 'warm128'; t: Target }[] = [
    { shape: 'warm1', t: { what: '1x4096x4096 W8A32 vs onnxruntime-web float32 Gemm, warm', bar: '>= 2x', ratio: (r) => div(r(peer(ORT_GEMM), web), r(OURS.w8a32[i])), ok: (x) => x >= 2 } },
    { shape: 'cold', t: { what: '1x4096x4096 W8A32 vs onnxruntime-web float32 Gemm, cold (4 layers)', bar: '>= 1.8x', ratio: (r) => div(r(peer(ORT_GEMM), web), r(OURS.w8a32[i])), ok: (x) => x >= 1.8 } },
    { shape: 'warm128', t: { what: '128x4096x4096 W8A8 vs onnxruntime-web W8A8 (7-bit weights)', bar: '>= 2x', ratio: (r) => div(r(peer(ORT_W8A8_7), web), r(OURS.w8a8[i])), ok: (x) => x >= 2 } },
    { shape: 'warm128', t: { what: '128x4096x4096 W8A8 vs onnxruntime-web W8A8 (8-bit weights)', bar: '>= 2x', ratio: (r) => div(r(peer(ORT_W8A8_8), web), r(OURS.w8a8[i])), ok: (x) => x >= 2 } },
    { shape: 'warm128', t: { what: '128x4096x4096 W8A32 vs onnxruntime-web float32 Gemm', bar: '>= 2x', ratio: (r) => div(r(peer(ORT_GEMM), web), r(OURS.w8a32[i])), ok: (x) => x >= 2 } },
    { shape: 'warm1', t: { what: '1x4096x4096 relaxed vs plain SIMD128, W8A32', bar: '> 1x', ratio: (r) => div(r(OURS.plainW8a32[i]), r(OURS.w8a32[i])), ok: (x) => x > 1 } },
    { shape: 'warm1', t: { what: '1x4096x4096 relaxed vs plain SIMD128, W8A8', bar: '> 1x', ratio: (r) => div(r(OURS.plainW8a8[i]), r(OURS.w8a8[i])), ok: (x) => x > 1 } },
  ];
  if (!browser) {
    // W8A8 <= 1.2x the native kernel's time: as a speed ratio, native / ours >= 1 / 1.2.
    list.splice(2, 0, { shape: 'warm1', t: { what: '1x4096x4096 W8A8 vs onnxruntime-node DynamicQuantizeMatMul (7-bit weights), time ratio ours / native', bar: '<= 1.2x', ratio: (r) => div(r(OURS.w8a8[0]), r(ORT_W8A8_7, 'onnxruntime-node')), ok: (x) => x <= 1.2 } });
  } else {
    list.push({ shape: 'warm1', t: { what: '1x4096x4096 workers 2 threads vs 1 thread, W8A32', bar: '(reported)', ratio: (r) => div(r('workers, 1 thread W8A32'), r('workers, 2 threads W8A32')), ok: () => true } });
    list.push({ shape: 'warm128', t: { what: '128x4096x4096 workers 2 threads vs 1 thread, W8A32', bar: '(reported)', ratio: (r) => div(r('workers, 1 thread W8A32'), r('workers, 2 threads W8A32')), ok: () => true } });
  }
  return list;
}

function lookup(rows: Row[] | undefined): (name: string, group?: string) => number | null {
  return (name, group) => rows?.find((r) => r.name === name && (group === undefined || r.group === group))?.ms ?? null;
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: npx tsx bench/targets.ts run1.json run2.json run3.json  (bench/run.ts --json or bench/browser.ts --out files)');
  process.exit(2);
}
const runs = files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as NodeRun | BrowserRun);
const groups = new Map<string, { browser: boolean; shapes: Record<string, Row[] | undefined>[] }>();
for (const run of runs) {
  const browser = 'report' in run;
  const label = browser ? `Chromium ${/Chrome\/([\d.]+)/.exec(run.report.userAgent)?.[1] ?? ''}` : run.machine.runtime;
  const shapes = browser
    ? {
        warm1: run.report.cases.find((c) => c.shape.m === 1 && !c.title.includes('cold'))?.rows,
        cold: run.report.cases.find((c) => c.title.includes('cold'))?.rows,
        warm128: run.report.cases.find((c) => c.shape.m === 128)?.rows,
      }
    : {
        warm1: run.results.find((r) => r.shape.m === 1 && r.shape.k === 4096 && r.shape.n === 4096)?.rows,
        cold: run.cold?.rows,
        warm128: run.results.find((r) => r.shape.m === 128 && r.shape.k === 4096)?.rows,
      };
  const g = groups.get(label) ?? { browser, shapes: [] };
  g.shapes.push(shapes);
  groups.set(label, g);
}
console.log('| runtime | target | bar | runs | spread | met in |');
console.log('|---|---|---|---|---|---|');
for (const [label, g] of groups) {
  for (const { shape, t } of targets(g.browser)) {
    const values = g.shapes.map((s) => t.ratio(lookup(s[shape])));
    const have = values.filter((v): v is number => v !== null);
    if (have.length === 0) continue;
    const spread = `${Math.min(...have).toFixed(2)}..${Math.max(...have).toFixed(2)}`;
    console.log(`| ${label} | ${t.what} | ${t.bar} | ${values.map((v) => (v === null ? '-' : `${v.toFixed(2)}x`)).join(', ')} | ${spread} | ${have.filter((v) => t.ok(v)).length} of ${have.length} |`);
  }
}
