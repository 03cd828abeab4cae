import { availableBackends, createGpuBackend, type GpuModeRequest } from 'int8-linear/gpu';
import { bench, runCases, type BenchRow, type CaseResult } from './demo.js';

/**
 * The example page: runs the demo cases on every backend `availableBackends()` lists here, and on
 * the gpu.js backend in the modes the URL asks for (?modes=webgl2,webgpu), then shows the scale
 * shapes, the error against the reference and timings. The e2e test drives it through
 * `window.int8Linear`.
 */
export interface ModeReport {
  readonly requested: string;
  readonly backend: string;
  readonly mode: string;
  readonly cases: CaseResult[];
  readonly bench: BenchRow[];
  readonly error: string | null;
}

async function runMode(requested: GpuModeRequest | 'available', withBench: boolean): Promise<ModeReport[]> {
  const reports: ModeReport[] = [];
  try {
    const backends = requested === 'available' ? await availableBackends() : [await createGpuBackend({ mode: requested })];
    for (const b of backends) {
      try {
        const cases = await runCases(b);
        reports.push({ requested, backend: b.name, mode: b.mode, cases, bench: withBench ? await bench(b) : [], error: null });
      } finally {
        b.dispose();
      }
    }
  } catch (e) {
    reports.push({ requested, backend: 'gpujs', mode: '-', cases: [], bench: [], error: String(e) });
  }
  return reports;
}

function render(reports: ModeReport[]): void {
  const root = document.getElementById('results') as HTMLElement;
  const fmt = (v: number) => (v < 0.01 ? v.toExponential(2) : v.toFixed(3));
  const rows = reports.flatMap((r) =>
    r.error !== null
      ? [`<tr><td>${r.requested}</td><td colspan="5" class="err">${r.error}</td></tr>`]
      : r.cases.map(
          (c) =>
            `<tr><td>${r.backend}/${r.mode}</td><td>${c.label}</td><td>${c.scaleShape}</td><td>${fmt(c.maxAbsError)}</td>` +
            `<td>${c.bytesPerWeight === null ? '-' : c.bytesPerWeight.toFixed(3)}</td></tr>`,
        ),
  );
  const bench = reports.flatMap((r) =>
    r.bench.map((b) => `<tr><td>${b.label}</td><td>${b.backend}</td><td>${b.firstMs.toFixed(1)}</td><td>${b.medianMs.toFixed(2)}</td><td>${b.runs}</td></tr>`),
  );
  root.innerHTML =
    `<table><tr><th>backend/mode</th><th>case (MxKxN)</th><th>scale shape</th><th>max |y - reference|</th><th>device bytes/weight</th></tr>${rows.join('')}</table>` +
    `<p>Device bytes per weight: packed int8 (4/3 bytes) plus float32 scales, as gpu.js allocated them; in tiny layers ` +
    `the padding of the last 3 rows and the scales (4 bytes per group) weigh more.</p>` +
    `<h2>Timings (ms)</h2><table><tr><th>shape</th><th>backend/mode</th><th>first call</th><th>median</th><th>runs</th></tr>${bench.join('')}</table>`;
}

async function main(): Promise<ModeReport[]> {
  const params = new URLSearchParams(location.search);
  const modes = (params.get('modes') ?? 'available').split(',') as (GpuModeRequest | 'available')[];
  const withBench = params.get('bench') !== '0';
  const reports: ModeReport[] = [];
  for (const mode of modes) reports.push(...(await runMode(mode, withBench && mode !== 'available')));
  render(reports);
  return reports;
}

declare global {
  interface Window {
    int8Linear: { done: Promise<ModeReport[]> };
  }
}

window.int8Linear = { done: main() };
