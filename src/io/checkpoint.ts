import { FormatError } from '../errors.js';
import { Linear } from '../nn/linear.js';
import type { LoadStateDictOptions, LoadStateDictResult, Module } from '../nn/module.js';
import { QuantizedLinear } from '../nn/quantized-linear.js';
import type { Tensor } from '../tensor.js';
import { loadCompressedTensors } from './compressed-tensors.js';

/**
 * Loads a checkpoint into a model written with float `Linear` layers, float or quantized alike, as
 * Hugging Face's compressed-tensors loader does: every layer the file stores as int8 (a
 * `<name>.weight_scale` beside an int8 `<name>.weight`) replaces the model's `Linear` at `<name>` by
 * the file's `QuantizedLinear` (scheme from the file's quantization_config); then the whole state is
 * loaded with `model.loadStateDict` (PyTorch's key and shape checks and messages). A float file
 * simply loads. So a model is written once and loads either checkpoint.
 *
 * Shape: the file's Linear weights must have the model's (out_features, in_features).
 *
 * Example:
 *   const model = new Llama(config);
 *   loadCheckpoint(model, readFileSync('model-int8.safetensors'));   // lm_head stays Linear if the file keeps it float
 */
export function loadCheckpoint(
  model: Module,
  source: Uint8Array | { tensors: Readonly<Record<string, Tensor>>; metadata: Readonly<Record<string, string>> | null },
  options: LoadStateDictOptions = {},
): LoadStateDictResult {
  const { layers, tensors } = loadCompressedTensors(source);
  // Check every swap before making one, so a file that does not fit changes nothing.
  const swaps: [Module, string, QuantizedLinear][] = [];
  for (const [name, q] of Object.entries(layers)) {
    const dot = name.lastIndexOf('.');
    const parent = model.getSubmodule(dot < 0 ? '' : name.slice(0, dot));
    const childName = name.slice(dot + 1);
    const current = parent.namedChildren().find(([n]) => n === childName)?.[1];
    if (!(current instanceof Linear || current instanceof QuantizedLinear)) {
      throw new FormatError(
        `loadCheckpoint: the file has a quantized Linear '${name}', but ${model.constructor.name} has ` +
          `${current === undefined ? 'no module there' : `a ${current.constructor.name} there`}; the file does not fit this model`,
      );
    }
    if (current.inFeatures !== q.inFeatures || current.outFeatures !== q.outFeatures || (current.bias === null) !== (q.bias === null)) {
      throw new FormatError(
        `loadCheckpoint: size mismatch for ${name}: the file's layer is ${q.outFeatures}x${q.inFeatures} (bias=${q.bias !== null}), ` +
          `the model's is ${current.outFeatures}x${current.inFeatures} (bias=${current.bias !== null})`,
      );
    }
    swaps.push([parent, childName, q]);
  }
  const state: Record<string, Tensor> = { ...tensors };
  for (const [name, q] of Object.entries(layers)) {
    for (const [key, t] of Object.entries(q.stateDict())) state[`${name}.${key}`] = t;
  }
  const previous = swaps.map(([parent, childName]) => parent.namedChildren().find(([n]) => n === childName)?.[1] as Module);
  for (const [parent, childName, q] of swaps) parent.registerModule(childName, q);
  try {
    return model.loadStateDict(state, options);
  } catch (e) {
    swaps.forEach(([parent, childName], i) => parent.registerModule(childName, previous[i]));
    throw e;
  }
}
