// Smoke test of the built `int8-linear/gpu` entry (ESM): gpu.js loads as a peer, one BackendError across entries.
import assert from 'node:assert/strict';
import { BackendError, Linear, QuantizedLinear, Tensor } from 'int8-linear';
import { availableBackends, createGpuBackend } from 'int8-linear/gpu';

const qfc = QuantizedLinear.fromLinear(new Linear(8, 4));
const x = new Tensor(Float32Array.from({ length: 16 }, (_, i) => i / 16 - 0.5), [2, 8]);
const expected = qfc.forward(x).data;
const gpu = await createGpuBackend({ mode: 'webasm' });
assert.equal(gpu.mode, 'webasm');
const y = qfc.to(gpu).forward(x).data;
// gpu.js sums 8 float32 products of magnitude < 1: its error against the float64 reference is far below F32_SUM_TOL.
const F32_SUM_TOL = 1e-6;
for (let i = 0; i < y.length; i++) assert.ok(Math.abs(y[i] - expected[i]) <= F32_SUM_TOL, `y[${i}] = ${y[i]}, reference ${expected[i]}`);
gpu.dispose();
await assert.rejects(createGpuBackend({ mode: 'cuda' }), BackendError);
const names = (await availableBackends()).map((b) => b.name);
assert.ok(names.includes('gpujs') && names.at(-1) === 'reference', names.join(','));
console.log('gpu-entry.mjs ok');
