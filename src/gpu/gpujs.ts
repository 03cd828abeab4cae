import { BackendError } from '../errors.js';

/**
 * Our thin typed view of gpu.js (2.24): only what this backend uses, with no `any` leaking out.
 * gpu.js's bundled types reject `Int8Array` and its `input(...)` under strict mode, and type most
 * internals as `any`; this file is the one place that meets them.
 */

/** The modes a gpu.js kernel really runs in (`'gpu'` asks gpu.js to pick the best synchronous one). */
export type GpuMode = 'webgl2' | 'webgl' | 'webgpu' | 'headlessgl' | 'webasm' | 'cpu';

/** What `createGpuBackend` accepts: a real mode, or `'gpu'` for gpu.js's own pick. */
export type GpuModeRequest = GpuMode | 'gpu';

/** The kernel settings this backend passes to `createKernel`. */
export interface GpuKernelSettings {
  readonly output: readonly [number];
  readonly constants: Readonly<Record<string, number | Float32Array>>;
  readonly precision: 'single';
  readonly tactic: 'precision';
  readonly loopMaxIterations: number;
  readonly argumentTypes: Readonly<Record<string, 'Array' | 'Integer' | 'Float'>>;
  readonly strictIntegers: boolean;
}

/** A compiled kernel: called with `(x, rows)` it returns the 1-D output (a Promise on webgpu). */
export interface GpuKernel {
  (x: Float32Array, rows: number): Float32Array | Promise<Float32Array>;
  destroy(): void;
  /** The backend-specific kernel gpu.js built on first call; its internals are read only for `gpuBytes`. */
  readonly kernel?: GpuKernelInternals;
}

/** The few gpu.js internals read to measure the device memory held by a kernel's constants. */
export interface GpuKernelInternals {
  readonly constructor: { readonly name: string };
  readonly fallbackReason?: string | null;
  /** The WebGL context (webgl, webgl2, headlessgl) or WebGPU `{ adapter, device }` it runs on; read for the renderer name. */
  readonly context?: unknown;
  /** GL backends: one value per constant; arrays are RGBA32F textures of `uploadArrayLength` floats. */
  readonly kernelConstants?: readonly { readonly name: string; readonly uploadArrayLength?: number }[];
  /** webasm: the memory layout of the active module; each array constant is a flat float32 record. */
  readonly _active?: { readonly layout: { readonly constantArrays: Readonly<Record<string, { readonly flatLength: number }>> } };
  /** webgpu: one storage buffer per array constant. */
  readonly constantBuffers?: readonly { readonly size: number }[];
}

/** An instance of gpu.js's `GPU` class. */
export interface GpuInstance {
  readonly mode: string;
  createKernel(source: string, settings: GpuKernelSettings): GpuKernel;
  destroy(): Promise<void>;
}

interface GpuConstructor {
  new (settings: { mode: GpuModeRequest }): GpuInstance;
  readonly isWebGPUSupported?: boolean;
  isWebGPUAvailable?(): Promise<boolean>;
}

/** Loads gpu.js (an optional peer dependency) and returns its `GPU` class, or throws a BackendError saying how to install it. */
export async function loadGpuJs(): Promise<GpuConstructor> {
  let mod: unknown;
  try {
    mod = await import('gpu.js');
  } catch (cause) {
    throw new BackendError(
      `int8-linear/gpu: could not load the optional peer dependency 'gpu.js' (${String(cause)}); ` +
        `install it with \`npm install gpu.js\``,
    );
  }
  // ESM builds expose `GPU` as a named export; CommonJS interop may put it on `default`.
  const ns = mod as { GPU?: GpuConstructor; default?: { GPU?: GpuConstructor } };
  const GPU = ns.GPU ?? ns.default?.GPU;
  if (typeof GPU !== 'function') {
    throw new BackendError(`int8-linear/gpu: the 'gpu.js' module has no GPU class; install gpu.js 2.24 or later`);
  }
  return GPU;
}
