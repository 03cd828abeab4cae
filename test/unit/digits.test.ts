import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { maxAbsError } from '../../src/index.js';
import { QuantizedLinear } from '../../src/index.js';
import { HERE, agreement, argmax, loadDigits, loadMlpFile, quantizeMlp } from '../../examples/digits/model.js';

/**
 * PyTorch ran the float MLP in float32 (its own summation order); the JS Linear sums in float64.
 * Logits are below 40 in magnitude, so a few float32 ulps (2^-18 each at 32) bound the difference.
 */
const LOGIT_TOL = 1e-4;

/** Dropping from float32 to int8 may cost at most this much test accuracy on this model. */
const INT8_ACCURACY_DROP = 0.02;

describe('digits MLP trained by PyTorch (examples/digits)', async () => {
  const { float, x, labels, torchLogits } = await loadDigits();
  const floatLogits = float.forward(x);
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
      const pred = argmax(quantizeMlp(float, scheme).forward(x));
      expect(agreement(pred, labels)).toBeGreaterThanOrEqual(floatAcc - INT8_ACCURACY_DROP);
      expect(agreement(pred, floatPred)).toBeGreaterThan(0.98);
    }
  });

  it('int8-linear quantize on the checkpoint, loaded into the MLP module, predicts exactly as quantize_ in memory', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'digits-')), 'mlp-int8.safetensors');
    const sink = { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream;
    expect(await main(['quantize', `${HERE}mlp.safetensors`, '-o', out, '--granularity', 'group', '--group-size', '16'], sink, sink)).toBe(0);
    const loaded = await loadMlpFile(out);
    expect([loaded.fc1, loaded.fc2, loaded.fc3].every((l) => l instanceof QuantizedLinear)).toBe(true);
    const cli = loaded.forward(x);
    const mem = quantizeMlp(float, { granularity: 'group', groupSize: 16 }).forward(x);
    expect([...cli.data]).toEqual([...mem.data]);
    expect(agreement(argmax(cli), argmax(mem))).toBe(1);
  });
});
