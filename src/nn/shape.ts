import { FormatError, ShapeError, describeValue } from '../errors.js';
import { Tensor, formatShape, type DType } from '../tensor.js';

/** Checks a layer's `bias` option: a boolean, or undefined for the default. */
export function checkBias(who: string, bias: unknown): void {
  if (bias !== undefined && typeof bias !== 'boolean') {
    throw new ShapeError(`${who}: options.bias must be true or false, got ${describeValue(bias)}`);
  }
}

/** Checks that `x` is a float32 tensor of shape (*, inFeatures); returns the number of rows. */
export function checkInput(x: Tensor, inFeatures: number, who: string): number {
  if (!(x instanceof Tensor) || x.dtype !== 'float32') {
    const got = x instanceof Tensor ? `a ${x.dtype} tensor` : describeValue(x);
    throw new ShapeError(`${who}.forward: expected a float32 Tensor of shape (*, ${inFeatures}), got ${got}`);
  }
  const last = x.shape[x.ndim - 1];
  if (x.ndim === 0 || last !== inFeatures) {
    throw new ShapeError(
      `${who}.forward: input of shape ${formatShape(x.shape)} does not end in in_features=${inFeatures}; ` +
        `expected (*, ${inFeatures})`,
    );
  }
  return inFeatures === 0 ? x.shape.slice(0, -1).reduce((a, b) => a * b, 1) : x.size / inFeatures;
}

/** Shape (*, outFeatures) of the output for an input of shape (*, in). */
export function outputShape(x: Tensor, outFeatures: number): number[] {
  return [...x.shape.slice(0, -1), outFeatures];
}

/**
 * Checks a state dict against the expected entries (like PyTorch's `load_state_dict(strict=True)`):
 * no missing or unexpected key, each dtype and shape equal. Throws before anything is copied.
 */
export function checkStateDict(
  who: string,
  given: Readonly<Record<string, Tensor>>,
  expected: Readonly<Record<string, { dtype: DType; shape: readonly number[] }>>,
): void {
  if (typeof given !== 'object' || given === null || Array.isArray(given) || given instanceof Tensor) {
    throw new FormatError(
      `${who}.loadStateDict: expected an object of tensors { ${Object.keys(expected).join(', ')} }, got ${given instanceof Tensor ? String(given) : describeValue(given)}`,
    );
  }
  const missing = Object.keys(expected).filter((key) => !Object.hasOwn(given, key));
  const unexpected = Object.keys(given).filter((key) => !Object.hasOwn(expected, key));
  if (missing.length > 0 || unexpected.length > 0) {
    throw new FormatError(
      `${who}.loadStateDict: missing keys [${missing.join(', ')}], unexpected keys [${unexpected.join(', ')}]; ` +
        `expected exactly [${Object.keys(expected).join(', ')}]`,
    );
  }
  for (const [key, want] of Object.entries(expected)) {
    const t = given[key];
    if (!(t instanceof Tensor) || t.dtype !== want.dtype) {
      throw new FormatError(
        `${who}.loadStateDict: '${key}' must be a ${want.dtype} Tensor, got ${t instanceof Tensor ? t.dtype : describeValue(t)}`,
      );
    }
    if (t.ndim !== want.shape.length || t.shape.some((d, i) => d !== want.shape[i])) {
      throw new ShapeError(
        `${who}.loadStateDict: size mismatch for '${key}': copying a param with shape ${formatShape(t.shape)}, ` +
          `the shape in the current model is ${formatShape(want.shape)}`,
      );
    }
  }
}
