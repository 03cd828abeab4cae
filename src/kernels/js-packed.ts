import { BackendError } from '../errors.js';
import { CHUNK, ROWS, chunksPerRun, packWeight, packedLayout, padActivations, unpackValues, type PackedLayout } from './packed.js';
import { W8A16_RUN } from './reference.js';
import type { KernelWeight, LinearArgs, LinearW8A16Args, LinearW8A8Args, ResidentBackend, W8A16Backend, W8A8Backend } from './types.js';

interface JsPacked {
  readonly layout: PackedLayout;
  readonly values: Int8Array;
  readonly scales: Float32Array;
}

/**
 * Creates the JS fallback backend, for runtimes without WebAssembly SIMD: the same packed layout as
 * the wasm kernel (`packed.ts`), read by plain typed-array loops that compute four output rows per
 * pass so each activation load serves four weights; float64 accumulation (JS numbers) for W8A32, and
 * for W8A8 / W8A16 exact integer sums with the reference's float32 formula (bit-exact with
 * `referenceLinearW8A8` / `referenceLinearW8A16`).
 * Packed weights are cached per weight object (a WeakMap: garbage-collected with the layer); after
 * `QuantizedLinear.to` (which calls `adopt`) the packed copy is the layer's only copy.
 *
 * Shape: as `Backend.linear`: x (m, k) -> out (m, n).
 *
 * Example:
 *   const js = createJsBackend();
 *   qfc.to(js).forward(x);
 */
export function createJsBackend(): ResidentBackend & W8A8Backend & W8A16Backend {
  /** Packed copies of weights seen in calls (a cache; `dispose` drops it). */
  let packedByWeight = new WeakMap<KernelWeight, JsPacked>();
  /** Weights adopted from layers: their only copy, so `dispose` keeps them (they go with the layer). */
  const adopted = new WeakMap<KernelWeight, JsPacked>();
  let xPad = new Float32Array(0);
  let xqPad = new Int16Array(0);
  /** The four dot products of one group (float64; exact integers for W8A8), reused by every call. */
  const acc = new Float64Array(ROWS);

  function packedFor(weight: KernelWeight): JsPacked {
    let p = adopted.get(weight) ?? packedByWeight.get(weight);
    if (p === undefined) {
      const layout = packedLayout(weight);
      const values = new Int8Array(layout.valueBytes);
      const scales = new Float32Array(layout.scaleCount);
      packWeight(weight, layout, values, scales);
      p = { layout, values, scales };
      packedByWeight.set(weight, p);
    }
    return p;
  }

  function linear({ x, m, weight, bias, out }: LinearArgs): void {
    const p = packedFor(weight);
    if (xPad.length < m * p.layout.kp) xPad = new Float32Array(m * p.layout.kp);
    padActivations(x, m, p.layout, xPad);
    forward(p, xPad, null, m, bias, out, p.layout.cpg);
  }

  /** W8A8 (`run` = a whole group) and W8A16 (`run` = W8A16_RUN columns): int16-padded x, exact integer runs. */
  function integerActivations({ xq, xScales, m, weight, bias, out }: LinearW8A8Args | LinearW8A16Args, run: number): void {
    const p = packedFor(weight);
    if (xqPad.length < m * p.layout.kp) xqPad = new Int16Array(m * p.layout.kp);
    padActivations(xq, m, p.layout, xqPad);
    forward(p, xqPad, xScales, m, bias, out, chunksPerRun(p.layout, run));
  }

  /**
   * The forwards over padded activations `xp`: W8A32 when `xScales` is null (float64 sums, the scale
   * once per group), else W8A8 / W8A16 (exact integer sums over runs of `flush` chunks of each group,
   * then the reference's float32 formula step for step). Block outer, x rows inner: a 4-row block
   * (4·kp bytes) stays in cache for every row.
   */
  function forward(
    { layout, values: v, scales: s }: JsPacked,
    xp: Float32Array | Int16Array,
    xScales: Float32Array | null,
    m: number,
    bias: Float32Array | null,
    out: Float32Array,
    flush: number,
  ): void {
    const { n, kp, nb, groups, cpg } = layout;
    const f = Math.fround;
    for (let b = 0; b < nb; b++) {
      const wb = b * ROWS * kp;
      const sb = b * groups * ROWS;
      const o = b * ROWS;
      for (let r = 0; r < m; r++) {
        const xr = r * kp;
        let t0 = 0, t1 = 0, t2 = 0, t3 = 0;
        for (let g = 0; g < groups; g++) {
          const sg = sb + g * ROWS;
          for (let c0 = g * cpg; c0 < (g + 1) * cpg; c0 += flush) {
            groupDots(v, wb, xp, xr, c0, Math.min(c0 + flush, (g + 1) * cpg), acc);
            if (xScales === null) {
              t0 += acc[0] * s[sg];
              t1 += acc[1] * s[sg + 1];
              t2 += acc[2] * s[sg + 2];
              t3 += acc[3] * s[sg + 3];
            } else {
              const sx = xScales[r];
              t0 = f(t0 + f(f(acc[0]) * f(sx * s[sg])));
              t1 = f(t1 + f(f(acc[1]) * f(sx * s[sg + 1])));
              t2 = f(t2 + f(f(acc[2]) * f(sx * s[sg + 2])));
              t3 = f(t3 + f(f(acc[3]) * f(sx * s[sg + 3])));
            }
          }
        }
        store(out, r * n, o, n, bias, xScales !== null, t0, t1, t2, t3);
      }
    }
  }

  return {
    name: 'js-packed',
    mode: 'js-float64',
    supports: () => true,
    linear,
    linearW8A8: (args) => integerActivations(args, args.weight.groupSize),
    linearW8A16: (args) => integerActivations(args, W8A16_RUN),
    adopt(weight): void {
      adopted.set(weight, packedFor(weight));
      packedByWeight.delete(weight);
    },
    readValues(weight, into): void {
      const p = adopted.get(weight);
      if (p === undefined) throw new BackendError(`js-packed backend: readValues of a weight it does not hold; adopt() it first`);
      unpackValues(p.layout, p.values, into);
    },
    release(weight): void {
      adopted.delete(weight);
      packedByWeight.delete(weight);
    },
    dispose(): void {
      packedByWeight = new WeakMap();
      xPad = new Float32Array(0);
      xqPad = new Int16Array(0);
    },
  };
}

