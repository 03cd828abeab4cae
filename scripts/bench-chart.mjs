// `node scripts/bench-chart.mjs bench/results/bench.json [out.svg]`: an SVG bar chart of a
// `npm run bench -- --json` result: one panel per shape (and the cold-cache case), one bar per row,
// bar length = speed relative to the naive float32 JS loop (log scale), labelled with the median ms.
import { readFileSync, writeFileSync } from 'node:fs';

const [input = 'bench/results/bench.json', output = input.replace(/\.json$/, '.svg')] = process.argv.slice(2);
const report = JSON.parse(readFileSync(input, 'utf8'));

const COLORS = { ours: '#1f77b4', 'onnxruntime-node': '#7f7f7f', 'onnxruntime-web': '#ff7f0e' };
const ROW_H = 16;
const LABEL_W = 480;
const BAR_W = 420;
const PAD = 8;

const escape = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const panels = [
  ...report.results.map((r) => ({ title: `${r.shape.m}x${r.shape.k}x${r.shape.n} (M x K x N), warm`, rows: r.rows })),
  ...(report.cold ? [{ title: '1x4096x4096 cold cache (4 layers rotated), ms per call', rows: report.cold.rows }] : []),
];

// x axis: log10 of speed-up over the slowest timed row of the panel (cold panel has no baseline)
let y = 40;
const parts = [];
for (const panel of panels) {
  const timed = panel.rows.filter((r) => r.ms !== null);
  const slowest = Math.max(...timed.map((r) => r.ms));
  const fastest = Math.min(...timed.map((r) => r.ms));
  const span = Math.max(Math.log10(slowest / fastest), 0.3);
  parts.push(`<text x="${PAD}" y="${y}" font-weight="bold">${escape(panel.title)}</text>`);
  y += 6;
  for (const r of panel.rows) {
    y += ROW_H;
    const wrong = r.check.startsWith('WRONG') || r.check.startsWith('FAILED');
    const label = `${r.name} [${r.group === 'ours' ? 'int8-linear' : r.group}]${wrong ? ' (wrong result)' : ''}`;
    parts.push(`<text x="${LABEL_W - 4}" y="${y - 4}" text-anchor="end">${escape(label)}</text>`);
    if (r.ms === null) {
      parts.push(`<text x="${LABEL_W + 4}" y="${y - 4}" fill="#999">not run: ${escape(r.check)}</text>`);
      continue;
    }
    const w = Math.max(2, (BAR_W * (0.15 + Math.log10(slowest / r.ms))) / (span + 0.15));
    const color = COLORS[r.group] ?? '#2ca02c';
    parts.push(`<rect x="${LABEL_W}" y="${y - ROW_H + 3}" width="${w.toFixed(1)}" height="${ROW_H - 4}" fill="${color}" fill-opacity="${wrong ? 0.35 : 1}"/>`);
    const ratio = r.vsBaseline ? `, ${r.vsBaseline.toFixed(1)}x naive f32` : '';
    parts.push(`<text x="${(LABEL_W + w + 4).toFixed(1)}" y="${y - 4}">${r.ms.toFixed(r.ms < 10 ? 2 : 1)} ms${ratio}</text>`);
  }
  y += 24;
}
const width = LABEL_W + BAR_W + 200;
const m = report.machine;
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>
<text x="${PAD}" y="18" font-size="13" font-weight="bold">${escape(`int8-linear bench: ${m.cpu}, ${m.cores} cores, Node ${m.node}, single thread; bars: speed (log scale), longer is faster`)}</text>
${parts.join('\n')}
</svg>
`;
writeFileSync(output, svg);
console.log(`wrote ${output} (${panels.length} panels)`);
