/**
 * Round to nearest, ties to even: what C's `nearbyint` does in the default rounding mode and what
 * ATen's `quantize_val` uses. `Math.round` differs on every tie (it rounds -127.5 to -127, PyTorch to -128).
 *
 * Example:
 *   roundHalfEven(2.5);    //  2
 *   roundHalfEven(-127.5); // -128
 */
export function roundHalfEven(x: number): number {
  if (x < 2 ** 51 && x > -(2 ** 51)) {
    // x + 1.5·2^52 lies in (2^52, 2^53), where doubles are exactly the integers, so the addition
    // itself rounds x to an integer, ties to even (IEEE's default mode; 1.5·2^52 is even), and the
    // subtraction is exact. `x * 0` keeps the sign of a zero result as nearbyint does (-0.4 -> -0).
    const r = x + ROUNDER - ROUNDER;
    return r === 0 ? x * 0 : r;
  }
  const r = Math.round(x); // |x| >= 2^51 (ties only below 2^52), or NaN; Math.round sends ties to +Infinity
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** 1.5 · 2^52: see `roundHalfEven`. */
const ROUNDER = 6755399441055744;
