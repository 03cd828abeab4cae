/**
 * Comparison helpers shared by the tests: NaN-safe, and a failure names the index, both values and
 * the limit (DESIGN §5.6).
 */

/** Bit-exact equality of two numeric arrays (float32 values compared as numbers; -0 and +0 differ). */
export function expectBitExact(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>): void {
  if (actual.length !== expected.length) {
    throw new Error(`${what}: length ${actual.length}, expected ${expected.length}`);
  }
  let mismatches = 0;
  let first = -1;
  for (let i = 0; i < actual.length; i++) {
    if (!Object.is(actual[i], expected[i])) {
      mismatches++;
      if (first < 0) first = i;
    }
  }
  if (mismatches > 0) {
    throw new Error(
      `${what}: ${mismatches} of ${actual.length} elements differ; first at index ${first}: ` +
        `got ${actual[first]}, expected ${expected[first]} (bit-exact required)`,
    );
  }
}

/**
 * Checks |actual[i] - expected[i]| <= limit(i) for every i, NaN-safely; throws naming the first
 * offending index, both values and the limit.
 */
export function expectWithin(
  what: string,
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  limit: (i: number) => number,
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${what}: length ${actual.length}, expected ${expected.length}`);
  }
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    const tol = limit(i);
    if (!(err <= tol)) {
      throw new Error(`${what}: index ${i}: got ${actual[i]}, expected ${expected[i]}, |error| ${err} > limit ${tol}`);
    }
  }
}

/** 2^-24: the unit roundoff of float32 (half an ulp of 1). */
export const U32 = 2 ** -24;

/**
 * Rigorous per-element error bound of a length-k dot product summed in float32 in any order, plus
 * the final rounding and a float32 bias add: |ŷ - y| <= γ_(k+2) · (Σ|x_i·w_i| + |b|) with
 * γ_n = n·u/(1 - n·u) (Higham, Accuracy and Stability, §3.1). Used where one side is PyTorch's
 * float32 BLAS, whose summation order is unknown; our side (double accumulation) adds one more u.
 */
export function float32DotBound(k: number, absSum: number): number {
  const n = k + 3;
  return ((n * U32) / (1 - n * U32)) * absSum;
}

/**
 * Shapes equal and every element within `tol` of PyTorch's value, relative to max(1, |PyTorch|)
 * (an absolute bound below 1); a failure names the index, both values and the limit.
 */
export function expectCloseToPyTorch(got: { shape: readonly number[]; data: ArrayLike<number | bigint> }, want: { shape: readonly number[]; data: ArrayLike<number | bigint> }, tol: number): void {
  if (got.shape.join(',') !== want.shape.join(',')) throw new Error(`shape (${got.shape.join(', ')}), PyTorch (${want.shape.join(', ')})`);
  for (let i = 0; i < want.data.length; i++) {
    const g = Number(got.data[i]);
    const w = Number(want.data[i]);
    const err = Math.abs(g - w) / Math.max(1, Math.abs(w));
    if (!(err <= tol)) throw new Error(`index ${i}: got ${g}, PyTorch ${w}, relative error ${err} > ${tol}`);
  }
}