/**
 * acc[r] = Σ x[xr + c·16 + j] · w(row r of the block at wb, chunk c, column j) over chunks [c0, c1):
 * the four rows of a block share each activation load.
 */
function groupDots(v: Int8Array, wb: number, xp: Float32Array | Int16Array, xr: number, c0: number, c1: number, acc: Float64Array): void {
  let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  for (let c = c0; c < c1; c++) {
    const p = wb + c * ROWS * CHUNK;
    const xc = xr + c * CHUNK;
    for (let j = 0; j < CHUNK; j++) {
      const xv = xp[xc + j];
      a0 += xv * v[p + j];
      a1 += xv * v[p + CHUNK + j];
      a2 += xv * v[p + 2 * CHUNK + j];
      a3 += xv * v[p + 3 * CHUNK + j];
    }
  }
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
}

/**
 * Writes the valid ones of four outputs of block row `o` (rows past n are padding), adding the bias:
 * in float64 then stored (W8A32), or as `fround(total + (bias ?? 0))` (W8A8, `rounded`).
 */
function store(
  out: Float32Array,
  rowBase: number,
  o: number,
  n: number,
  bias: Float32Array | null,
  rounded: boolean,
  t0: number,
  t1: number,
  t2: number,
  t3: number,
): void {
  const f = Math.fround;
  const at = rowBase + o;
  const left = n - o;
  for (let i = 0; i < ROWS && i < left; i++) {
    const t = i === 0 ? t0 : i === 1 ? t1 : i === 2 ? t2 : t3;
    const b = bias === null ? 0 : bias[o + i];
    out[at + i] = rounded ? f(t + b) : t + b;
  }
}
