/**
 * Shared by `npm run example:lm` (run.ts) and test/golden/lm.test.ts: the checkpoint, the held-out
 * split, the PyTorch golden logits, held-out evaluation and the schemes of the table.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Tensor} from 'int8-linear';
import { loadCheckpoint, quantize_, readSafetensors, type ModelQuantScheme } from 'int8-linear';
import { LlamaForCausalLM, argmaxRow, type LlamaConfig } from './model.js';

export const HERE = fileURLToPath(new URL('.', import.meta.url));
export const CHECKPOINT = `${HERE}model.safetensors`;

/**
 * JS float32 logits vs PyTorch's on the golden prompt: |diff| <= LOGITS_TOL · max(1, |logit|).
 * PyTorch sums in float32 (4 layers of 128..384-long dot products, softmax, RMSNorm); the JS layers
 * accumulate in float64, so the two differ by float32 rounding: measured 4.8e-6 at most here.
 */
export const LOGITS_TOL = 5e-5;

/** The float checkpoint's bytes and its config (from the safetensors metadata, as llama.py wrote it). */
export function readCheckpoint(path = CHECKPOINT): { bytes: Uint8Array; config: LlamaConfig } {
  const bytes = new Uint8Array(readFileSync(path));
  const { metadata } = readSafetensors(bytes);
  if (metadata === null || typeof metadata.config !== 'string') throw new Error(`${path}: no config in the safetensors metadata`);
  return { bytes, config: JSON.parse(metadata.config) as LlamaConfig };
}

/** A model defined with the module API and loaded from `bytes` (float or compressed-tensors). */
export function loadModel(bytes: Uint8Array, config: LlamaConfig): LlamaForCausalLM {
  const lm = new LlamaForCausalLM(config);
  loadCheckpoint(lm, bytes);
  return lm;
}

/** The committed held-out split: bytes [90%, 90% + 16 KiB) of the coreutils manual (see train_lm.py). */
export function heldout(): number[] {
  return Array.from(readFileSync(`${HERE}heldout.txt`));
}

/** PyTorch's logits on the golden prompt (examples/lm/make_golden.py). */
export interface LmGolden {
  prompt: number[];
  last: number;
  logits: number[];
  argmax: number[];
}

export function golden(): LmGolden {
  return JSON.parse(readFileSync(`${HERE}golden.json`, 'utf8')) as LmGolden;
}

/** The int8 rows of the table; lm_head stays float32 in all of them, as the CLI's default --ignore and compressed-tensors keep it. */
export const SCHEMES: [string, ModelQuantScheme][] = [
  ['int8 per tensor', { granularity: 'tensor' }],
  ['int8 per channel', { granularity: 'channel' }],
  ['int8 per group 32', { granularity: 'group', groupSize: 32 }],
  ['int8 per group 128', { granularity: 'group', groupSize: 128 }],
];

/** `scheme` for every Linear but lm_head. */
export function withFloatHead(scheme: ModelQuantScheme): ModelQuantScheme {
  return { ...scheme, layers: { lm_head: null } };
}

/** quantize_ on a fresh copy of the float checkpoint. */
export function quantizedModel(bytes: Uint8Array, config: LlamaConfig, scheme: ModelQuantScheme): LlamaForCausalLM {
  return quantize_(loadModel(bytes, config), withFloatHead(scheme));
}

/**
 * Held-out evaluation on `windows` non-overlapping windows of max_position_embeddings bytes (each
 * predicting its next bytes, as train_lm.py's evaluation): mean negative log-likelihood (nats) and
 * the argmax at every position.
 */
export function evaluate(lm: LlamaForCausalLM, data: readonly number[], windows: number): { nll: number; preds: Int32Array; logits: Float32Array[] } {
  const ctx = lm.config.max_position_embeddings;
  const preds = new Int32Array(windows * ctx);
  const logits: Float32Array[] = [];
  let nll = 0;
  for (let w = 0; w < windows; w++) {
    const ids = data.slice(w * ctx, (w + 1) * ctx);
    const out: Tensor<'float32'> = lm.forward(ids);
    logits.push(out.data);
    const v = out.shape[1];
    for (let r = 0; r < ctx; r++) {
      const target = data[w * ctx + r + 1];
      let max = -Infinity;
      for (let i = 0; i < v; i++) max = Math.max(max, out.data[r * v + i]);
      let sum = 0;
      for (let i = 0; i < v; i++) sum += Math.exp(out.data[r * v + i] - max);
      nll += Math.log(sum) + max - out.data[r * v + target];
      preds[w * ctx + r] = argmaxRow(out, r);
    }
  }
  return { nll: nll / (windows * ctx), preds, logits };
}

/** Fraction of positions where two argmax sequences agree. */
export function agreement(a: Int32Array, b: Int32Array): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}
