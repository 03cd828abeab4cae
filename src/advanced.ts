/**
 * The `int8-linear/advanced` entry: the pieces under the public API, for writing a backend, calling
 * kernels directly (tests, benchmarks) or reading a checkpoint format by hand. Browser-safe, like
 * the main entry. Everything here may change between minor versions more freely than the main entry.
 */
export { kernelView } from './format/kernel-view.js';
export type { KernelWeight } from './format/kernel-view.js';
export { FORMATS, formatOf, quantizeWithScales, EPS, RANGES } from './format/formats.js';
export type { FormatId, WeightFormat } from './format/formats.js';
export { resolveScheme, scaleShape, blockLength, schemeKey, GRANULARITIES, QUANT_RANGES } from './format/scheme.js';
export { TENSOR_KEYS, tensorName, layerOf } from './format/names.js';
export type { TensorKey } from './format/names.js';
export { roundHalfEven } from './format/round.js';
export { numel, DTYPE_BYTES } from './tensor.js';
export { quantizeActivations, quantizeActivationsInt16 } from './quant/activations.js';
export type { QuantizedActivations, QuantizedActivationsInt16 } from './quant/activations.js';
export { referenceLinear, referenceLinearF32, referenceLinearW8A16, referenceLinearW8A8, W8A16_RUN } from './kernels/reference.js';
export {
  isAsyncBackend,
  hasW8A8,
  hasW8A16,
  isCachingBackend,
  isResidentBackend,
  runLinearAsync,
  runLinearW8A8,
  runLinearW8A16,
  runLinearW8A8Async,
  runLinearW8A16Async,
  checkCanRun,
  releaseWeight,
  adoptWeight,
  readWeightValues,
} from './kernels/dispatch.js';
export type { LinearArgs, LinearW8A16Args, LinearW8A8Args } from './kernels/types.js';
export { layerKernelWeight } from './nn/quantized-linear.js';
