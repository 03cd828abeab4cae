import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { maxAbsError } from '../../src/index.js';
import { loadCompressedTensorsFile } from '../../src/io/node.js';
import { HERE, LAYERS, agreement, argmax, forward, loadDigits, quantizeMlp } from '../../examples/digits/model.js';

/**
 * PyTorch ran the float MLP in float32 (its own summation order); the JS Linear sums in float64.
 * Logits are below 40 in magnitude, so a few float32 ulps (2^-18 each at 32) bound the difference.
 */
const LOGIT_TOL = 1e-4;

/** Dropping from float32 to int8 may cost at most this much test accuracy on this model. */
const INT8_ACCURACY_DROP = 0.02;

describe('digits MLP trained by PyTorch (examples/digits)', async () => {
  const { float, x, labels, torchLogits } = await loadDigits();
  const floatLogits = forward(float, x);
  const floatPred = argmax(floatLogits);

  it('float32 in JS gives PyTorch\'s logits and predictions', () => {
    const err = maxAbsError(torchLogits, floatLogits);
    expect(err).toBeLessThanOrEqual(LOGIT_TOL);
    expect(agreement(floatPred, argmax(torchLogits))).toBe(1);
    expect(agreement(floatPred, labels)).toBeGreaterThan(0.95);
  });

  it('int8 per tensor / channel / group 16 keep the accuracy within 2 points', () => {
    const floatAcc = agreement(floatPred, labels);
    for (const scheme of [{ granularity: 'tensor' as const }, { granularity: 'channel' as const }, { granularity: 'group' as const, groupSize: 16 }]) {
      const pred = argmax(forward(quantizeMlp(float, scheme), x));
      expect(agreement(pred, labels)).toBeGreaterThanOrEqual(floatAcc - INT8_ACCURACY_DROP);
      expect(agreement(pred, floatPred)).toBeGreaterThan(0.98);
    }
  });

  it('int8-linear quantize on the checkpoint, reloaded, predicts exactly as the in-memory int8 model', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'digits-')), 'mlp-int8.safetensors');
    const sink = { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream;
    expect(await main(['quantize', `${HERE}mlp.safetensors`, '-o', out, '--granularity', 'group', '--group-size', '16'], sink, sink)).toBe(0);
    const { layers } = await loadCompressedTensorsFile(out);
    const cli = forward(LAYERS.map((n) => layers[n]), x);
    const mem = forward(quantizeMlp(float, { granularity: 'group', groupSize: 16 }), x);
    expect([...cli.data]).toEqual([...mem.data]);
    expect(agreement(argmax(cli), argmax(mem))).toBe(1);
  });
});
