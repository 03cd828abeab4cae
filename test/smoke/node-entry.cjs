// Smoke test of the built `int8-linear/node` entry (CommonJS): one class identity across both entries.
const assert = require('node:assert/strict');
const { mkdtempSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { Linear, QuantizedLinear, Tensor, createWasmBackend } = require('int8-linear');
const { createThreadedWasmBackend, createWorkerBackend, loadCompressedTensorsFile, readSafetensorsFile, saveCompressedTensorsFile } = require('int8-linear/node');

(async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'smoke-')), 'm.safetensors');
  await saveCompressedTensorsFile(file, { fc: QuantizedLinear.fromLinear(new Linear(8, 4)) });
  const { layers } = await loadCompressedTensorsFile(file);
  assert.ok(layers.fc instanceof QuantizedLinear);
  const { tensors } = await readSafetensorsFile(file);
  assert.ok(tensors['fc.weight_packed'] instanceof Tensor); // pack-quantized (the default layout)
  // The threaded backend from the built package (CommonJS): its worker runs from an embedded string.
  const fc = new Linear(1024, 1030);
  const x = new Tensor(new Float32Array(8 * 1024).map((_, i) => Math.sin(i)), [8, 1024]);
  const one = await createWasmBackend();
  const two = await createThreadedWasmBackend({ threads: 2, minThreadedMacs: 0 });
  const a = QuantizedLinear.fromLinear(fc).to(one).forward(x).data;
  const b = QuantizedLinear.fromLinear(fc).to(two).forward(x).data;
  assert.ok(a.every((v, i) => Object.is(v, b[i])), 'threaded output differs from single-thread');
  assert.ok(two.workerChunks >= 0);
  two.dispose();
  await two.exited;
  // The worker backend from the CommonJS build: its workers are ES modules from data: URLs either way.
  const workers = await createWorkerBackend({ threads: 2, minThreadedMacs: 0 });
  const c = await QuantizedLinear.fromLinear(fc).to(workers).forwardAsync(x);
  assert.ok(a.every((v, i) => Object.is(v, c.data[i])), 'worker backend output differs from single-thread');
  workers.dispose();
  console.log('node-entry.cjs ok');
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
