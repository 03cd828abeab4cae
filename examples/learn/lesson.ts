import {
  Generator,
  Linear,
  QuantizedLinear,
  RANGES,
  Tensor,
  dequantize,
  formatShape,
  quantize,
  roundHalfEven,
  sqnr,
  uniform_,
  type Granularity,
  type QuantRange,
  type QuantScheme,
  type QuantizedTensor,
} from 'int8-linear';

/**
 * Everything the explainer page computes, with the library (no DOM here, so the e2e test can read
 * the same settings in Node). The page's Linear is `new Linear(in, out, { generator: new
 * Generator(seed) })`, exactly `torch.manual_seed(seed); nn.Linear(in, out)`, optionally with one
 * outlier row or column multiplied by `outlierFactor`.
 */

/** The (out_features, in_features) shapes the page offers: examples/learn/make_torch_values.py has PyTorch's values for each. */
export const SHAPES: readonly (readonly [number, number])[] = [
  [1024, 512],
  [256, 128],
  [16, 32],
  [3, 5],
];
/** The seeds the page offers (make_torch_values.py too). */
export const SEEDS: readonly number[] = [42, 0, 7];
export const GRANULARITIES: readonly Granularity[] = ['tensor', 'channel', 'group'];
export type Outlier = 'none' | 'row' | 'column';

export interface Settings {
  readonly out: number;
  readonly in: number;
  readonly seed: number;
  readonly range: QuantRange;
  readonly granularity: Granularity;
  /** Used for 'group', and for the per-group bar of the SQNR chart whatever the granularity. */
  readonly groupSize: number;
  readonly outlier: Outlier;
  readonly outlierFactor: number;
  /** The row worked through step by step. */
  readonly row: number;
}

export const DEFAULTS: Settings = {
  out: 1024,
  in: 512,
  seed: 42,
  range: 'full',
  granularity: 'channel',
  groupSize: 128,
  outlier: 'none',
  outlierFactor: 10,
  row: 0,
};

/** Group sizes that divide in_features (the library pads nothing), smallest first, at most `in / 2`. */
export function groupSizes(inFeatures: number): number[] {
  const sizes: number[] = [];
  for (let g = 1; g <= inFeatures / 2; g++) if (inFeatures % g === 0 && (g >= 4 || inFeatures < 16)) sizes.push(g);
  return sizes.length > 0 ? sizes : [1];
}

/** The group size nearest to `wanted` that divides in_features. */
export function fitGroupSize(inFeatures: number, wanted: number): number {
  const sizes = groupSizes(inFeatures);
  return sizes.reduce((best, g) => (Math.abs(g - wanted) < Math.abs(best - wanted) ? g : best), sizes[0]);
}

/** Which row or column gets the outlier: a third of the way in, so it is visible and not the worked row 0. */
export function outlierIndex(s: Settings): number {
  return Math.floor((s.outlier === 'row' ? s.out : s.in) / 3);
}

export function scheme(s: Settings, granularity: Granularity = s.granularity): QuantScheme {
  return granularity === 'group' ? { granularity, groupSize: s.groupSize, range: s.range } : { granularity, range: s.range };
}

/** The seeded Linear of the settings, with the outlier applied to its weight. */
export function makeLinear(s: Settings): Linear {
  const fc = new Linear(s.in, s.out, { generator: new Generator(s.seed) });
  const w = fc.weight.data;
  if (s.outlier === 'row') {
    const r = outlierIndex(s);
    for (let c = 0; c < s.in; c++) w[r * s.in + c] *= s.outlierFactor;
  } else if (s.outlier === 'column') {
    const c = outlierIndex(s);
    for (let r = 0; r < s.out; r++) w[r * s.in + c] *= s.outlierFactor;
  }
  return fc;
}

/** The input the forward section uses: (m, in), uniform in [-1, 1), from its own seeded stream. */
export function makeInput(s: Settings, m: number): Tensor<'float32'> {
  return uniform_(Tensor.zeros([m, s.in], 'float32'), -1, 1, new Generator(s.seed + 1));
}

/** The shortest decimal that gives back the same float32 (what numpy prints for a float32). */
export function f32(v: number): string {
  if (!Number.isFinite(v) || v === 0) return String(v);
  for (let p = 1; p < 9; p++) {
    const t = v.toPrecision(p);
    if (Math.fround(Number(t)) === v) return String(Number(t));
  }
  return String(Number(v.toPrecision(9)));
}

