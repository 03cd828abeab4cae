/**
 * `npm run bench:browser [-- --out NAME]`: the browser benchmark. Builds the page bench/browser
 * (the package from dist/: the npm script runs `npm run build` first), writes next to it the
 * onnxruntime graphs of the same seeded layers (bench/peers/ort.mjs: Gemm float32 and the W8A8
 * DynamicQuantizeLinear + MatMulInteger graphs, 8-bit and 7-bit weights) and onnxruntime-web's wasm
 * files (from bench/peers: `npm run bench:peers`), serves it cross-origin isolated on 127.0.0.1 (so the
 * worker backend gets 2 threads), runs it in Debian's Chromium, headless, and prints the tables, the
 * machine and the ratios the targets of docs/wasm.md are read from. `--out NAME` also writes
 * bench/results/NAME.{md,json}.
 */
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CROSS_ORIGIN_ISOLATION, bundlePage, servePage } from '../scripts/pages.js';
import { launchChromium, within } from '../test/e2e/harness.js';
import type { PageCase, PageReport } from './browser/main.js';
import { COLD_SEEDS, makeLayer, warmSeed } from './layers.js';
import { describeMachine } from './machine.js';
import type * as OrtPeers from './peers/ort.mjs';

const ROOT = join(import.meta.dirname, '..');
const PEERS = join(ROOT, 'bench/peers/node_modules');
const ORT_FILES = ['ort.wasm.min.mjs', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'];
const PAGE_TIMEOUT_MS = 20 * 60_000;

const args = process.argv.slice(2);
const outName = args.includes('--out') ? args[args.indexOf('--out') + 1] : undefined;

async function writeGraphs(dir: string): Promise<{ graphs: Record<string, { name: string; file: string; kind: string }[]> }> {
  const ort: typeof OrtPeers = await import('./peers/ort.mjs');
  const k = 4096;
  const n = 4096;
  const graphs: Record<string, { name: string; file: string; kind: string }[]> = {};
  for (const seed of [warmSeed(k, n), ...COLD_SEEDS]) {
    const layer = makeLayer(k, n, seed);
    const all = ort.buildGraphs({ q: layer.q.weight.data, scale: layer.q.weightScale.data, w: layer.wFloat, bias: layer.bias, n, k, group: null });
    graphs[String(seed)] = all
      .filter((g) => g.name.startsWith('Gemm') || g.name.includes('W8A8'))
      .map((g, i) => {
        const file = `graph-${seed}-${i}.onnx`;
        writeFileSync(join(dir, file), g.bytes);
        return { name: g.name, file, kind: g.kind };
      });
  }
  return { graphs };
}

function rowOf(c: PageCase, name: string): number | null {
  return c.rows.find((r) => r.name === name)?.ms ?? null;
}

/** "a / b" as a ratio string (how many times faster `fast` is than `slow`). */
function ratio(slow: number | null, fast: number | null): string {
  return slow === null || fast === null ? '-' : `${(slow / fast).toFixed(2)}x`;
}

function table(c: PageCase): string {
  const lines = [`${c.title}`, '| row | runtime | ms (median) | min..max of rounds | check |', '|---|---|---|---|---|'];
  for (const r of c.rows) {
    const spread = r.samples.length === 0 ? '-' : `${Math.min(...r.samples).toFixed(3)}..${Math.max(...r.samples).toFixed(3)}`;
    lines.push(`| ${r.name} | ${r.group} | ${r.ms?.toFixed(3) ?? '-'} | ${spread} | ${r.check} |`);
  }
  return lines.join('\n');
}

/** The ratios the targets are read from, per case. */
function ratios(c: PageCase): string[] {
  const ours = (s: string) => rowOf(c, `wasm page thread, ${s}`);
  const gemm = rowOf(c, 'Gemm float32 (transB) (1 thread)');
  const w8a8Peer8 = rowOf(c, 'DynamicQuantizeLinear+MatMulInteger W8A8 (8-bit weights) (1 thread)');
  const w8a8Peer7 = rowOf(c, 'DynamicQuantizeLinear+MatMulInteger W8A8 (7-bit weights, reduce_range) (1 thread)');
  return [
    `W8A32 relaxed vs onnxruntime-web float32 Gemm: ${ratio(gemm, ours('relaxed W8A32'))} (plain SIMD128: ${ratio(gemm, ours('plain SIMD128 W8A32'))})`,
    `W8A8 relaxed vs onnxruntime-web W8A8, 8-bit / 7-bit weights: ${ratio(w8a8Peer8, ours('relaxed W8A8 (incl. quantizing x)'))} / ${ratio(w8a8Peer7, ours('relaxed W8A8 (incl. quantizing x)'))}`,
    `relaxed vs plain SIMD128, W8A32 / W8A8: ${ratio(ours('plain SIMD128 W8A32'), ours('relaxed W8A32'))} / ${ratio(ours('plain SIMD128 W8A8 (incl. quantizing x)'), ours('relaxed W8A8 (incl. quantizing x)'))}`,
    `workers 2 threads vs 1 thread, W8A32 / W8A8: ${ratio(rowOf(c, 'workers, 1 thread W8A32'), rowOf(c, 'workers, 2 threads W8A32'))} / ${ratio(rowOf(c, 'workers, 1 thread W8A8 (incl. quantizing x)'), rowOf(c, 'workers, 2 threads W8A8 (incl. quantizing x)'))}`,
    `workers 1 thread vs the page thread (the cost of the messages), W8A32: ${ratio(ours('relaxed W8A32'), rowOf(c, 'workers, 1 thread W8A32'))}`,
  ];
}

async function main(): Promise<void> {
  if (!existsSync(join(PEERS, 'onnxruntime-web'))) {
    console.error('bench:browser needs onnxruntime-web from bench/peers: run `npm run bench:peers` first');
    process.exit(1);
  }
  const machine = await describeMachine();
  const dir = join(tmpdir(), 'int8-linear-bench-browser');
  const page = await bundlePage(join(ROOT, 'bench/browser/main.ts'), dir, [join(ROOT, 'bench/browser/index.html')]);
  for (const f of ORT_FILES) copyFileSync(join(PEERS, 'onnxruntime-web/dist', f), join(page.outdir, f));
  writeFileSync(join(page.outdir, 'graphs.json'), JSON.stringify(await writeGraphs(page.outdir)));
  const { server, url } = await servePage(page.outdir, 0, CROSS_ORIGIN_ISOLATION);
  const browser = await launchChromium();
  let report: PageReport;
  try {
    const tab = browser.context.pages()[0] ?? (await browser.context.newPage());
    tab.on('console', (m) => {
      if (m.type() === 'error') console.log(`  [browser] ${m.text()}`);
    });
    await tab.goto(url);
    report = await within(tab.evaluate(() => window.benchDone, undefined), PAGE_TIMEOUT_MS, 'the bench page');
  } finally {
    await browser.close();
    server.close();
  }
  if (report.error !== null) {
    console.error(report.error);
    process.exit(1);
  }
  const chromium = /Chrome\/[\d.]+/.exec(report.userAgent)?.[0] ?? report.userAgent;
  const head = [
    `int8-linear browser bench: ${machine.cpu}, ${machine.cores} cores, flags: ${machine.flags.join(' ') || '-'}; bare read loop over 64 MiB (wasm, in Node): ${machine.readGBs.toFixed(1)} GB/s`,
    `browser: ${chromium} (headless, Debian chromium), crossOriginIsolated=${report.crossOriginIsolated}, navigator.hardwareConcurrency=${report.hardwareConcurrency}`,
    ...Object.entries(report.modes).map(([k, v]) => `  ${k}: ${v}`),
    `date: ${new Date().toISOString()}`,
  ];
  const body = report.cases.map((c) => `${table(c)}\n\n${ratios(c).map((r) => `- ${r}`).join('\n')}`);
  const text = `${head.join('\n')}\n\n${body.join('\n\n')}\n`;
  console.log(text);
  if (outName !== undefined) {
    mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench/results', `${outName}.md`), text);
    writeFileSync(join(ROOT, 'bench/results', `${outName}.json`), JSON.stringify({ machine, report }, null, 1) + '\n');
    console.log(`wrote bench/results/${outName}.{md,json}`);
  }
}

await main();
