import { ShapeError, describeValue } from '../errors.js';
import { Tensor, formatShape, numel, toFloat32Hint } from '../tensor.js';

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
    throw new ShapeError(`${who}.forward: expected a float32 Tensor of shape (*, ${inFeatures}), got ${got}${toFloat32Hint(x, 'x')}`);
  }
  const last = x.shape[x.ndim - 1];
  if (x.ndim === 0 || last !== inFeatures) {
    throw new ShapeError(
      `${who}.forward: input of shape ${formatShape(x.shape)} does not end in in_features=${inFeatures}; ` +
        `expected (*, ${inFeatures})`,
    );
  }
  return inFeatures === 0 ? numel(x.shape.slice(0, -1)) : x.size / inFeatures;
}

/** Shape (*, outFeatures) of the output for an input of shape (*, in). */
export function outputShape(x: Tensor, outFeatures: number): number[] {
  return [...x.shape.slice(0, -1), outFeatures];
}
