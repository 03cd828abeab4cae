/**
 * The tensor names of a quantized Linear in a checkpoint, defined once (compressed-tensors'
 * spelling, which PyTorch state dicts share): `<layer>.weight` and so on, or the bare key for the
 * layer '' (a state dict of one layer).
 */
export const TENSOR_KEYS = {
  weight: 'weight',
  weightScale: 'weight_scale',
  weightZeroPoint: 'weight_zero_point',
  /** pack-quantized: several low-bit values per int32. */
  weightPacked: 'weight_packed',
  /** pack-quantized: the unpacked (out, in) shape. */
  weightShape: 'weight_shape',
  bias: 'bias',
} as const;

/** Which tensor of a layer: a key of `TENSOR_KEYS`. */
export type TensorKey = keyof typeof TENSOR_KEYS;

/**
 * The checkpoint name of tensor `key` of layer `layer`.
 *
 * Example:
 *   tensorName('model.fc1', 'weightScale');   // 'model.fc1.weight_scale'
 *   tensorName('', 'weight');                  // 'weight'
 */
export function tensorName(layer: string, key: TensorKey): string {
  return layer === '' ? TENSOR_KEYS[key] : `${layer}.${TENSOR_KEYS[key]}`;
}

/**
 * The layer a checkpoint tensor `name` is tensor `key` of, or null if it is not one.
 *
 * Example:
 *   layerOf('model.fc1.weight_scale', 'weightScale');   // 'model.fc1'
 *   layerOf('weight', 'weight');                         // ''
 *   layerOf('model.fc1.bias', 'weight');                 // null
 */
export function layerOf(name: string, key: TensorKey): string | null {
  const suffix = TENSOR_KEYS[key];
  if (name === suffix) return '';
  return name.endsWith(`.${suffix}`) ? name.slice(0, name.length - suffix.length - 1) : null;
}
