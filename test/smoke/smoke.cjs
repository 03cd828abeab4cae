// Requires the BUILT package through its `exports` map (package self-reference), as a CommonJS user would.
const assert = require('node:assert/strict');
const { Linear, QuantizedLinear, Tensor, quantize, dequantize, manualSeed, availableBackends } = require('int8-linear');
const { kernelView, layerKernelWeight } = require('int8-linear/advanced');

const resolved = require.resolve('int8-linear');
assert.match(resolved, /dist[\\/]index\.cjs$/, `CJS entry resolved to ${resolved}`);

(async () => {
  manualSeed(42);
  const fc = new Linear(5, 3);
  assert.equal(fc.weight.data[0], Math.fround(0.34191203));
  const q = quantize(fc.weight, { granularity: 'group', groupSize: 5 });
  assert.deepEqual(q.scale.shape, [3, 1]);
  assert.equal(dequantize(q).shape.join(','), '3,5');
  assert.deepEqual(layerKernelWeight(QuantizedLinear.fromQuantized(q)).scales, kernelView(q.values, q.scale, q).scales);
  const x = new Tensor(new Float32Array(5).fill(0.5), [5]);
  for (const b of await availableBackends()) {
    assert.deepEqual(QuantizedLinear.fromLinear(fc).to(b).forward(x).shape, [3]);
    b.dispose();
  }
  console.log(`smoke CJS ok: ${resolved}`);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
