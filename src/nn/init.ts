import { ShapeError, checkOptions, oneOf } from '../errors.js';
import { defaultGenerator, type Generator } from '../random.js';
import type { Tensor } from '../tensor.js';

/** 2^-24: `uniform_` keeps 24 random bits, the float32 mantissa width. */
const UNIFORM_DIVISOR = 1 / 16777216;

/**
 * Fills a float32 tensor in place with U(from, to), bit-exact with `torch.Tensor.uniform_` on CPU:
 * for each element in row-major order `u = nextUint32() & 0xFFFFFF`, `x = u * 2^-24` (double), and
 * the value is `fround(x * (to - from) + from)` with from, to and (to - from) in float32, as ATen's
 * `uniform_real_distribution<float>` computes it.
 *
 * Example:
 *   uniform_(Tensor.zeros([3]), -1, 1, new Generator(0));
 */
export function uniform_(tensor: Tensor<'float32'>, from: number, to: number, generator: Generator = defaultGenerator()): Tensor<'float32'> {
  const lo = Math.fround(from);
  const width = Math.fround(Math.fround(to) - lo);
  const d = tensor.data;
  for (let i = 0; i < d.length; i++) {
    const x = (generator.nextUint32() & 0xffffff) * UNIFORM_DIVISOR;
    d[i] = x * width + lo;
  }
  return tensor;
}

/**
 * `(fan_in, fan_out)` of a weight, as `torch.nn.init._calculate_fan_in_and_fan_out`: for a Linear
 * weight of shape (out, in) that is `(in, out)`.
 */
export function calculateFanInAndFanOut(tensor: Tensor): [number, number] {
  if (tensor.ndim < 2) {
    throw new ShapeError(
      `fan in and fan out need a tensor of at least 2 dimensions, got shape [${tensor.shape.join(', ')}]`,
    );
  }
  let receptive = 1;
  for (let i = 2; i < tensor.ndim; i++) receptive *= tensor.shape[i];
  return [tensor.shape[1] * receptive, tensor.shape[0] * receptive];
}

const NONLINEARITIES = ['linear', 'relu', 'leaky_relu'] as const;

/** `torch.nn.init.calculate_gain` for the nonlinearities Kaiming init uses. */
export function calculateGain(nonlinearity: 'linear' | 'relu' | 'leaky_relu', param = 0.01): number {
  oneOf('calculateGain: nonlinearity', nonlinearity, NONLINEARITIES, ShapeError);
  if (nonlinearity === 'linear') return 1;
  if (nonlinearity === 'relu') return Math.sqrt(2.0);
  return Math.sqrt(2.0 / (1 + param ** 2));
}

/** Options of `kaimingUniform_`, as `torch.nn.init.kaiming_uniform_`'s arguments (`mode` default 'fan_in', `nonlinearity` default 'leaky_relu'). */
export interface KaimingOptions {
  /** Negative slope of the leaky ReLU after this layer (PyTorch's `a`); Linear uses √5. Default 0. */
  a?: number;
  mode?: 'fan_in' | 'fan_out';
  nonlinearity?: 'linear' | 'relu' | 'leaky_relu';
  generator?: Generator;
}

/**
 * `torch.nn.init.kaiming_uniform_`: U(-b, b) with `b = gain * sqrt(3 / fan)`, computed in double in
 * PyTorch's order (`std = gain / sqrt(fan)`, `b = sqrt(3) * std`), then `uniform_`.
 * A tensor with no elements is left untouched and draws nothing, as in PyTorch.
 *
 * Example:
 *   kaimingUniform_(Tensor.zeros([1024, 512]), { a: Math.sqrt(5) });   // nn.Linear's weight init
 */
export function kaimingUniform_(tensor: Tensor<'float32'>, options: KaimingOptions = {}): Tensor<'float32'> {
  checkOptions('kaimingUniform_', options, ['a', 'mode', 'nonlinearity', 'generator'], ShapeError);
  const { a = 0, mode = 'fan_in', nonlinearity = 'leaky_relu', generator = defaultGenerator() } = options;
  oneOf('kaimingUniform_: mode', mode, ['fan_in', 'fan_out'], ShapeError);
  if (tensor.size === 0) return tensor;
  const [fanIn, fanOut] = calculateFanInAndFanOut(tensor);
  const fan = mode === 'fan_in' ? fanIn : fanOut;
  const gain = calculateGain(nonlinearity, a);
  const std = gain / Math.sqrt(fan);
  const bound = Math.sqrt(3.0) * std;
  return uniform_(tensor, -bound, bound, generator);
}
