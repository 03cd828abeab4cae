// Imports the BUILT package through its `exports` map (package self-reference), as an ESM user would.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Linear, QuantizedLinear, Tensor, quantize, dequantize, manualSeed, availableBackends } from 'int8-linear';
import { kernelView, layerKernelWeight } from 'int8-linear/advanced';

const resolved = fileURLToPath(import.meta.resolve('int8-linear'));
assert.match(resolved, /dist[\\/]index\.js$/, `ESM entry resolved to ${resolved}`);

manualSeed(42);
const fc = new Linear(5, 3);
assert.equal(fc.weight.data[0], Math.fround(0.34191203));
const q = quantize(fc.weight);
assert.deepEqual(q.scale.shape, [3, 1]);
assert.equal(dequantize(q).shape.join(','), '3,5');
// the advanced entry shares the main entry's classes (one chunk): it reads a main-entry layer
assert.deepEqual(layerKernelWeight(QuantizedLinear.fromQuantized(q)).scales, kernelView(q.values, q.scale, q).scales);
const x = new Tensor(new Float32Array(10).fill(0.5), [2, 5]);
for (const b of await availableBackends()) {
  const y = QuantizedLinear.fromLinear(fc).to(b).forward(x);
  assert.deepEqual(y.shape, [2, 3]);
  b.dispose();
}
console.log(`smoke ESM ok: ${resolved}`);
