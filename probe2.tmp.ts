import { createWasmBackend } from './src/kernels/wasm/backend.ts';
const wasm = await createWasmBackend();
function med(f: () => void, reps = 7) { f(); f(); const t: number[] = []; for (let i = 0; i < reps; i++) { const a = performance.now(); f(); t.push(performance.now() - a); } t.sort((a,b)=>a-b); return t[reps>>1]; }
const [k, n] = [Number(process.argv[2]), Number(process.argv[3])];
for (const m of (process.argv[4] ?? "1,3,4,8,16,32,64").split(",").map(Number)) {
  const g = k;
  const x = new Float32Array(m*k).map(() => Math.random()*2-1);
  const values = new Int8Array(n*k).map(() => Math.floor(Math.random()*256)-128);
  const scales = new Float32Array(n*k/g).fill(0.01);
  const weight = { n, k, values, scales, groupSize: g };
  const out = new Float32Array(m*n);
  const a = med(() => wasm.linear({ x, m, weight, bias: null, out }));
  console.log(m, k, n, 'wasm f32 ms', a.toFixed(2), 'GMAC/s', (m*k*n/a/1e6).toFixed(2));
}
