/**
 * `npx tsx bench/accuracy.ts`: what W8A8 (int8 activations, per token) and W8A16 (int16
 * activations, per token) cost in accuracy over weight-only int8 (W8A32), on seeded
 * PyTorch-initialised Linear layers. Both are compared with the
 * float32 Linear (float64-accumulated reference): SQNR in dB (higher is better) and the max error
 * relative to max |y|. x ~ U(-1, 1), and a heavy-tailed x (a few large outlier features, as LLM
 * activations have), where per-token int8 activations lose the most.
 */
import { Generator, Linear, QuantizedLinear, Tensor, sqnr, uniform_, type QuantScheme } from '../src/index.js';

function relMax(ref: Float32Array, y: Float32Array): number {
  let e = 0;
  let m = 0;
  for (let i = 0; i < ref.length; i++) {
    e = Math.max(e, Math.abs(ref[i] - y[i]));
    m = Math.max(m, Math.abs(ref[i]));
  }
  return e / m;
}

const rows: string[][] = [];
for (const [k, n] of [[1024, 1024], [4096, 4096]] as const) {
  const gen = new Generator(1234 + k);
  const linear = new Linear(k, n, { generator: gen });
  const m = 8;
  const uniform = uniform_(Tensor.zeros([m, k], 'float32'), -1, 1, gen);
  const outliers = uniform.clone();
  for (let r = 0; r < m; r++) for (const j of [3, 77, 500]) outliers.data[r * k + j] *= 40; // 3 outlier features
  for (const [xName, x] of [['U(-1,1)', uniform], ['U(-1,1) + 3 outlier features x40', outliers]] as const) {
    const yFloat = linear.forward(x);
    const schemes: [string, QuantScheme][] = [
      ['channel full', { granularity: 'channel', range: 'full' }],
      ['channel restricted', { granularity: 'channel', range: 'restricted' }],
      ['group(128) full', { granularity: 'group', groupSize: 128, range: 'full' }],
    ];
    for (const [sName, scheme] of schemes) {
      const w8a32 = QuantizedLinear.fromLinear(linear, scheme).forward(x);
      const w8a8 = QuantizedLinear.fromLinear(linear, { ...scheme, activations: 'int8' }).forward(x);
      const w8a16 = QuantizedLinear.fromLinear(linear, { ...scheme, activations: 'int16' }).forward(x);
      rows.push([
        `${k}x${n}`,
        xName,
        sName,
        sqnr(yFloat, w8a32).toFixed(1),
        sqnr(yFloat, w8a8).toFixed(1),
        sqnr(yFloat, w8a16).toFixed(1),
        relMax(yFloat.data, w8a32.data).toExponential(2),
        relMax(yFloat.data, w8a8.data).toExponential(2),
        relMax(yFloat.data, w8a16.data).toExponential(2),
        relMax(w8a32.data, w8a8.data).toExponential(2),
      ]);
    }
  }
}
const header = ['layer (in x out)', 'x (8 rows)', 'weights', 'SQNR W8A32 dB', 'SQNR W8A8 dB', 'SQNR W8A16 dB', 'max rel err W8A32', 'max rel err W8A8', 'max rel err W8A16', 'W8A8 vs W8A32'];
console.log('| ' + header.join(' | ') + ' |');
console.log('|' + header.map(() => '---').join('|') + '|');
for (const r of rows) console.log('| ' + r.join(' | ') + ' |');
