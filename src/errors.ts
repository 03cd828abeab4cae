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
  static override readonly [Symbol.hasInstance] = /* @__PURE__ */ brandedInstanceCheck(this, 'Int8LinearError');

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A tensor shape or data length does not fit what the operation needs. */
export class ShapeError extends Int8LinearError {
  static override readonly [Symbol.hasInstance] = /* @__PURE__ */ brandedInstanceCheck(this, 'ShapeError');
}

/** Quantization input or options are invalid (non-finite weights, bad group size, ...). */
export class QuantizationError extends Int8LinearError {
  static override readonly [Symbol.hasInstance] = /* @__PURE__ */ brandedInstanceCheck(this, 'QuantizationError');
}

/** Serialized data (a safetensors file, a state dict) is malformed or does not match. */
export class FormatError extends Int8LinearError {
  static override readonly [Symbol.hasInstance] = /* @__PURE__ */ brandedInstanceCheck(this, 'FormatError');
}

/** A backend cannot be created here, or cannot run the given layer. */
export class BackendError extends Int8LinearError {
  static override readonly [Symbol.hasInstance] = /* @__PURE__ */ brandedInstanceCheck(this, 'BackendError');
}

/**
 * The `instanceof` check of a library class that also holds for instances made by the other build of
 * this package. A program that loads both `dist/index.cjs` (through `require`, or a CommonJS dependency)
 * and `dist/index.js` (through `import`) has two copies of every class, and a plain `instanceof` would
 * call a Tensor made by one copy "not a Tensor" in the other. So each class marks its prototype with a
 * global brand, `Symbol.for('int8-linear.<name>')` (the same symbol in every copy), and `instanceof`
 * tests that brand. A subclass that declares no check of its own (a user's `class MyTensor extends
 * Tensor`) keeps JavaScript's ordinary prototype-chain test.
 *
 * Used as the class's `static readonly [Symbol.hasInstance]` field, annotated pure, so a bundler can
 * still drop a class nobody imports (a static block or a call after the class would keep it).
 *
 * Example:
 *   class Tensor { static readonly [Symbol.hasInstance] = brandedInstanceCheck(this, 'Tensor'); }
 *   require('int8-linear').Tensor.zeros([2]) instanceof (await import('int8-linear')).Tensor;   // true
 */
export function brandedInstanceCheck(Class: abstract new (...args: never[]) => unknown, name: string): BrandedInstanceCheck {
  const brand = Symbol.for(`int8-linear.${name}`);
  Object.defineProperty(Class.prototype, brand, { value: true });
  const ordinary = Function.prototype[Symbol.hasInstance];
  return function hasInstance<T>(this: abstract new (...args: never[]) => T, value: unknown): value is T {
    if (this !== Class) return ordinary.call(this, value);
    return (typeof value === 'object' || typeof value === 'function') && value !== null && (value as Record<symbol, unknown>)[brand] === true;
  };
}

/**
 * The type of a class's `[Symbol.hasInstance]` made by `brandedInstanceCheck`: it narrows `x instanceof C`
 * to the instance type of the class on the right, so a subclass (`class MyError extends FormatError`)
 * narrows to itself, not to the class that declared the check.
 */
export type BrandedInstanceCheck = <T>(this: abstract new (...args: never[]) => T, value: unknown) => value is T;

/** One of the error classes above, for helpers that throw the caller's kind of error. */
export type ErrorClass = new (message: string) => Int8LinearError;

/**
 * A value described for an error message by its kind and size, never its contents: a typed array of
 * a million floats is "a Float32Array of length 1000000", not a million numbers.
 *
 * Example:
 *   describeValue(new Float32Array(6));   // 'a Float32Array of length 6'
 *   describeValue(null);                  // 'null'
 */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}...` : value);
  if (typeof value !== 'object') return typeof value === 'function' || typeof value === 'symbol' ? `a ${typeof value}` : `${typeof value} ${String(value)}`;
  if (ArrayBuffer.isView(value)) {
    const length = (value as { length?: unknown }).length;
    return `a ${value.constructor.name} of ${typeof length === 'number' ? `length ${length}` : `${value.byteLength} bytes`}`;
  }
  if (value instanceof ArrayBuffer) return `an ArrayBuffer of ${value.byteLength} bytes`;
  if (Array.isArray(value)) return `an Array of length ${value.length}`;
  const name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor?.name;
  return typeof name === 'string' && name !== '' && name !== 'Object' ? `a ${name}` : 'an object';
}

/**
 * `table[key]` when `key` is one of the table's own keys, else undefined. Never an inherited member:
 * a user-given 'toString', '__proto__', 'constructor' or 'hasOwnProperty' finds nothing, so it
 * cannot pass for a valid option.
 *
 * Example:
 *   ownEntry({ f32: 'float32' }, 'toString');   // undefined (while ({ f32: 'float32' })['toString'] is a function)
 */
export function ownEntry<V>(table: Readonly<Record<string, V>>, key: unknown): V | undefined {
  return typeof key === 'string' && Object.hasOwn(table, key) ? table[key] : undefined;
}

/**
 * `value` when it is one of `allowed` (compared as strings, so nothing inherited matches), else an
 * `ErrorType` naming what was given and the allowed values.
 *
 * Example:
 *   oneOf('range', 'toString', ['full', 'restricted'], QuantizationError);   // throws: range "toString" is not one of 'full', 'restricted'
 */
export function oneOf<T extends string>(what: string, value: unknown, allowed: readonly T[], ErrorType: ErrorClass): T {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new ErrorType(`${what} ${describeValue(value)} is not one of ${allowed.map((a) => `'${a}'`).join(', ')}`);
}

/**
 * Checks an options object at a public boundary: undefined (no options) or a non-array object whose
 * own keys are all in `allowed`. A misspelt key ('granularty') is an `ErrorType` naming it, never
 * silently ignored.
 *
 * Example:
 *   checkOptions('quantize', { granularty: 'group' }, ['granularity', 'groupSize', 'range'], QuantizationError);
 *   // throws: quantize: unknown option 'granularty'; the options are 'granularity', 'groupSize', 'range'
 */
export function checkOptions(who: string, options: unknown, allowed: readonly string[], ErrorType: ErrorClass): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ErrorType(`${who}: options must be an object, got ${describeValue(options)}`);
  }
  const unknown = Object.keys(options).filter((key) => !allowed.includes(key));
  if (unknown.length > 0) {
    throw new ErrorType(
      `${who}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')}; ` +
        `the options are ${allowed.map((a) => `'${a}'`).join(', ')} (check the spelling)`,
    );
  }
}
