/**
 * `npm run demo`: a seeded Linear(512, 1024), quantized per tensor, per channel and per group of 128,
 * with each scale shape, SQNR, bytes before and after, and the forward error against the float layer.
 */
import {
  Generator,
  Linear,
  QuantizedLinear,
  Tensor,
  dequantize,
  formatShape,
  manualSeed,
  maxAbsError,
  quantize,
  sqnr,
  type QuantScheme,
} from 'int8-linear';

const SEED = 42;
manualSeed(SEED);
const fc = new Linear(512, 1024);
const x = Tensor.zeros([8, 512]);
const g = new Generator(SEED + 1);
for (let i = 0; i < x.size; i++) x.data[i] = (g.nextUint32() / 2 ** 32) * 2 - 1;
const yFloat = fc.forward(x);
const maxAbsY = yFloat.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

const floatBytes = fc.weight.nbytes + (fc.bias?.nbytes ?? 0);
const schemes: [string, QuantScheme][] = [
  ['tensor', { granularity: 'tensor' }],
  ['channel', { granularity: 'channel' }],
  ['group 128', { granularity: 'group', groupSize: 128 }],
];

console.log(`manualSeed(${SEED}); ${String(fc)}`);
console.log(`weight shape ${formatShape(fc.weight.shape)} = (out_features, in_features); float32 weight + bias = ${floatBytes} bytes`);
console.log(`input x: (8, 512), uniform in [-1, 1); forward error = int8 layer vs the float layer on x\n`);

const rows = schemes.map(([label, scheme]) => {
  const q = quantize(fc.weight, scheme);
  const qfc = QuantizedLinear.fromLinear(fc, scheme);
  const bytes = q.values.nbytes + q.scale.nbytes + (fc.bias?.nbytes ?? 0);
  const y = qfc.forward(x);
  const err = maxAbsError(yFloat, y);
  return [
    label,
    formatShape(q.scale.shape),
    sqnr(fc.weight, dequantize(q)).toFixed(2),
    String(floatBytes),
    String(bytes),
    `${(floatBytes / bytes).toFixed(2)}x`,
    err.toExponential(2),
    (err / maxAbsY).toExponential(2),
  ];
});

const header = ['scheme', 'scale shape', 'SQNR dB', 'bytes before', 'bytes after', 'smaller', 'forward max|err|', 'max|err| / max|y|'];
const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
const line = (cells: string[]) => cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
console.log(line(header));
for (const r of rows) console.log(line(r));
