/**
 * The statistics every benchmark prints (Node scripts and the browser page): the median of timed
 * samples, and a row's error against its reference.
 */

/**
 * The median of `samples` (the mean of the middle two for an even count).
 *
 * Example:
 *   median([3, 1, 2]);   // 2
 */
export function median(samples: readonly number[]): number {
  const s = [...samples].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/**
 * max |y - ref| / max |ref|; NaN anywhere in y makes it NaN (so a check `err <= limit` fails).
 *
 * Shape: y and ref of the same length.
 *
 * Example:
 *   relErr(new Float32Array([1, 2.5]), new Float32Array([1, 2]));   // 0.25
 */
export function relErr(y: ArrayLike<number>, ref: ArrayLike<number>): number {
  let err = 0;
  let max = 0;
  for (let i = 0; i < ref.length; i++) {
    const e = Math.abs(y[i] - ref[i]);
    if (!(e <= err)) err = e;
    max = Math.max(max, Math.abs(ref[i]));
  }
  return err / max;
}
