import { createWasmBackend } from './src/kernels/wasm/backend.ts';
import { createJsBackend } from './src/kernels/js-packed.ts';
import { quantizeActivations } from './src/quant/activations.ts';
const wasm = await createWasmBackend();
const js = createJsBackend();
function med(f: () => void, reps = 9) { f(); f(); const t: number[] = []; for (let i = 0; i < reps; i++) { const a = performance.now(); f(); t.push(performance.now() - a); } t.sort((a,b)=>a-b); return t[reps>>1]; }
for (const [m, k, n, g] of [[1,4096,4096,4096],[1,4096,4096,128],[16,1024,1024,1024],[64,1024,1024,1024],[128,4096,4096,4096]]) {
  const x = new Float32Array(m*k).map(() => Math.random()*2-1);
  const values = new Int8Array(n*k).map(() => Math.floor(Math.random()*256)-128);
  const scales = new Float32Array(n*k/g).fill(0.01);
  const bias = new Float32Array(n);
  const weight = { n, k, values, scales, groupSize: g };
  const out = new Float32Array(m*n);
  const { xq, xScales } = quantizeActivations(x, m, k);
  const reps = m >= 128 ? 3 : 9;
  const a = med(() => wasm.linear({ x, m, weight, bias, out }), reps);
  const b = med(() => wasm.linearW8A8!({ xq, xScales, m, weight, bias, out }), reps);
  const c = m*k*n < 1e8 ? med(() => js.linear({ x, m, weight, bias, out }), 3) : NaN;
  console.log(m,k,n,g, 'wasm f32', a.toFixed(2), 'wasm i8', b.toFixed(2), 'js', c.toFixed(2));
}
