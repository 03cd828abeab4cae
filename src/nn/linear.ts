import { ShapeError, brandedInstanceCheck, checkOptions, describeValue } from '../errors.js';
import { referenceLinearF32 } from '../kernels/reference.js';
import { Generator, defaultGenerator } from '../random.js';
import { Tensor } from '../tensor.js';
import { kaimingUniform_, uniform_ } from './init.js';
import { Module } from './module.js';
import { checkBias, checkInput, outputShape } from './shape.js';

/** Options of `new Linear(in, out, options)`, as `nn.Linear`'s `bias` plus an explicit random stream. */
export interface LinearOptions {
  /** Learnable additive bias; default true, as in PyTorch. */
  bias?: boolean;
  /** Random stream for the init; default: the generator `manualSeed` seeds. */
  generator?: Generator;
  /**
   * Default true. False skips the random init, as `torch.nn.utils.skip_init`: weight and bias are
   * zeros and no random number is drawn (the generator's stream is not advanced), for layers whose
   * weights `loadStateDict` is about to overwrite.
   */
  init?: boolean;
}

function checkFeatures(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ShapeError(`Linear: ${name} must be a non-negative integer, got ${describeValue(value)}`);
  }
}

/**
 * `torch.nn.Linear`: `y = x·Wᵀ + b`, with PyTorch's layout and bit-exact PyTorch init
 * (`kaiming_uniform_(weight, a=√5)`, then bias ~ U(-1/√in, 1/√in), from one random stream).
 *
 * Shape: input (*, in_features) -> output (*, out_features); weight (out_features, in_features);
 * bias (out_features).
 *
 * Example:
 *   manualSeed(42);
 *   const fc = new Linear(512, 1024);
 *   fc.weight.shape;   // [1024, 512]
 *   String(fc);        // 'Linear(in_features=512, out_features=1024, bias=True)'
 *   fc.forward(Tensor.zeros([8, 512])).shape;   // [8, 1024]
 */
export class Linear extends Module {
  /** `instanceof` also holds across the package's CommonJS and ES module builds (see `brandedInstanceCheck`). */
  static override readonly [Symbol.hasInstance] = /* @__PURE__ */ brandedInstanceCheck(this, 'Linear');

  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly weight: Tensor<'float32'>;
  readonly bias: Tensor<'float32'> | null;

  constructor(inFeatures: number, outFeatures: number, options: LinearOptions = {}) {
    checkFeatures('in_features', inFeatures);
    checkFeatures('out_features', outFeatures);
    super();
    checkOptions('Linear', options, ['bias', 'generator', 'init'], ShapeError);
    checkBias('Linear', options.bias);
    if (options.init !== undefined && typeof options.init !== 'boolean') {
      throw new ShapeError(`Linear: options.init must be true or false, got ${describeValue(options.init)}`);
    }
    if (options.generator !== undefined && !(options.generator instanceof Generator)) {
      throw new ShapeError(`Linear: options.generator must be a Generator (new Generator(seed)), got ${describeValue(options.generator)}`);
    }
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.weight = Tensor.zeros([outFeatures, inFeatures], 'float32');
    this.bias = options.bias === false ? null : Tensor.zeros([outFeatures], 'float32');
    if (options.init !== false) this.resetParameters(options.generator);
  }

  /** Re-draws weight and bias exactly as PyTorch's `reset_parameters`. */
  resetParameters(generator: Generator = defaultGenerator()): void {
    kaimingUniform_(this.weight, { a: Math.sqrt(5), generator });
    if (this.bias !== null) {
      const fanIn = this.inFeatures;
      const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
      uniform_(this.bias, -bound, bound, generator);
    }
  }

  /** `y = x·Wᵀ + b` in float32 with float64 accumulation. x: (*, in) -> (*, out). */
  forward(x: Tensor): Tensor<'float32'> {
    const m = checkInput(x, this.inFeatures, 'Linear');
    const out = new Float32Array(m * this.outFeatures);
    referenceLinearF32(x.data as Float32Array, m, this.weight.data, this.outFeatures, this.inFeatures, this.bias?.data ?? null, out);
    return new Tensor(out, outputShape(x, this.outFeatures), 'float32');
  }

  override extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${this.bias === null ? 'False' : 'True'}`;
  }
}
