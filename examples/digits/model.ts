/**
 * The digits MLP (64-128-64-10, ReLU) in int8-linear: built from the float checkpoint trained by
 * train_digits.py, run in float or with every Linear quantized, on any backend.
 */
import type { Tensor} from '../../src/index.js';
import { Linear, QuantizedLinear, type Backend, type QuantScheme } from '../../src/index.js';
import { readSafetensorsFile } from '../../src/io/node.js';

export const LAYERS = ['fc1', 'fc2', 'fc3'] as const;
export const HERE = new URL('.', import.meta.url).pathname;

/** Anything with `forward(x)`: a Linear or a QuantizedLinear. */
export interface Layer {
  forward(x: Tensor): Tensor<'float32'>;
}

/** ReLU in place. */
function relu(t: Tensor<'float32'>): Tensor<'float32'> {
  const d = t.data;
  for (let i = 0; i < d.length; i++) if (d[i] < 0) d[i] = 0;
  return t;
}

/** Logits (N, 10) of the MLP for x (N, 64). */
export function forward(layers: readonly Layer[], x: Tensor<'float32'>): Tensor<'float32'> {
  let h = x;
  for (let i = 0; i < layers.length; i++) {
    h = layers[i].forward(h);
    if (i < layers.length - 1) h = relu(h);
  }
  return h;
}

/** Index of the largest logit of each row. */
export function argmax(logits: Tensor<'float32'>): Int32Array {
  const [n, c] = logits.shape;
  const out = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    let best = 0;
    for (let j = 1; j < c; j++) if (logits.data[r * c + j] > logits.data[r * c + best]) best = j;
    out[r] = best;
  }
  return out;
}

/** Fraction of equal entries. */
export function agreement(a: ArrayLike<number | bigint>, b: ArrayLike<number | bigint>): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) if (Number(a[i]) === Number(b[i])) same++;
  return same / a.length;
}

/** The float layers and the held-out test split (x, labels, PyTorch's float logits). */
export async function loadDigits(): Promise<{ float: Linear[]; x: Tensor<'float32'>; labels: BigInt64Array; torchLogits: Tensor<'float32'> }> {
  const { tensors } = await readSafetensorsFile(`${HERE}mlp.safetensors`);
  const float = LAYERS.map((name) => {
    const [out, inF] = tensors[`${name}.weight`].shape;
    const fc = new Linear(inF, out);
    fc.loadStateDict({ weight: tensors[`${name}.weight`], bias: tensors[`${name}.bias`] });
    return fc;
  });
  const test = (await readSafetensorsFile(`${HERE}test.safetensors`)).tensors;
  return {
    float,
    x: test.x as Tensor<'float32'>,
    labels: test.labels.data as BigInt64Array,
    torchLogits: test.logits as Tensor<'float32'>,
  };
}

/** The MLP with every Linear quantized with `scheme`, running on `backend` (default: reference). */
export function quantizeMlp(float: readonly Linear[], scheme: QuantScheme, backend?: Backend): QuantizedLinear[] {
  return float.map((fc) => {
    const q = QuantizedLinear.fromLinear(fc, scheme);
    return backend === undefined ? q : q.to(backend);
  });
}
