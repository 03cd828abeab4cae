/**
 * The digits MLP (64-128-64-10, ReLU) as a Module subclass: the same tree as train_digits.py's
 * `MLP(nn.Module)`, loaded from the float checkpoint, quantized whole with `quantize_`, or loaded
 * from a compressed-tensors file written by `int8-linear quantize` with `loadCheckpoint`.
 */
import type { QuantizedLinear} from 'int8-linear';
import { Linear, Module, ReLU, loadCheckpoint, quantize_, type Backend, type QuantScheme, type Tensor } from 'int8-linear';
import { readSafetensorsFile } from 'int8-linear/node';

export const HERE = new URL('.', import.meta.url).pathname;

/** train_digits.py's MLP; each layer is a Linear, or a QuantizedLinear after quantize_ / loadCheckpoint. */
export class MLP extends Module {
  fc1: Linear | QuantizedLinear = new Linear(64, 128, { init: false });
  act = new ReLU();
  fc2: Linear | QuantizedLinear = new Linear(128, 64, { init: false });
  fc3: Linear | QuantizedLinear = new Linear(64, 10, { init: false });

  /** Logits (N, 10) for x (N, 64). */
  forward(x: Tensor): Tensor<'float32'> {
    return this.fc3.forward(this.act.forward(this.fc2.forward(this.act.forward(this.fc1.forward(x)))));
  }
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

/** The float model and the held-out test split (x, labels, PyTorch's float logits). */
export async function loadDigits(): Promise<{ float: MLP; x: Tensor<'float32'>; labels: BigInt64Array; torchLogits: Tensor<'float32'> }> {
  const float = new MLP();
  float.loadStateDict((await readSafetensorsFile(`${HERE}mlp.safetensors`)).tensors);
  const test = (await readSafetensorsFile(`${HERE}test.safetensors`)).tensors;
  return {
    float,
    x: test.x as Tensor<'float32'>,
    labels: test.labels.data as BigInt64Array,
    torchLogits: test.logits as Tensor<'float32'>,
  };
}

/** A copy of the float model with every Linear quantized with `scheme` (quantize_), on `backend` (default: reference). */
export function quantizeMlp(float: MLP, scheme: QuantScheme, backend?: Backend): MLP {
  const copy = new MLP();
  copy.loadStateDict(float.stateDict());
  quantize_(copy, scheme);
  return backend === undefined ? copy : copy.to(backend);
}

/** The MLP from a safetensors file, float or compressed-tensors (`int8-linear quantize` output). */
export async function loadMlpFile(path: string): Promise<MLP> {
  const mlp = new MLP();
  loadCheckpoint(mlp, await readSafetensorsFile(path));
  return mlp;
}
