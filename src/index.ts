export { Int8LinearError, ShapeError, QuantizationError, FormatError, BackendError } from './errors.js';
export { Tensor, formatShape } from './tensor.js';
export type { DType, DataTypeMap, TensorData } from './tensor.js';
export { Generator, manualSeed, defaultGenerator, DEFAULT_SEED } from './random.js';
export { uniform_, kaimingUniform_, calculateGain, calculateFanInAndFanOut } from './nn/init.js';
export type { KaimingOptions } from './nn/init.js';
export { Module, Sequential, ModuleList, ModuleDict } from './nn/module.js';
export type { LoadStateDictOptions, LoadStateDictResult } from './nn/module.js';
export { Embedding, LayerNorm, RMSNorm, ReLU, GELU, SiLU, pythonFloat } from './nn/layers.js';
export type { EmbeddingOptions, NormOptions, GeluApproximate } from './nn/layers.js';
export { quantize_ } from './nn/quantize_.js';
export type { LayerQuantScheme, ModelQuantScheme } from './nn/quantize_.js';
export { loadCheckpoint } from './io/checkpoint.js';
export { Linear } from './nn/linear.js';
export type { LinearOptions } from './nn/linear.js';
export { QuantizedLinear } from './nn/quantized-linear.js';
export type { QuantizedLinearOptions, ActivationMode } from './nn/quantized-linear.js';
export { quantize, dequantize, computeScale } from './quant/quantize.js';
export type { QuantizedTensor } from './quant/quantize.js';
export type { Granularity, QuantRange, QuantScheme, ResolvedScheme } from './format/scheme.js';
export { EPS, RANGES, quantizeWithScales } from './format/formats.js';
export { roundHalfEven } from './format/round.js';
export { sqnr, maxAbsError, meanAbsError } from './quant/metrics.js';
export { createReferenceBackend } from './kernels/reference.js';
export { createJsBackend } from './kernels/js-packed.js';
export { createWasmBackend, relaxedSimdSupported, wasmSimdSupported } from './kernels/wasm/backend.js';
export type { WasmBackend, WasmBackendOptions } from './kernels/wasm/backend.js';
export { createWorkerBackend } from './kernels/wasm/worker-backend.js';
export type { WorkerBackend, WorkerBackendOptions } from './kernels/wasm/worker-backend.js';
export { availableBackends } from './kernels/available.js';
export type { Backend, AsyncBackend, AsyncIntegerBackend, W8A8Backend, W8A16Backend, CachingBackend, ResidentBackend } from './kernels/types.js';
export {
  readSafetensors,
  writeSafetensors,
  parseSafetensorsHeader,
  readHeaderSize,
  planSafetensors,
  checkSafetensorsPlan,
  isTensorEntry,
  tensorBytes,
  SafetensorsFormatError,
  SAFETENSORS_DTYPES,
  SAFETENSORS_DTYPE_BITS,
  MAX_HEADER_SIZE,
} from './io/safetensors.js';
export type { RawTensor, SafetensorsDType, SafetensorsEntry, SafetensorsHeader, SafetensorsPlan, SafetensorsRule, SafetensorsSpec } from './io/safetensors.js';
export {
  saveCompressedTensors,
  loadCompressedTensors,
  quantizationConfig,
  compressedTensorsNames,
  layerScheme,
  INT8_LINEAR_FORMAT_VERSION,
  packInt8Rows,
  unpackInt8Rows,
  COMPRESSED_TENSORS_FORMATS,
  COMPRESSED_TENSORS_VERSION,
} from './io/compressed-tensors.js';
export type {
  QuantizationConfig,
  CompressedTensorsGroup,
  CompressedTensorsWeights,
  SaveCompressedTensorsOptions,
  LoadedCompressedTensors,
  ScaleDType,
  CompressedTensorsFormat,
} from './io/compressed-tensors.js';
export { readGguf, writeGguf, GgufFormatError, GGML_TYPES, GGML_TYPE, GGUF_VERSION } from './io/gguf.js';
export type { GgufFile, GgufRule, GgufScalar, GgufScalarType, GgufTensorInfo, GgufTensorSpec, GgufValue } from './io/gguf.js';
export { ggufToSafetensors, safetensorsToGguf } from './io/gguf-convert.js';
export type { GgufToSafetensors, SafetensorsToGgufOptions, SafetensorsToGgufReport } from './io/gguf-convert.js';
export { QK8_0, quantizeRowsQ8_0, roundHalfAwayFromZero } from './format/q8_0.js';
