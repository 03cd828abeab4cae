// One program that loads BOTH builds of the package, as happens when an app `import`s int8-linear and one of its
// CommonJS dependencies `require`s it: dist/index.cjs and dist/index.js are two copies of every class. Objects made
// by one copy must pass the other copy's checks (`instanceof` tests a Symbol.for brand, see brandedInstanceCheck).
const assert = require('node:assert/strict');
const path = require('node:path');
const cjs = require('int8-linear');

(async () => {
  const esm = await import('int8-linear');
  assert.notEqual(cjs.Tensor, esm.Tensor, 'the two builds must really be two copies for this test to mean anything');
  assert.match(require.resolve('int8-linear'), /dist[\\/]index\.cjs$/);

  for (const [from, to] of [[cjs, esm], [esm, cjs]]) {
    const x = new from.Tensor(new Float32Array([1, -2, 3, 0.5, 4, -1]), [2, 3]);
    assert.ok(x instanceof to.Tensor, 'a Tensor of one build is a Tensor of the other');

    // The error of the issue: "expected a 2-D float32 weight ..., got Tensor(dtype=float32)".
    const q = to.quantize(x, { granularity: 'channel' });
    assert.deepEqual(q.scale.shape, [2, 1]);
    assert.deepEqual([...to.dequantize(from.quantize(x)).shape], [2, 3]);
    assert.deepEqual([...to.computeScale(x).shape], [2, 1]);

    // A Generator, a Linear and a state dict of one build, used by the other.
    const fc = new to.Linear(3, 2, { generator: new from.Generator(42) });
    assert.equal(fc.weight.data[0], new from.Linear(3, 2, { generator: new to.Generator(42) }).weight.data[0]);
    fc.loadStateDict({ weight: x, bias: new from.Tensor(new Float32Array(2), [2]) });
    assert.deepEqual([...fc.forward(new from.Tensor(new Float32Array(3), [1, 3])).shape], [1, 2]);

    // Quantized layers across builds: forward, save and load.
    const qfc = to.QuantizedLinear.fromLinear(new from.Linear(3, 2));
    assert.deepEqual([...qfc.forward(x).shape], [2, 2]);
    const qOther = from.QuantizedLinear.fromLinear(fc);
    assert.ok(qOther instanceof to.QuantizedLinear);
    const bytes = to.saveCompressedTensors({ fc: qOther });
    const again = to.writeSafetensors(from.readSafetensors(bytes).tensors);
    assert.deepEqual(Object.keys(to.readSafetensors(again).tensors).sort(), Object.keys(from.readSafetensors(bytes).tensors).sort());
    assert.ok(Object.keys(to.readSafetensors(again).tensors).includes('fc.weight_scale'));
    const loaded = from.loadCompressedTensors(bytes);
    assert.ok(loaded.layers.fc instanceof to.QuantizedLinear);
    assert.deepEqual([...loaded.layers.fc.forward(new to.Tensor(new Float32Array(3), [3])).shape], [2]);

    // A model of one build's modules, built, printed, quantized and saved by the other's.
    const mlp = new to.Sequential(new from.Linear(3, 4), new from.ReLU(), new to.Linear(4, 2));
    assert.ok(mlp.get(0) instanceof to.Module && mlp.get(0) instanceof to.Linear);
    assert.match(String(mlp), /\(1\): ReLU\(\)/);
    assert.deepEqual(Object.keys(from.Module.prototype.stateDict.call(mlp)), ['0.weight', '0.bias', '2.weight', '2.bias']);
    to.quantize_(mlp);
    assert.ok(mlp.get(0) instanceof from.QuantizedLinear);
    assert.deepEqual([...mlp.forward(x).shape], [2, 2]);

    // Errors thrown by one build are the other build's error classes, so `catch (e) { if (e instanceof ...) }` works.
    assert.throws(() => from.readSafetensors(new Uint8Array(3)), (e) => e instanceof to.FormatError && e instanceof to.Int8LinearError);
    assert.throws(() => from.quantize(x, { granularity: 'group', groupSize: 2 }), (e) => e instanceof to.QuantizationError || e instanceof to.ShapeError);
    assert.throws(() => new from.Tensor(new Float32Array(3), [2, 2]), (e) => e instanceof to.ShapeError && !(e instanceof to.FormatError));
  }

  // What is not a Tensor stays not a Tensor: a look-alike object, or another class of the other build.
  const lookalike = { data: new Float32Array(4), shape: [2, 2], dtype: 'float32' };
  assert.ok(!(lookalike instanceof cjs.Tensor) && !(lookalike instanceof esm.Tensor));
  assert.ok(!(new esm.Linear(2, 2) instanceof cjs.Tensor));
  assert.ok(!(null instanceof cjs.Tensor) && !(42 instanceof esm.Tensor));
  assert.throws(() => cjs.quantize(lookalike), /expected a 2-D float32 weight/);

  // A user's subclass keeps JavaScript's ordinary instanceof: its instances are Tensors, not the reverse.
  class Named extends esm.Tensor {}
  const named = new Named(new Float32Array(2), [2]);
  assert.ok(named instanceof Named && named instanceof esm.Tensor && named instanceof cjs.Tensor);
  assert.ok(!(new cjs.Tensor(new Float32Array(2), [2]) instanceof Named));
  assert.ok(!(new esm.Tensor(new Float32Array(2), [2]) instanceof Named));

  // The brand keeps the classes tree-shakeable: a bundle that uses only Tensor drops the others.
  const esbuild = require('esbuild');
  const out = await esbuild.build({
    stdin: { contents: "import { Tensor } from 'int8-linear'; console.log(new Tensor(new Float32Array(1), [1]));", resolveDir: path.join(__dirname, '..', '..') },
    bundle: true, format: 'esm', write: false, logLevel: 'silent',
  });
  const code = out.outputFiles[0].text;
  assert.match(code, /var Tensor = class/);
  for (const name of ['QuantizedLinear', 'Generator', 'SafetensorsFormatError', 'BackendError']) {
    assert.ok(!new RegExp(`var ${name} = class`).test(code), `a bundle importing only Tensor still holds class ${name}`);
  }
  console.log('smoke dual-build ok: CommonJS and ES module objects mix');
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
