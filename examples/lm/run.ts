/**
 * npm run example:lm [-- --windows N] (default 8 windows of 128 bytes): the byte-level Llama-style decoder trained by train_lm.py,
 * defined with the module API (model.ts), loaded from the float checkpoint, then:
 * - the JS float32 logits checked against PyTorch's on a fixed prompt (golden.json, LOGITS_TOL);
 * - a table: held-out perplexity and next-byte agreement with the float model for float32 and int8
 *   per tensor / channel / group 32 / group 128, W8A32 and W8A8, on every available backend, with
 *   greedy generation tokens per second at batch 1 (KV cache);
 * - a greedy continuation, float and int8 per channel side by side;
 * - the CLI round trip: `int8-linear quantize` on the checkpoint, loaded into the same model,
 *   predicts exactly what quantize_ in memory does.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasW8A8 } from 'int8-linear/advanced';
import { table } from '../../src/cli/format.js';
import { availableBackends, quantizeCheckpoint } from 'int8-linear/node';
import type { Backend } from 'int8-linear';
import { generate, type LlamaForCausalLM } from './model.js';
import { CHECKPOINT, LOGITS_TOL, SCHEMES, agreement, evaluate, golden, heldout, loadModel, quantizedModel, readCheckpoint } from './lm.js';

const arg = process.argv.indexOf('--windows');
const windows = arg > 0 ? Number(process.argv[arg + 1]) : 8;
const { bytes, config } = readCheckpoint();
const data = heldout();
const float = loadModel(bytes, config);
const ctx = config.max_position_embeddings;
const pct = (v: number): string => `${(100 * v).toFixed(2)}%`;
const text = (b: readonly number[]): string => JSON.stringify(Buffer.from(b).toString('utf8'));

console.log(
  `byte-level Llama (${config.num_hidden_layers} layers, width ${config.hidden_size}, MLP ${config.intermediate_size}, ` +
    `context ${ctx}), trained on the GNU coreutils 9.1 manual (GFDL 1.3); ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}`,
);

// 1. JS float32 against PyTorch on the golden prompt.
const g = golden();
const logits = float.forward(g.prompt);
const v = config.vocab_size;
let maxDiff = 0;
let worst = 0;
const offset = (g.prompt.length - g.last) * v;
for (let i = 0; i < g.logits.length; i++) {
  const d = Math.abs(logits.data[offset + i] - g.logits[i]);
  maxDiff = Math.max(maxDiff, d);
  worst = Math.max(worst, d / Math.max(1, Math.abs(g.logits[i])));
}
const argmaxSame = g.argmax.every((a, r) => {
  let best = 0;
  for (let i = 1; i < v; i++) if (logits.data[r * v + i] > logits.data[r * v + best]) best = i;
  return best === a;
});
console.log(
  `JS float32 vs PyTorch 1.13 on a ${g.prompt.length}-byte prompt: max |logit diff| ${maxDiff.toExponential(2)} ` +
    `(limit LOGITS_TOL ${LOGITS_TOL} relative: ${worst <= LOGITS_TOL ? 'ok' : 'FAILED'}), argmax equal at every position: ${argmaxSame}`,
);
if (!(worst <= LOGITS_TOL) || !argmaxSame) process.exitCode = 1;

// 2. The table.
function tokensPerSecond(lm: LlamaForCausalLM): number {
  const prompt = data.slice(0, 16);
  const n = 48;
  const rates: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    generate(lm, prompt, n);
    rates.push((n + prompt.length) / ((performance.now() - t0) / 1000));
  }
  return rates.sort((a, b) => a - b)[1]; // median of 3
}

const ref = evaluate(float, data, windows);
const rows: string[][] = [['float32', 'W32A32', '(float Linear)', Math.exp(ref.nll).toFixed(3), '100.00%', tokensPerSecond(float).toFixed(0)]];
const backends: Backend[] = await availableBackends();
for (const [label, scheme] of SCHEMES) {
  for (const activations of ['float32', 'int8'] as const) {
    for (const backend of backends) {
      const mode = activations === 'int8' ? 'W8A8' : 'W8A32';
      if (activations === 'int8' && !hasW8A8(backend)) {
        rows.push([label, mode, `${backend.name} (${backend.mode})`, 'n/a', 'n/a', 'n/a']);
        continue;
      }
      const lm = quantizedModel(bytes, config, { ...scheme, activations }).to(backend);
      const r = evaluate(lm, data, windows);
      rows.push([label, mode, `${backend.name} (${backend.mode})`, Math.exp(r.nll).toFixed(3), pct(agreement(r.preds, ref.preds)), tokensPerSecond(lm).toFixed(0)]);
    }
  }
}
console.log(
  `\nheld-out: ${windows} windows x ${ctx} bytes = ${windows * ctx} next-byte predictions (of heldout.txt's ${data.length} bytes); ` +
    `lm_head stays float32 in the int8 rows; tokens/s: greedy generation of 48 bytes after 16 (prompt included), batch 1, KV cache, median of 3`,
);
console.log(table(['model', 'mode', 'backend', 'perplexity', 'agrees with float', 'tokens/s'], rows, [3, 4, 5]));

// 3. Greedy continuation, float vs int8 per channel, on the fastest backend.
const prompt = data.slice(0, 48);
const int8 = quantizedModel(bytes, config, { granularity: 'channel' }).to(backends[0]);
console.log(`\ngreedy continuation of ${text(prompt)}:`);
console.log(`  float32:          ${text(generate(float, prompt, 80))}`);
console.log(`  int8 per channel: ${text(generate(int8, prompt, 80))}   (${backends[0].name})`);

// 4. CLI round trip.
const dir = mkdtempSync(join(tmpdir(), 'lm-'));
try {
  const out = join(dir, 'model-int8.safetensors');
  const report = await quantizeCheckpoint(CHECKPOINT, out, { granularity: 'channel' });
  const fromFile = evaluate(loadModel(new Uint8Array(readFileSync(out)), config), data, windows);
  const inMemory = evaluate(quantizedModel(bytes, config, { granularity: 'channel' }), data, windows);
  const identical = fromFile.logits.every((l, w) => l.every((x, i) => Object.is(x, inMemory.logits[w][i])));
  console.log(
    `\nCLI round trip (int8-linear quantize, per channel: ${report.layers.length} layers int8, ignored ${report.ignored.join(', ')}): ` +
      `loaded with loadCheckpoint, predictions agree with quantize_ in memory on ${pct(agreement(fromFile.preds, inMemory.preds))}, logits bit-identical: ${identical}`,
  );
  if (!identical) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
  for (const b of backends) b.dispose();
}
