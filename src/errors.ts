/**
 * The one base class of every error this library throws on purpose. Catch it to tell our errors
 * (bad shapes, bad files, bad quantization input, unusable backends) from bugs.
 *
 * Every message says what was given, what was expected and how to fix it.
 *
 * Example:
 *   try { new Tensor(new Float32Array(3), [2, 2]); }
 *   catch (e) { if (e instanceof Int8LinearError) console.error(e.message); }
 */
export class Int8LinearError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A tensor shape or data length does not fit what the operation needs. */
export class ShapeError extends Int8LinearError {}

/** Quantization input or options are invalid (non-finite weights, bad group size, ...). */
export class QuantizationError extends Int8LinearError {}

/** Serialized data (a safetensors file, a state dict) is malformed or does not match. */
export class FormatError extends Int8LinearError {}

/** A backend cannot be created here, or cannot run the given layer. */
export class BackendError extends Int8LinearError {}
