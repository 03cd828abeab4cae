import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { quantizeCheckpoint } from '../../src/io/node-quantize.js';
import { Embedding, Linear, QuantizedLinear } from '../../src/index.js';
import { CHECKPOINT, LOGITS_TOL, golden, loadModel, quantizedModel, readCheckpoint } from '../../examples/lm/lm.js';

// The example language model (examples/lm): JS float32 logits against PyTorch 1.13's
// (examples/lm/make_golden.py), and the CLI round trip against quantize_ in memory.
const { bytes, config } = readCheckpoint();
const g = golden();
const dir = mkdtempSync(join(tmpdir(), 'lm-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('examples/lm language model', () => {
  it('JS float32 logits match PyTorch on the golden prompt within LOGITS_TOL; argmax equal at every position', () => {
    const logits = loadModel(bytes, config).forward(g.prompt);
    const v = config.vocab_size;
    const offset = (g.prompt.length - g.last) * v;
    for (let i = 0; i < g.logits.length; i++) {
      const got = logits.data[offset + i];
      const err = Math.abs(got - g.logits[i]);
      if (!(err <= LOGITS_TOL * Math.max(1, Math.abs(g.logits[i])))) {
        throw new Error(`logit ${i}: JS ${got}, PyTorch ${g.logits[i]}, |diff| ${err} over LOGITS_TOL ${LOGITS_TOL}`);
      }
    }
    const argmax = g.argmax.map((_, r) => {
      let best = 0;
      for (let i = 1; i < v; i++) if (logits.data[r * v + i] > logits.data[r * v + best]) best = i;
      return best;
    });
    expect(argmax).toEqual(g.argmax);
  });

  it('the CLI-quantized checkpoint loads into the float model tree with QuantizedLinear exactly where the file has int8, and predicts bit-identically to quantize_', async () => {
    const out = join(dir, 'model-int8.safetensors');
    await quantizeCheckpoint(CHECKPOINT, out, { granularity: 'channel' });
    const fromFile = loadModel(new Uint8Array(readFileSync(out)), config);
    const kinds = Object.fromEntries(fromFile.namedModules().map(([n, m]) => [n, m.constructor.name]));
    expect(kinds.lm_head).toBe('Linear');
    expect(fromFile.model.embed_tokens).toBeInstanceOf(Embedding);
    expect(fromFile.lm_head).toBeInstanceOf(Linear);
    const quantized = fromFile.namedModules().filter(([, m]) => m instanceof QuantizedLinear).map(([n]) => n);
    expect(quantized.length).toBe(7 * config.num_hidden_layers);
    expect(quantized.every((n) => n.startsWith('model.layers.'))).toBe(true);
    const inMemory = quantizedModel(bytes, config, { granularity: 'channel' });
    expect(Array.from(fromFile.forward(g.prompt).data)).toEqual(Array.from(inMemory.forward(g.prompt).data));
  });
});
