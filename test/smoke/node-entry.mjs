// Smoke test of the built `int8-linear/node` entry (ESM): one class identity across both entries.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Linear, QuantizedLinear, Tensor, createWasmBackend, readSafetensors, relaxedSimdSupported, writeSafetensors } from 'int8-linear';
import { availableBackends, createThreadedWasmBackend, createWorkerBackend, loadCompressedTensorsFile, quantizeCheckpoint, readSafetensorsFile, saveCompressedTensorsFile, writeSafetensorsFile } from 'int8-linear/node';

const file = join(mkdtempSync(join(tmpdir(), 'smoke-')), 'm.safetensors');
await saveCompressedTensorsFile(file, { fc: QuantizedLinear.fromLinear(new Linear(8, 4)) });
const { layers } = await loadCompressedTensorsFile(file);
assert.ok(layers.fc instanceof QuantizedLinear);
assert.deepEqual(layers.fc.weightScale.shape, [4, 1]);
const { tensors } = await readSafetensorsFile(file);
assert.ok(tensors['fc.weight_packed'] instanceof Tensor); // pack-quantized (the default layout)
assert.equal(readSafetensors(writeSafetensors(tensors)).tensors['fc.weight_packed'].dtype, 'int32');
// The checkpoint converter from the built entry: a float checkpoint in, a compressed-tensors one out.
const floatFile = join(mkdtempSync(join(tmpdir(), 'smoke-')), 'f.safetensors');
const float = new Linear(8, 4);
await writeSafetensorsFile(floatFile, { 'fc.weight': float.weight, 'fc.bias': float.bias });
const report = await quantizeCheckpoint(floatFile, `${floatFile}.int8`, { granularity: 'channel' });
assert.deepEqual(report.layers.map((l) => [l.name, l.scaleShape]), [['fc', [4, 1]]]);
assert.deepEqual(Array.from((await loadCompressedTensorsFile(`${floatFile}.int8`)).layers.fc.weight.data), Array.from(QuantizedLinear.fromLinear(float).weight.data));
// The threaded backend from the built package: its worker runs from an embedded module (a data: URL).
const fc = new Linear(1024, 1030);
const x = new Tensor(new Float32Array(8 * 1024).map((_, i) => Math.sin(i)), [8, 1024]);
const one = await createWasmBackend();
const two = await createThreadedWasmBackend({ threads: 2, minThreadedMacs: 0 });
assert.equal(two.mode, relaxedSimdSupported() ? 'wasm-simd128-relaxed-threads2' : 'wasm-simd128-threads2');
const a = QuantizedLinear.fromLinear(fc).to(one).forward(x).data;
const b = QuantizedLinear.fromLinear(fc).to(two).forward(x).data;
assert.ok(a.every((v, i) => Object.is(v, b[i])), 'threaded output differs from single-thread');
two.dispose();
await two.exited;
// The worker backend from the built package: the browser worker source embedded in dist, on worker_threads.
const workers = await createWorkerBackend({ threads: 2, minThreadedMacs: 0 });
const c = await QuantizedLinear.fromLinear(fc).to(workers).forwardAsync(x);
assert.ok(a.every((v, i) => Object.is(v, c.data[i])), 'worker backend output differs from single-thread');
workers.dispose();
const listed = await availableBackends();
assert.deepEqual(listed.map((b) => b.name).slice(-3), ['wasm-simd', 'js-packed', 'reference']);
for (const b of listed) b.dispose();
console.log('node-entry.mjs ok');
