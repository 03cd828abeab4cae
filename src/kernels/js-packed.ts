import { CHUNK, ROWS, packWeight, packedLayout, padActivations, type PackedLayout } from './packed.js';
import type { Backend, KernelWeight, LinearArgs, LinearW8A8Args } from './types.js';

interface JsPacked {
  readonly layout: PackedLayout;
  readonly values: Int8Array;
  readonly scales: Float32Array;
}

/**
 * Creates the JS fallback backend, for runtimes without WebAssembly SIMD: the same packed layout as
 * the wasm kernel (`packed.ts`), read by plain typed-array loops that compute four output rows per
 * pass so each activation load serves four weights; float64 accumulation (JS numbers) for W8A32, and
 * for W8A8 exact integer sums with `referenceLinearW8A8`'s float32 formula (bit-exact with it).
 * Packed weights are cached per weight object (a WeakMap: garbage-collected with the layer).
 *
 * Shape: as `Backend.linear`: x (m, k) -> out (m, n).
 *
 * Example:
 *   const js = createJsBackend();
 *   qfc.to(js).forward(x);
 */
export function createJsBackend(): Backend {
  let packedByWeight = new WeakMap<KernelWeight, JsPacked>();
  let xPad = new Float32Array(0);
  let xqPad = new Int16Array(0);
  /** The four dot products of one group (float64; exact integers for W8A8), reused by every call. */
  const acc = new Float64Array(ROWS);

  function packedFor(weight: KernelWeight): JsPacked {
    let p = packedByWeight.get(weight);
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
    const { layout, values: v, scales: s } = packedFor(weight);
    const { n, kp, nb, groups, cpg } = layout;
    if (xPad.length < m * kp) xPad = new Float32Array(m * kp);
    const xp = xPad;
    padActivations(x, m, layout, xp);
    // Block outer, x rows inner: a 4-row block (4·kp bytes) stays in cache for every row of x.
    for (let b = 0; b < nb; b++) {
      const wb = b * ROWS * kp;
      const sb = b * groups * ROWS;
      const o = b * ROWS;
      for (let r = 0; r < m; r++) {
        const xr = r * kp;
        let t0 = 0, t1 = 0, t2 = 0, t3 = 0;
        for (let g = 0; g < groups; g++) {
          groupDots(v, wb, xp, xr, g * cpg, (g + 1) * cpg, acc);
          const sg = sb + g * ROWS;
          t0 += acc[0] * s[sg];
          t1 += acc[1] * s[sg + 1];
          t2 += acc[2] * s[sg + 2];
          t3 += acc[3] * s[sg + 3];
        }
        store(out, r * n, o, n, bias, t0, t1, t2, t3);
      }
    }
  }

  function linearW8A8({ xq, xScales, m, weight, bias, out }: LinearW8A8Args): void {
    const { layout, values: v, scales: s } = packedFor(weight);
    const { n, kp, nb, groups, cpg } = layout;
    if (xqPad.length < m * kp) xqPad = new Int16Array(m * kp);
    const xp = xqPad;
    padActivations(xq, m, layout, xp);
    const f = Math.fround;
    for (let b = 0; b < nb; b++) {
      const wb = b * ROWS * kp;
      const sb = b * groups * ROWS;
      const o = b * ROWS;
      for (let r = 0; r < m; r++) {
        const xr = r * kp;
        const sx = xScales[r];
        let t0 = 0, t1 = 0, t2 = 0, t3 = 0;
        for (let g = 0; g < groups; g++) {
          groupDots(v, wb, xp, xr, g * cpg, (g + 1) * cpg, acc); // exact: integers far below 2^53
          // referenceLinearW8A8's formula, step for step.
          const sg = sb + g * ROWS;
          t0 = f(t0 + f(f(acc[0]) * f(sx * s[sg])));
          t1 = f(t1 + f(f(acc[1]) * f(sx * s[sg + 1])));
          t2 = f(t2 + f(f(acc[2]) * f(sx * s[sg + 2])));
          t3 = f(t3 + f(f(acc[3]) * f(sx * s[sg + 3])));
        }
        // y = fround(total + b), b = 0 without bias and in padding rows (never read past bias)
        const left = n - o;
        const b0 = bias === null ? 0 : bias[o];
        const b1 = bias === null || left < 2 ? 0 : bias[o + 1];
        const b2 = bias === null || left < 3 ? 0 : bias[o + 2];
        const b3 = bias === null || left < 4 ? 0 : bias[o + 3];
        store(out, r * n, o, n, null, f(t0 + b0), f(t1 + b1), f(t2 + b2), f(t3 + b3));
      }
    }
  }

  return {
    name: 'js-packed',
    mode: 'js-float64',
    supports: () => true,
    linear,
    linearW8A8,
    release: (weight) => void packedByWeight.delete(weight),
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

/** Writes the valid ones of four outputs of block row `o` (rows past n are padding), adding the bias. */
function store(
  out: Float32Array,
  rowBase: number,
  o: number,
  n: number,
  bias: Float32Array | null,
  t0: number,
  t1: number,
  t2: number,
  t3: number,
): void {
  const left = n - o;
  const at = rowBase + o;
  if (bias === null) {
    out[at] = t0;
    if (left > 1) out[at + 1] = t1;
    if (left > 2) out[at + 2] = t2;
    if (left > 3) out[at + 3] = t3;
  } else {
    out[at] = t0 + bias[o];
    if (left > 1) out[at + 1] = t1 + bias[o + 1];
    if (left > 2) out[at + 2] = t2 + bias[o + 2];
    if (left > 3) out[at + 3] = t3 + bias[o + 3];
  }
}
