import { kernelView } from '../../src/format/kernel-view.js';
import { Generator, Linear, Tensor, quantize, uniform_, type QuantRange, type QuantScheme } from '../../src/index.js';
import type { KernelWeight } from '../../src/kernels/types.js';

/**
 * The shared shape table (DESIGN §4): the conformance tests run every backend on these, and bench/
 * takes its shapes from here too. M = rows of x, K = in_features, N = out_features.
 */
export const CONFORMANCE_M = [1, 3, 17] as const;
export const CONFORMANCE_K = [1, 7, 64, 4096] as const;
export const CONFORMANCE_N = [1, 5, 64] as const;
export const RANGES_UNDER_TEST: readonly QuantRange[] = ['full', 'restricted'];

/**
 * Group sizes tested per K: each divides K; sizes that are not a multiple of 16 exercise the packed
 * layout's per-group padding (g = 1, 7, 8), and 128 is the common LLM choice.
 */
export const GROUP_SIZES: Readonly<Record<number, readonly number[]>> = {
  1: [1],
  7: [1, 7],
  64: [8, 32],
  4096: [32, 128],
};

/** Every scheme for a K: per tensor, per channel, and per group with each of GROUP_SIZES[K]. */
export function schemesFor(k: number): QuantScheme[] {
  const out: QuantScheme[] = [];
  for (const range of RANGES_UNDER_TEST) {
    out.push({ granularity: 'tensor', range }, { granularity: 'channel', range });
    for (const groupSize of GROUP_SIZES[k] ?? []) out.push({ granularity: 'group', groupSize, range });
  }
  return out;
}

/** One conformance case: M x K x N under a scheme. */
export interface ShapeCase {
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly scheme: QuantScheme;
}

export const CONFORMANCE_CASES: readonly ShapeCase[] = CONFORMANCE_M.flatMap((m) =>
  CONFORMANCE_K.flatMap((k) => CONFORMANCE_N.flatMap((n) => schemesFor(k).map((scheme) => ({ m, k, n, scheme })))),
);

/** The benchmark shapes of issue 3 (M x K x N). */
export const BENCH_SHAPES: readonly { m: number; k: number; n: number }[] = [
  { m: 1, k: 4096, n: 4096 },
  { m: 1, k: 1024, n: 1024 },
  { m: 1, k: 512, n: 1024 },
  { m: 16, k: 1024, n: 1024 },
  { m: 64, k: 1024, n: 1024 },
  { m: 128, k: 4096, n: 4096 },
];

/** A readable label: '17x4096x64 group(128) full'. */
export function caseLabel(c: ShapeCase): string {
  const g = c.scheme.granularity === 'group' ? `group(${c.scheme.groupSize})` : c.scheme.granularity;
  return `${c.m}x${c.k}x${c.n} ${g} ${c.scheme.range}`;
}

/** Seeded data for a case: a PyTorch-initialised Linear's weight quantized under the scheme (its kernel view), its bias, and x ~ U(-1, 1). */
export interface CaseData {
  readonly weight: KernelWeight;
  readonly x: Float32Array;
  readonly bias: Float32Array;
}

const cached = new WeakMap<ShapeCase, CaseData>();

/** The data of a case; the default seed's is made once per case object (every backend runs the same). */
export function caseData(c: ShapeCase, seed = 1234): CaseData {
  const hit = seed === 1234 ? cached.get(c) : undefined;
  if (hit !== undefined) return hit;
  const generator = new Generator(seed + c.m * 7919 + c.k * 104729 + c.n * 31);
  const linear = new Linear(c.k, c.n, { generator });
  const q = quantize(linear.weight, c.scheme);
  const x = uniform_(Tensor.zeros([c.m, c.k], 'float32'), -1, 1, generator).data;
  const data = { weight: kernelView(q.values, q.scale, q), x, bias: linear.bias!.data };
  if (seed === 1234) cached.set(c, data);
  return data;
}
