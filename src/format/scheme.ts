import { QuantizationError, checkOptions, describeValue, oneOf } from '../errors.js';

/** Which elements share one scale: the whole tensor, a row (output channel), or `groupSize` elements of a row. */
export type Granularity = 'tensor' | 'channel' | 'group';

/**
 * The int8 range. 'full': q in [-128, 127], scale = absmax / 127.5 (PyTorch per_channel_symmetric
 * observers, torchao, compressed-tensors). 'restricted': q in [-127, 127], scale = absmax / 127
 * (ggml Q8_0, optimum-quanto, bitsandbytes).
 */
export type QuantRange = 'full' | 'restricted';

/** The granularities, in the order errors and `--help` list them. */
export const GRANULARITIES: readonly Granularity[] = ['tensor', 'channel', 'group'];

/** The ranges, in the order errors list them. */
export const QUANT_RANGES: readonly QuantRange[] = ['full', 'restricted'];

/**
 * How to quantize a weight. Defaults: `granularity: 'channel'`, `range: 'full'`, `bits: 8`. A
 * `ResolvedScheme` (e.g. `layer.scheme`) is a valid `QuantScheme` too: `groupSize: null` means "none".
 */
export interface QuantScheme {
  granularity?: Granularity;
  /** Elements of a row that share one scale; required with, and only with, `granularity: 'group'`. */
  groupSize?: number | null;
  range?: QuantRange;
  /** Bits per stored weight; 8 is the only width so far. */
  bits?: 8;
}

/** A scheme with every field decided; `groupSize` is null unless granularity is 'group'. */
export interface ResolvedScheme {
  readonly granularity: Granularity;
  readonly groupSize: number | null;
  readonly range: QuantRange;
  readonly bits: 8;
}

/** The keys of a `QuantScheme`, for the unknown-option check. */
export const SCHEME_KEYS: readonly (keyof QuantScheme)[] = ['granularity', 'groupSize', 'range', 'bits'];

/**
 * Checks a scheme against a weight's in_features and fills in the defaults: the one place a scheme
 * is resolved. Pass `inFeatures` null to check the scheme alone (no divisibility check). `who`
 * names the caller in the error for an unknown key.
 *
 * Example:
 *   resolveScheme({ granularity: 'group', groupSize: 128 }, 512);   // { granularity: 'group', groupSize: 128, range: 'full', bits: 8 }
 */
export function resolveScheme(scheme: QuantScheme, inFeatures: number | null, who = 'resolveScheme'): ResolvedScheme {
  checkOptions(who, scheme, SCHEME_KEYS, QuantizationError);
  const granularity = oneOf('granularity', scheme.granularity ?? 'channel', GRANULARITIES, QuantizationError);
  const range = oneOf('range', scheme.range ?? 'full', QUANT_RANGES, QuantizationError);
  const bits = scheme.bits ?? 8;
  const groupSize = scheme.groupSize ?? undefined;
  if (bits !== 8) {
    throw new QuantizationError(`bits ${describeValue(bits)} is not supported; int8-linear stores 8-bit weights (leave bits out, or pass 8)`);
  }
  if (granularity !== 'group') {
    if (groupSize !== undefined) {
      throw new QuantizationError(
        `groupSize ${groupSize} was given with granularity '${granularity}'; ` +
          `groupSize applies only to granularity 'group' (use { granularity: 'group', groupSize: ${groupSize} })`,
      );
    }
    return { granularity, groupSize: null, range, bits };
  }
  if (groupSize === undefined) {
    throw new QuantizationError(`granularity 'group' needs a groupSize, e.g. { granularity: 'group', groupSize: 128 }`);
  }
  if (!Number.isSafeInteger(groupSize) || groupSize <= 0) {
    throw new QuantizationError(`groupSize must be a positive integer, got ${describeValue(groupSize)}`);
  }
  if (inFeatures !== null && inFeatures % groupSize !== 0) {
    throw new QuantizationError(
      `in_features ${inFeatures} is not divisible by groupSize ${groupSize} (remainder ${inFeatures % groupSize}); ` +
        `choose a groupSize that divides ${inFeatures} (weights are not padded)`,
    );
  }
  return { granularity, groupSize, range, bits };
}

/**
 * Shape of the scale tensor for a (out, in) weight under a resolved scheme.
 *
 * Shape: (1,) per tensor, (out, 1) per channel, (out, in / groupSize) per group.
 *
 * Example:
 *   scaleShape(1024, 512, resolveScheme({ granularity: 'group', groupSize: 128 }, 512));   // [1024, 4]
 */
export function scaleShape(outFeatures: number, inFeatures: number, scheme: ResolvedScheme): number[] {
  if (scheme.granularity === 'tensor') return [1];
  if (scheme.granularity === 'channel') return [outFeatures, 1];
  return [outFeatures, inFeatures / (scheme.groupSize as number)];
}

/**
 * The block iteration every granularity shares. Scales are stored row-major in the order of the
 * blocks they cover, and a block is always a run of consecutive elements of the row-major (out, in)
 * weight: the whole tensor, one row, or `groupSize` elements of a row. So element `i` has scale
 * `scales[floor(i / blockLength)]` for all three, and one loop serves them all.
 *
 * Example:
 *   blockLength(1024, 512, resolveScheme({}, 512));   // 512: per channel, a block is one row
 */
export function blockLength(outFeatures: number, inFeatures: number, scheme: ResolvedScheme): number {
  if (scheme.granularity === 'tensor') return outFeatures * inFeatures;
  if (scheme.granularity === 'channel') return inFeatures;
  return scheme.groupSize as number;
}

/**
 * A short stable key of a scheme ('group/128/full'): schemes with the same key quantize alike.
 *
 * Example:
 *   schemeKey(layer.scheme);   // 'channel//full'
 */
export function schemeKey(s: ResolvedScheme): string {
  return `${s.granularity}/${s.groupSize ?? ''}/${s.range}`;
}
