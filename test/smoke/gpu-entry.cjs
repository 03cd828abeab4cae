// Smoke test of the built `int8-linear/gpu` entry (CommonJS): gpu.js loads as a peer, one BackendError across entries.
const assert = require('node:assert/strict');
const { BackendError, Linear, QuantizedLinear, Tensor } = require('int8-linear');
const { createGpuBackend } = require('int8-linear/gpu');

(async () => {
  const qfc = QuantizedLinear.fromLinear(new Linear(8, 4));
  const x = new Tensor(Float32Array.from({ length: 8 }, (_, i) => i / 8 - 0.5), [1, 8]);
  const expected = qfc.forward(x).data;
  const gpu = await createGpuBackend({ mode: 'cpu' });
  const y = qfc.to(gpu).forward(x).data;
  // gpu.js sums 8 float32 products of magnitude < 1: its error against the float64 reference is far below F32_SUM_TOL.
  const F32_SUM_TOL = 1e-6;
  for (let i = 0; i < y.length; i++) assert.ok(Math.abs(y[i] - expected[i]) <= F32_SUM_TOL, `y[${i}] = ${y[i]}, reference ${expected[i]}`);
  gpu.dispose();
  await assert.rejects(createGpuBackend({ mode: 'cuda' }), BackendError);
  console.log('gpu-entry.cjs ok');
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
