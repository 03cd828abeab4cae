import { Int8LinearError, brandedInstanceCheck } from './errors.js';

const N = 624;
const M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;
const TWO_POW_32 = 4294967296;
const TWO_POW_64 = 18446744073709551616n;

/** PyTorch's default seed, `default_rng_seed_val` (what `torch.initial_seed()` returns on a fresh start). */
export const DEFAULT_SEED = 67280421310721n;

function toSeed(seed: number | bigint): bigint {
  if (typeof seed === 'number') {
    if (!Number.isSafeInteger(seed)) {
      throw new Int8LinearError(`manualSeed: seed must be an integer, got ${seed}; pass e.g. manualSeed(42)`);
    }
    seed = BigInt(seed);
  }
  if (seed < -(TWO_POW_64 / 2n) || seed >= TWO_POW_64) {
    throw new Int8LinearError(
      `manualSeed: seed ${seed} is outside [-2^63, 2^64); PyTorch accepts the same range`,
    );
  }
  // torch stores the seed as uint64 (negative seeds wrap around), and mt19937 uses its low 32 bits.
  return ((seed % TWO_POW_64) + TWO_POW_64) % TWO_POW_64;
}

/**
 * A pseudo-random generator bit-exact with PyTorch's CPU generator: 32-bit MT19937 seeded as
 * `torch.manual_seed(s)` seeds it (`init_genrand(s mod 2^32)`).
 *
 * Example:
 *   const g = new Generator(42);   // like torch.Generator().manual_seed(42)
 *   new Linear(5, 3, { generator: g });
 */
export class Generator {
  /** `instanceof` also holds across the package's CommonJS and ES module builds (see `brandedInstanceCheck`). */
  static readonly [Symbol.hasInstance] = /* @__PURE__ */ brandedInstanceCheck(this, 'Generator');

  private readonly state = new Uint32Array(N);
  private index = N;
  private seed = DEFAULT_SEED;

  constructor(seed: number | bigint = DEFAULT_SEED) {
    this.manualSeed(seed);
  }

  /** Re-seeds this generator, like `torch.Generator.manual_seed`; returns it. */
  manualSeed(seed: number | bigint): this {
    const s = toSeed(seed);
    this.seed = s;
    const mt = this.state;
    mt[0] = Number(s % BigInt(TWO_POW_32));
    for (let i = 1; i < N; i++) {
      const prev = mt[i - 1] ^ (mt[i - 1] >>> 30);
      // 1812433253 * prev + i (mod 2^32), split in 16-bit halves to stay exact in doubles.
      mt[i] = (((((prev & 0xffff0000) >>> 16) * 1812433253) << 16) + (prev & 0x0000ffff) * 1812433253 + i) >>> 0;
    }
    this.index = N;
    return this;
  }

  /** The seed this generator was last seeded with, like `torch.Generator.initial_seed`. */
  initialSeed(): bigint {
    return this.seed;
  }

  /** The next 32-bit output of MT19937 (`genrand_int32`), as an unsigned integer. */
  nextUint32(): number {
    const mt = this.state;
    if (this.index >= N) {
      for (let kk = 0; kk < N; kk++) {
        const y = (mt[kk] & UPPER_MASK) | (mt[(kk + 1) % N] & LOWER_MASK);
        mt[kk] = mt[(kk + M) % N] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
      }
      this.index = 0;
    }
    let y = mt[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }
}

let defaultGen: Generator | undefined;

/** The process-wide generator that `manualSeed` seeds and that init uses when none is given. */
export function defaultGenerator(): Generator {
  defaultGen ??= new Generator();
  return defaultGen;
}

/**
 * Seeds the default generator, like `torch.manual_seed(seed)`; returns it.
 *
 * Example:
 *   manualSeed(42);
 *   new Linear(5, 3).weight.data[0];   // 0.34191203..., as torch.manual_seed(42); nn.Linear(5, 3)
 */
export function manualSeed(seed: number | bigint): Generator {
  return defaultGenerator().manualSeed(seed);
}
