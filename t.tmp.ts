import { createGpuBackend } from './src/gpu/index.js';
const b = await createGpuBackend({ mode: (process.argv[2] ?? 'webasm') as 'webasm' });
const n = 4096, k = 4096;
const weight = { n, k, values: new Int8Array(n * k).fill(3), scales: new Float32Array(n).fill(0.1), groupSize: k };
const m = 1; const x = new Float32Array(m * k).fill(1); const out = new Float32Array(m * n);
const ts: number[] = [];
for (let i = 0; i < 8; i++) { const t0 = performance.now(); b.linear({ x, m, weight, bias: null, out }); ts.push(performance.now() - t0); }
console.log(ts.map(t => t.toFixed(1)).join(' '), 'out', out[0]);
b.dispose();