/** One element of the worked row: each step of quantizing it. */
export interface Step {
  readonly col: number;
  readonly w: number;
  /** fround(w · inv): the float32 product ATen rounds. */
  readonly product: number;
  /** The library's int8 value (q.values). */
  readonly q: number;
  /** roundHalfEven(product), clamped: must equal q. */
  readonly halfEven: number;
  /** Math.round(product), clamped: what a naive port gets. */
  readonly mathRound: number;
  /** The library's dequantized value, fround(q · scale). */
  readonly dequantized: number;
  readonly error: number;
}

/** One scale's block worked through: the tensor, a row, or the first group of a row. */
export interface WorkedBlock {
  readonly row: number;
  /** Index into q.scale.data. */
  readonly scaleIndex: number;
  /** Columns [start, end) of the row the block covers (all rows for 'tensor'). */
  readonly start: number;
  readonly end: number;
  readonly absmax: number;
  /** Where |w| = absmax first occurs: [row, col]. */
  readonly absmaxAt: readonly [number, number];
  readonly divisor: number;
  /** absmax / divisor in double, before the float32 rounding. */
  readonly exactScale: number;
  /** The library's scale (q.scale). */
  readonly scale: number;
  /** fround(1 / scale). */
  readonly inv: number;
  /** The first few elements of the row in the block, then the absmax element if it is in this row. */
  readonly steps: Step[];
}

/** A tie w · inv = k + 0.5 somewhere in the weight, and what each rounding makes of it. */
export interface Tie {
  readonly row: number;
  readonly col: number;
  readonly step: Step;
}

export interface TieReport {
  readonly ties: number;
  /** Ties where Math.round (after clamping) differs from PyTorch. */
  readonly wrong: number;
  /** The first tie Math.round gets wrong, in the worked row if it has one. */
  readonly example: Tie | null;
}

export interface Histogram {
  readonly lo: number;
  readonly hi: number;
  readonly counts: Uint32Array;
}

/** Everything the page draws for one setting. */
export interface Lesson {
  readonly settings: Settings;
  readonly linear: Linear;
  readonly q: QuantizedTensor;
  readonly scaleShape: string;
  readonly dequantized: Float32Array;
  readonly worked: WorkedBlock;
  readonly ties: TieReport;
  /** SQNR in dB of the current range for each granularity (group: `settings.groupSize`). */
  readonly sqnr: Record<Granularity, number>;
  readonly weightHistogram: Histogram;
  readonly errorHistogram: Histogram;
}

/** The block of the scheme that holds element [row, col]: its scale's index and the columns of its row. */
function blockOf(s: Settings, row: number, col: number): { scaleIndex: number; start: number; end: number } {
  if (s.granularity === 'tensor') return { scaleIndex: 0, start: 0, end: s.in };
  if (s.granularity === 'channel') return { scaleIndex: row, start: 0, end: s.in };
  const g = Math.floor(col / s.groupSize);
  return { scaleIndex: row * (s.in / s.groupSize) + g, start: g * s.groupSize, end: (g + 1) * s.groupSize };
}

/** Index into q.scale.data of the scale that element [row, col] uses. */
export function scaleIndexOf(s: Settings, row: number, col: number): number {
  return blockOf(s, row, col).scaleIndex;
}

function clamp(v: number, range: QuantRange): number {
  const { qmin, qmax } = RANGES[range];
  return v < qmin ? qmin : v > qmax ? qmax : v;
}

function stepOf(l: { settings: Settings; linear: Linear; q: QuantizedTensor; dequantized: Float32Array }, row: number, col: number): Step {
  const s = l.settings;
  const i = row * s.in + col;
  const w = l.linear.weight.data[i];
  const inv = Math.fround(1 / l.q.scale.data[scaleIndexOf(s, row, col)]);
  const product = Math.fround(w * inv);
  return {
    col,
    w,
    product,
    q: l.q.values.data[i],
    halfEven: clamp(roundHalfEven(product), s.range),
    mathRound: clamp(Math.round(product), s.range),
    dequantized: l.dequantized[i],
    error: w - l.dequantized[i],
  };
}

