/**
 * `npm run bench:memory`: how many bytes of weight data one 4096x4096 QuantizedLinear holds on each
 * CPU backend (issue 3's target: at most ~17 MiB, no float copy). Run with `node --expose-gc` (the
 * npm script does) so each reading follows a full collection.
 *
 * Counted: typed arrays in the JS heap (`process.memoryUsage().arrayBuffers`, which does not include
 * wasm memory) plus the bytes the wasm backend's allocator hands out (`allocatedBytes`), each as the
 * growth over a reading taken before the layer existed; the layer is built from a quantized tensor
 * whose float source is collected first. Two ways to run a layer on a backend are compared:
 * `layer.to(backend)` (the weight moves into the backend, as PyTorch's `.to(device)`), and calling
 * `backend.linear` with `layerKernelWeight(layer)` (the backend caches a packed copy beside the layer's own).
 */
import { layerKernelWeight } from '../src/nn/quantized-linear.js';
import { Generator, Linear, QuantizedLinear, Tensor, quantize } from '../src/index.js';
import { createJsBackend } from '../src/kernels/js-packed.js';
import { createReferenceBackend } from '../src/kernels/reference.js';
import type { Backend } from '../src/kernels/types.js';
import { createWasmBackend, type WasmBackend } from '../src/kernels/wasm/backend.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('bench/memory.ts: run with node --expose-gc (npm run bench:memory does)');
const collect = gc;

const N = 4096;
const K = 4096;
const MiB = 2 ** 20;

async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 0));
    collect();
  }
}

async function reading(wasm: WasmBackend | null): Promise<number> {
  await settle();
  return process.memoryUsage().arrayBuffers + (wasm?.allocatedBytes ?? 0);
}

function newLayer(seed: number): QuantizedLinear {
  const q = quantize(new Linear(K, N, { generator: new Generator(seed) }).weight, { granularity: 'channel' });
  return QuantizedLinear.fromQuantized(q, null);
}

const x = new Tensor(new Float32Array(K).fill(0.25), [1, K], 'float32');

async function measure(label: string, make: () => Promise<Backend>, how: 'to' | 'call'): Promise<void> {
  const backend = await make();
  const wasm = 'allocatedBytes' in backend ? (backend as WasmBackend) : null;
  backend.linear({ x: x.data, m: 1, weight: layerKernelWeight(newLayer(1)), bias: null, out: new Float32Array(N) }); // scratch
  const before = await reading(wasm);
  const layer = newLayer(2);
  const out = new Float32Array(N);
  if (how === 'to') layer.to(backend).forward(x);
  else backend.linear({ x: x.data, m: 1, weight: layerKernelWeight(layer), bias: null, out });
  const held = (await reading(wasm)) - before;
  console.log(`| ${label.padEnd(48)} | ${(held / MiB).toFixed(2).padStart(9)} |`);
  backend.dispose();
}

console.log(`One ${N}x${K} per-channel QuantizedLinear (int8: ${(N * K) / MiB} MiB), weight data held after one forward, Node ${process.version}:\n`);
console.log(`| ${'backend, how the layer runs on it'.padEnd(48)} | MiB held  |`);
console.log(`|${'-'.repeat(50)}|-----------|`);
await measure('reference, layer.to(reference)', async () => createReferenceBackend(), 'to');
await measure('js-packed, layer.to(js)', async () => createJsBackend(), 'to');
await measure('js-packed, js.linear({ weight: layerKernelWeight(layer) })', async () => createJsBackend(), 'call');
await measure('wasm-simd, layer.to(wasm)', createWasmBackend, 'to');
await measure('wasm-simd, wasm.linear({ weight: layerKernelWeight(layer) })', createWasmBackend, 'call');
