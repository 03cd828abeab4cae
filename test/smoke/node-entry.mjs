// Smoke test of the built `int8-linear/node` entry (ESM): one class identity across both entries.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Linear, QuantizedLinear, Tensor, readSafetensors, writeSafetensors } from 'int8-linear';
import { loadCompressedTensorsFile, readSafetensorsFile, saveCompressedTensorsFile } from 'int8-linear/node';

const file = join(mkdtempSync(join(tmpdir(), 'smoke-')), 'm.safetensors');
await saveCompressedTensorsFile(file, { fc: QuantizedLinear.fromLinear(new Linear(8, 4)) });
const { layers } = await loadCompressedTensorsFile(file);
assert.ok(layers.fc instanceof QuantizedLinear);
assert.deepEqual(layers.fc.weightScale.shape, [4, 1]);
const { tensors } = await readSafetensorsFile(file);
assert.ok(tensors['fc.weight'] instanceof Tensor);
assert.equal(readSafetensors(writeSafetensors(tensors)).tensors['fc.weight'].dtype, 'int8');
console.log('node-entry.mjs ok');
