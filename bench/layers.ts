/**
 * The layers and inputs every benchmark runs (bench/run.ts in Node, the browser bench page), made
 * from seeds so that Node and the page, and onnxruntime's graphs built from them, see the same
 * numbers: `Linear(k, n)` initialised as PyTorch does from `Generator(seed)`, quantized per channel
 * and per group(128), restricted range (q in [-127, 127]: the range onnxruntime's W8A8 kernels are
 * meant for). Imports the package by name, so the page bundles it from dist/ and Node runs src/.
 */
import { Generator, Linear, QuantizedLinear, Tensor, dequantize, uniform_ } from 'int8-linear';
import { layerKernelWeight, type KernelWeight } from 'int8-linear/advanced';

export interface BenchLayer {
  q: QuantizedLinear;
  weight: KernelWeight;
  /** The dequantized weight (n, k), what the float32 peers multiply by. */
  wFloat: Float32Array;
  bias: Float32Array;
  /** The same Linear quantized per group of 128 (null when 128 does not divide K). */
  qg: QuantizedLinear | null;
}

/**
 * A seeded layer of `k` inputs and `n` outputs.
 *
 * Shape: weight (n, k), bias (n).
 *
 * Example:
 *   const layer = makeLayer(4096, 4096, 1000 + 4096 + 4096);   // the warm 4096x4096 layer of bench/run.ts
 */
export function makeLayer(k: number, n: number, seed: number): BenchLayer {
  const linear = new Linear(k, n, { generator: new Generator(seed) });
  const q = QuantizedLinear.fromLinear(linear, { granularity: 'channel', range: 'restricted' });
  const wFloat = dequantize({ values: q.weight, scale: q.weightScale, ...q.scheme }).data;
  const qg = k % 128 === 0 ? QuantizedLinear.fromLinear(linear, { granularity: 'group', groupSize: 128, range: 'restricted' }) : null;
  return { q, weight: layerKernelWeight(q), wFloat, bias: q.bias!.data, qg };
}

/**
 * Activations uniform in [-1, 1) from `Generator(seed)`.
 *
 * Shape: (m, k).
 *
 * Example:
 *   const x = benchInput(1, 4096, 7 + 1);
 */
export function benchInput(m: number, k: number, seed: number): Float32Array {
  return uniform_(Tensor.zeros([m, k], 'float32'), -1, 1, new Generator(seed)).data;
}

/** Seed of the warm layer of a K x N shape, and of the 4 layers the cold (rotated) case cycles through. */
export const warmSeed = (k: number, n: number): number => 1000 + k + n;
export const COLD_SEEDS = [5000, 5001, 5002, 5003] as const;
/** Seed of the input of an M-row shape, and of the cold case's input. */
export const inputSeed = (m: number): number => 7 + m;
export const COLD_INPUT_SEED = 99;