function histogram(values: ArrayLike<number>, lo: number, hi: number, bins: number): Histogram {
  const counts = new Uint32Array(bins);
  const width = (hi - lo) / bins;
  for (let i = 0; i < values.length; i++) {
    const b = Math.floor((values[i] - lo) / width);
    counts[b < 0 ? 0 : b >= bins ? bins - 1 : b]++;
  }
  return { lo, hi, counts };
}

/** How many elements of the worked row the step table lists before the absmax element. */
export const STEP_COLUMNS = 6;
export const HISTOGRAM_BINS = 64;

/** Builds, quantizes and measures the layer of the settings: the whole page's numbers. */
export function lesson(s: Settings): Lesson {
  const linear = makeLinear(s);
  const w = linear.weight;
  const q = quantize(w, scheme(s));
  const dequantized = dequantize(q).data;
  const base = { settings: s, linear, q, dequantized };

  const row = Math.min(s.row, s.out - 1);
  const block = blockOf(s, row, 0);
  // absmax over the block (whole tensor per tensor): found here to say *where* it is; its value
  // divided by the divisor is checked against the library's scale by the e2e test.
  let absmax = -1;
  let absmaxAt: [number, number] = [0, 0];
  const rows = s.granularity === 'tensor' ? [0, s.out] : [row, row + 1];
  for (let r = rows[0]; r < rows[1]; r++) {
    for (let c = block.start; c < block.end; c++) {
      const a = Math.abs(w.data[r * s.in + c]);
      if (a > absmax) {
        absmax = a;
        absmaxAt = [r, c];
      }
    }
  }
  const steps: Step[] = [];
  for (let c = block.start; c < Math.min(block.end, block.start + STEP_COLUMNS); c++) steps.push(stepOf(base, row, c));
  if (absmaxAt[0] === row && absmaxAt[1] >= block.start + STEP_COLUMNS) steps.push(stepOf(base, row, absmaxAt[1]));
  const scale = q.scale.data[block.scaleIndex];
  const divisor = RANGES[s.range].divisor;
  const worked: WorkedBlock = {
    row,
    scaleIndex: block.scaleIndex,
    start: block.start,
    end: block.end,
    absmax,
    absmaxAt,
    divisor,
    exactScale: absmax / divisor,
    scale,
    inv: Math.fround(1 / scale),
    steps,
  };

  let ties = 0;
  let wrong = 0;
  let example: Tie | null = null;
  const invs = q.scale.data.map((x) => Math.fround(1 / x));
  const perRow = s.granularity === 'tensor' ? 0 : s.granularity === 'channel' ? 1 : s.in / s.groupSize;
  const perScale = s.granularity === 'group' ? s.groupSize : s.in;
  for (let r = 0; r < s.out; r++) {
    for (let c = 0; c < s.in; c++) {
      const p = Math.fround(w.data[r * s.in + c] * invs[r * perRow + Math.floor(c / perScale)]);
      if (p - Math.floor(p) !== 0.5) continue;
      ties++;
      const st = stepOf(base, r, c);
      if (st.mathRound === st.halfEven) continue;
      wrong++;
      if (example === null || (example.row !== row && r === row)) example = { row: r, col: c, step: st };
    }
  }

  const sq = {} as Record<Granularity, number>;
  for (const g of GRANULARITIES) sq[g] = sqnr(w, dequantize(quantize(w, scheme(s, g))));

  let wmax = 0;
  for (let i = 0; i < w.data.length; i++) wmax = Math.max(wmax, Math.abs(w.data[i]));
  const errors = new Float64Array(w.data.length);
  for (let i = 0; i < errors.length; i++) errors[i] = w.data[i] - dequantized[i];
  // Errors are within half a step of their block's scale; the largest scale bounds the axis.
  let smax = 0;
  for (let i = 0; i < q.scale.data.length; i++) smax = Math.max(smax, q.scale.data[i]);

  return {
    settings: s,
    linear,
    q,
    scaleShape: formatShape(q.scale.shape),
    dequantized,
    worked,
    ties: { ties, wrong, example },
    sqnr: sq,
    weightHistogram: histogram(w.data, -wmax, wmax, HISTOGRAM_BINS),
    errorHistogram: histogram(errors, -smax / 2, smax / 2, HISTOGRAM_BINS),
  };
}

/** The quantized layer of the settings, for the forward section. */
export function quantizedLayer(l: Lesson): QuantizedLinear {
  return QuantizedLinear.fromQuantized(l.q, l.linear.bias);
}
