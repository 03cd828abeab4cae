/**
 * Round to nearest, ties to even: what C's `nearbyint` does in the default rounding mode and what
 * ATen's `quantize_val` uses. `Math.round` differs on every tie (it rounds -127.5 to -127, PyTorch to -128).
 *
 * Example:
 *   roundHalfEven(2.5);    //  2
 *   roundHalfEven(-127.5); // -128
 */
export function roundHalfEven(x: number): number {
  const r = Math.round(x); // ties go towards +Infinity here
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
