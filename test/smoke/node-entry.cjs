// Smoke test of the built `int8-linear/node` entry (CommonJS): one class identity across both entries.
const assert = require('node:assert/strict');
const { mkdtempSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { Linear, QuantizedLinear, Tensor } = require('int8-linear');
const { loadCompressedTensorsFile, readSafetensorsFile, saveCompressedTensorsFile } = require('int8-linear/node');

(async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'smoke-')), 'm.safetensors');
  await saveCompressedTensorsFile(file, { fc: QuantizedLinear.fromLinear(new Linear(8, 4)) });
  const { layers } = await loadCompressedTensorsFile(file);
  assert.ok(layers.fc instanceof QuantizedLinear);
  const { tensors } = await readSafetensorsFile(file);
  assert.ok(tensors['fc.weight'] instanceof Tensor);
  console.log('node-entry.cjs ok');
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
