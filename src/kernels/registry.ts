import { createJsBackend } from './js-packed.js';
import { createReferenceBackend } from './reference.js';
import type { Backend } from './types.js';
import { createWasmBackend, relaxedSimdSupported, wasmSimdSupported } from './wasm/backend.js';

/**
 * One configuration of a backend that the conformance suite and the benchmark run (a gpu.js mode,
 * the threaded backend with every call split).
 */
export interface BackendVariant {
  /** Names the configuration in test and benchmark labels, e.g. 'gpujs/webasm'. */
  readonly label: string;
  /** Why it cannot run here (shown as the reason a test is skipped), or null. */
  unavailable(): string | null;
  create(): Backend | Promise<Backend>;
}

/**
 * One entry of a backend registry: how `availableBackends()` creates the backend, and the facts the
 * conformance suite, the benchmark and the e2e page need about it. A registry is a plain ordered
 * list (per entry point: `MAIN_BACKENDS` here, the node and gpu entries add theirs), fastest first;
 * adding a backend is adding one entry.
 *
 * Example:
 *   const wasm = MAIN_BACKENDS.find((f) => f.name === 'wasm-simd');
 *   if (wasm.unavailable() === null) qfc.to(await wasm.create());
 */
export interface BackendFactory {
  /** The `name` of the backends it creates. */
  readonly name: string;
  /** Why it cannot run here (`availableBackends()` leaves it out, with this reason), or null. */
  unavailable(): string | null;
  /** The backend as `availableBackends()` lists it; may throw a BackendError (then it is left out, with the reason). */
  create(): Backend | Promise<Backend>;
  /**
   * How its W8A32 kernel sums: 'float64' (as the reference), 'float32' (SIMD, GPU). The conformance
   * suite holds both to the FLOAT32_ACCUMULATION bound; W8A8 kernels must be bit-exact.
   */
  readonly accumulation: 'float64' | 'float32';
  /** Whether a backend it created emulates its device on the CPU (gpu.js webasm): then it is listed after the CPU backends. */
  isEmulated?(backend: Backend): boolean;
  /** The configurations the conformance suite and the benchmark run; default one, `create()` as listed. */
  readonly variants?: readonly BackendVariant[];
}

/** The conformance and benchmark configurations of a factory (its `variants`, else `create()` alone). */
export function variantsOf(factory: BackendFactory): readonly BackendVariant[] {
  return factory.variants ?? [{ label: factory.name, unavailable: () => factory.unavailable(), create: () => factory.create() }];
}

const NO_SIMD = 'this runtime has no WebAssembly SIMD128';
/** @internal Why the plain-SIMD128 variant is not tested separately: without relaxed SIMD it is the default build. */
export const NO_RELAXED = 'no relaxed SIMD here: the default build is the plain SIMD128 one';

/** The reference backend: the spec, always available, always last. */
export const REFERENCE_FACTORY: BackendFactory = {
  name: 'reference',
  unavailable: () => null,
  create: createReferenceBackend,
  accumulation: 'float64',
};

/**
 * The main entry's registry (CPU backends only, browser-safe), fastest first: the WebAssembly SIMD
 * kernel, the JS fallback over the same packed layout, the reference.
 */
export const MAIN_BACKENDS: readonly BackendFactory[] = [
  {
    name: 'wasm-simd',
    unavailable: () => (wasmSimdSupported() ? null : NO_SIMD),
    create: () => createWasmBackend(),
    accumulation: 'float32',
    // Where relaxed SIMD exists (Node >= 22) the default runs the relaxed build: the plain one beside it.
    variants: [
      { label: 'wasm-simd', unavailable: () => (wasmSimdSupported() ? null : NO_SIMD), create: () => createWasmBackend() },
      { label: 'wasm-simd plain', unavailable: () => (relaxedSimdSupported() ? null : NO_RELAXED), create: () => createWasmBackend({ relaxed: false }) },
    ],
  },
  { name: 'js-packed', unavailable: () => null, create: createJsBackend, accumulation: 'float64' },
  REFERENCE_FACTORY,
];

/**
 * Creates the backends of a registry that work here, in its order, except that backends a factory
 * calls emulated (a GPU emulated on the CPU) go after the others, just before the reference, which is
 * always last. Factories that are unavailable, or whose `create()` throws, are left out and
 * `onSkip` gets the reason.
 *
 * Shape: each backend listed runs x (m, k) -> out (m, n).
 *
 * Example:
 *   const backends = await createAvailable(MAIN_BACKENDS);   // what availableBackends() returns
 */
export async function createAvailable(registry: readonly BackendFactory[], onSkip: (reason: string) => void = () => undefined): Promise<Backend[]> {
  const real: Backend[] = [];
  const emulated: Backend[] = [];
  const last: Backend[] = [];
  for (const factory of registry) {
    const why = factory.unavailable();
    if (why !== null) {
      onSkip(`${factory.name}: ${why}`);
      continue;
    }
    let backend: Backend;
    try {
      backend = await factory.create();
    } catch (cause) {
      onSkip(`${factory.name}: ${String(cause)}`);
      continue;
    }
    if (factory === REFERENCE_FACTORY) last.push(backend);
    else if (factory.isEmulated?.(backend) === true) emulated.push(backend);
    else real.push(backend);
  }
  return [...real, ...emulated, ...last];
}
