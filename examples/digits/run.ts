/**
 * npm run example:digits: the MLP trained by PyTorch on scikit-learn's digits, run in JavaScript in
 * float and int8 (per tensor, per channel, per group of 16; `quantize_` on the MLP module) on every
 * available backend; then the checkpoint goes through `quantizeCheckpoint` (what `int8-linear quantize`
 * runs), is loaded into the same module with `loadCheckpoint`, and the predictions are compared.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { availableBackends, maxAbsError, type QuantScheme } from 'int8-linear';
import { quantizeCheckpoint } from 'int8-linear/node';
import { HERE, agreement, argmax, loadDigits, loadMlpFile, quantizeMlp } from './model.js';
import { table } from '../../src/cli/format.js';

const SCHEMES: [string, QuantScheme][] = [
  ['int8 per tensor', { granularity: 'tensor' }],
  ['int8 per channel', { granularity: 'channel' }],
  ['int8 per group 16', { granularity: 'group', groupSize: 16 }],
];

const { float, x, labels, torchLogits } = await loadDigits();
const floatLogits = float.forward(x);
const floatPred = argmax(floatLogits);
const pct = (v: number): string => `${(100 * v).toFixed(2)}%`;

console.log(`${String(float)}\n`);
console.log(`digits MLP 64-128-64-10 (ReLU), ${labels.length} held-out test digits; ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`);
console.log(
  `float32 in JS vs PyTorch: same predictions on ${pct(agreement(floatPred, argmax(torchLogits)))}, ` +
    `max |logit difference| ${maxAbsError(torchLogits, floatLogits).toExponential(2)}\n`,
);

const rows: string[][] = [['float32', '(all)', pct(agreement(floatPred, labels)), '100.00%', '']];
const backends = await availableBackends();
for (const [label, scheme] of SCHEMES) {
  for (const backend of backends) {
    const logits = quantizeMlp(float, scheme, backend).forward(x);
    const pred = argmax(logits);
    rows.push([label, `${backend.name} (${backend.mode})`, pct(agreement(pred, labels)), pct(agreement(pred, floatPred)), maxAbsError(floatLogits, logits).toExponential(2)]);
  }
}
console.log(table(['model', 'backend', 'accuracy', 'agrees with float', 'max |logit - float|'], rows, [2, 3, 4]));

// The CLI path: quantize the checkpoint file, reload it as compressed-tensors, compare predictions.
const dir = mkdtempSync(join(tmpdir(), 'digits-'));
try {
  const out = join(dir, 'mlp-int8.safetensors');
  const report = await quantizeCheckpoint(`${HERE}mlp.safetensors`, out, { granularity: 'channel' });
  const cliPred = argmax((await loadMlpFile(out)).forward(x));
  const memPred = argmax(quantizeMlp(float, { granularity: 'channel' }).forward(x));
  const same = agreement(cliPred, memPred);
  console.log(
    `\nCLI round trip (int8-linear quantize, per channel; ${report.layers.map((l) => `${l.name} ${l.sqnrDb.toFixed(1)} dB`).join(', ')}): ` +
      `reloaded predictions equal the in-memory int8 model's on ${pct(same)} of the test digits`,
  );
  if (same !== 1) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
  for (const b of backends) b.dispose();
}
