import { BackendError, checkOptions } from '../errors.js';
import type { AsyncBackend, CachingBackend, KernelWeight, LinearArgs } from '../kernels/types.js';
import { describeDevice, isSoftwareRenderer, type DeviceInfo } from './device.js';
import { loadGpuJs, type GpuInstance, type GpuKernel, type GpuMode, type GpuModeRequest } from './gpujs.js';
import { LINEAR_KERNEL_SOURCE, packInt8Rows } from './pack.js';

/**
 * Batch sizes a kernel is compiled for, so a layer compiles at most `M_BUCKETS.length` kernels
 * whatever the batch sizes it sees (each holds its own copy of the packed weights: gpu.js constants
 * live per kernel). How `m` rows are split depends on where the kernel runs:
 * - on a GPU (webgl2, webgl, webgpu, headlessgl) the rows run in chunks of the largest bucket, the
 *   last on the smallest bucket that holds it; threads of padding rows return at once, which costs
 *   a GPU almost nothing;
 * - on the CPU (webasm, cpu) padding rows are not cheap (measured on webasm: a 256-row kernel takes
 *   as long for 17 rows as for 256), so the rows are split greedily into buckets that fit, with no
 *   padding: 40 rows = 16 + 16 + 8 × 1.
 */
export const M_BUCKETS: readonly number[] = [1, 16, 256];
const MAX_BUCKET = M_BUCKETS[M_BUCKETS.length - 1];

/**
 * gpu.js types every number in a kernel as float32, array indices included (`int(a * k + i)` in the
 * generated shader), and a float32 holds every integer only up to 2^24. So `supports()` accepts a
 * layer only when every index the kernel computes stays below MAX_INDEX: the packed words
 * (`ceil(n / 3) · k`), the scales (`n · groups`), the padded input (`256 · k`) and the output
 * (`256 · n`, whose rows are found with `floor((idx + 0.5) / n)`, exact far beyond that).
 * For example 11008 x 4096 (packed: 15.0 M words) runs; 32000 x 4096 (43.7 M) does not.
 */
export const MAX_INDEX = 2 ** 24;

/** Device memory held by the backend, measured from what gpu.js really allocated. */
export interface GpuStats {
  /** Bytes of the packed weights and scales on the device (all layers, all bucket kernels). */
  readonly gpuBytes: number;
  /** Weights (n · k) of the layers uploaded, counted once per bucket kernel holding them. */
  readonly weightsUploaded: number;
  /** Kernels compiled so far (one per layer and M bucket). */
  readonly kernelsCompiled: number;
  /** Layers currently cached. */
  readonly layers: number;
}

/**
 * The gpu.js backend: a `Backend` whose forward runs as a gpu.js kernel in `mode`.
 *
 * `linear` is synchronous in every mode except `webgpu`, whose readback is asynchronous: there it
 * throws a BackendError and `linearAsync` (or `QuantizedLinear.forwardAsync`) must be used; both
 * work in every mode. It does not take layers' weights over (no `adopt`): each M bucket's kernel
 * holds its own packed copy on the device, and the layer keeps its int8 weight.
 *
 * Shape: as `Backend.linear`: x (m, k) -> out (m, n).
 *
 * `mode` is the gpu.js mode its kernels really run in, with `-software` appended where that GPU API is
 * served by a software rasterizer on the CPU ('webgl2-software' in headless Chromium's SwiftShader,
 * 'headlessgl-software' on Mesa's llvmpipe); `softwareEmulated` is true then, and in gpu.js's own CPU
 * modes ('webasm', 'cpu'). `renderer` is the device's name as the API gives it (see docs/gpu.md).
 *
 * Example:
 *   const gpu = await createGpuBackend();
 *   const y = await qfc.to(gpu).forwardAsync(x);   // every mode; qfc.forward(x) too, except on webgpu
 *   gpu.stats();                                   // { gpuBytes, weightsUploaded, kernelsCompiled, layers }
 *   [gpu.mode, gpu.softwareEmulated];              // e.g. ['webgl2', false], ['headlessgl-software', true], ['webasm', true]
 *   gpu.dispose();
 */
export interface GpuBackend extends AsyncBackend, CachingBackend {
  readonly name: 'gpujs';
  readonly mode: GpuMode | SoftwareGpuMode;
  /** Whether no GPU runs the kernels: gpu.js's webasm and cpu modes, or a GPU API on a software rasterizer. */
  readonly softwareEmulated: boolean;
  /** The device's name (WebGL unmasked renderer, headless-gl's renderer, WebGPU adapter info), or null where hidden. */
  readonly renderer: string | null;
  /** Whether only `linearAsync` can run (webgpu). */
  readonly asyncOnly: boolean;
  /** The same forward as `linear`, awaiting the device; required on webgpu. */
  linearAsync(args: LinearArgs): Promise<void>;
  /** Frees the kernels (and device copies) of one layer; the next call with it uploads again. */
  release(weight: KernelWeight): void;
  stats(): GpuStats;
}

/** Options of `createGpuBackend`. */
export interface GpuBackendOptions {
  /**
   * The gpu.js mode. Default `'gpu'`: gpu.js picks (webgl2 > webgl in browsers, headlessgl > webasm
   * in Node). `'webgpu'` is never picked automatically: its calls are asynchronous.
   */
  mode?: GpuModeRequest;
}

/** What the backend holds for one layer (it does not reference the KernelWeight, so that can be collected). */
interface LayerKernels {
  readonly words: Float32Array;
  /** One entry per bucket index, created on first use. */
  readonly kernels: (GpuKernel | undefined)[];
  /** Padded activations per bucket: bucket · k floats. */
  readonly xPad: (Float32Array | undefined)[];
  bytes: number;
}

interface KernelCall {
  readonly kernel: GpuKernel;
  /** The padded input of the bucket, holding this call's rows. */
  readonly x: Float32Array;
  readonly rows: number;
  readonly layer: LayerKernels;
  /** Whether the kernel was compiled for this call (its first run builds and uploads it). */
  readonly fresh: boolean;
}

/** A GPU API mode whose device turned out to be a software rasterizer (see `isSoftwareRenderer`). */
export type SoftwareGpuMode = 'webgl2-software' | 'webgl-software' | 'webgpu-software' | 'headlessgl-software';

/** The modes that use a GPU API (webasm and cpu emulate one on the CPU; a software rasterizer may serve any of these). */
export const ON_GPU: readonly GpuMode[] = ['webgl2', 'webgl', 'webgpu', 'headlessgl'];

const REAL_MODES: readonly GpuMode[] = ['webgl2', 'webgl', 'webgpu', 'headlessgl', 'webasm', 'cpu'];

/** gpu.js kernel class name -> the mode it runs in. */
const KERNEL_MODES: Readonly<Record<string, GpuMode>> = {
  WebGL2Kernel: 'webgl2',
  WebGLKernel: 'webgl',
  WebGPUKernel: 'webgpu',
  HeadlessGLKernel: 'headlessgl',
  WebAssemblyKernel: 'webasm',
  CPUKernel: 'cpu',
};

/** The bucket index and the number of rows for the next chunk of `remaining` rows (see M_BUCKETS). */
function nextChunk(remaining: number, pad: boolean): [bucket: number, rows: number] {
  if (pad) {
    for (let b = 0; b < M_BUCKETS.length; b++) if (remaining <= M_BUCKETS[b]) return [b, remaining];
    return [M_BUCKETS.length - 1, MAX_BUCKET];
  }
  for (let b = M_BUCKETS.length - 1; b > 0; b--) if (remaining >= M_BUCKETS[b]) return [b, M_BUCKETS[b]];
  return [0, 1];
}

/** Device bytes of a built kernel's constants, from gpu.js's own allocations where it exposes them. */
function constantBytes(kernel: GpuKernel, words: Float32Array, scales: Float32Array): number {
  const inner = kernel.kernel;
  if (inner?.constantBuffers !== undefined) return inner.constantBuffers.reduce((s, b) => s + b.size, 0);
  const wasmArrays = inner?._active?.layout.constantArrays;
  if (wasmArrays !== undefined) return Object.values(wasmArrays).reduce((s, a) => s + 4 * a.flatLength, 0);
  const textures = inner?.kernelConstants?.filter((c) => c.uploadArrayLength !== undefined) ?? [];
  if (textures.length > 0) return textures.reduce((s, c) => s + 4 * (c.uploadArrayLength as number), 0);
  // The cpu mode reads our arrays as they are.
  return words.byteLength + scales.byteLength;
}

class GpuJsBackend implements GpuBackend {
  readonly name = 'gpujs' as const;
  readonly mode: GpuMode | SoftwareGpuMode;
  readonly softwareEmulated: boolean;
  readonly renderer: string | null;
  readonly asyncOnly: boolean;
  /** Whether row chunks are padded up to a bucket (on a GPU) or split exactly (on the CPU); see M_BUCKETS. */
  private readonly padRows: boolean;
  /** Layers by weight object; weakly held, so a dropped layer does not stay alive through its backend. */
  private readonly layers = new WeakMap<KernelWeight, LayerKernels>();
  /** Every layer holding device memory, for stats() and dispose(). */
  private readonly live = new Set<LayerKernels>();
  /**
   * Frees a layer's kernels once its weight object is garbage-collected (e.g. after
   * `loadStateDict`, which makes a new one): device memory is not collected by itself.
   */
  private readonly finalizer = new FinalizationRegistry<LayerKernels>((layer) => this.free(layer));
  private compiled = 0;
  private uploaded = 0;
  private disposed = false;

  constructor(
    private readonly gpu: GpuInstance,
    kernelMode: GpuMode,
    device: DeviceInfo,
  ) {
    const software = ON_GPU.includes(kernelMode) && isSoftwareRenderer(device);
    this.mode = software ? (`${kernelMode}-software` as SoftwareGpuMode) : kernelMode;
    this.softwareEmulated = software || !ON_GPU.includes(kernelMode);
    this.renderer = device.renderer;
    this.asyncOnly = kernelMode === 'webgpu';
    // A software rasterizer also returns at once for padding rows, so the split follows the API, not the device.
    this.padRows = ON_GPU.includes(kernelMode);
  }

  supports(weight: KernelWeight): boolean {
    const { n, k, groupSize } = weight;
    return Math.max(Math.ceil(n / 3) * k, n * (k / groupSize), MAX_BUCKET * k, MAX_BUCKET * n) <= MAX_INDEX;
  }

  linear(args: LinearArgs): void {
    if (this.asyncOnly) {
      throw new BackendError(
        `gpujs backend in mode '${this.mode}' reads results back asynchronously; ` +
          `use \`await layer.forwardAsync(x)\` (or \`await backend.linearAsync(args)\`) instead, or create it with mode 'webgl2'`,
      );
    }
    for (let row = 0; row < args.m; ) {
      const call = this.prepare(args, row);
      this.finish(call.kernel(call.x, call.rows) as Float32Array, args, row, call);
      row += call.rows;
    }
  }

  async linearAsync(args: LinearArgs): Promise<void> {
    for (let row = 0; row < args.m; ) {
      const call = this.prepare(args, row);
      this.finish(await call.kernel(call.x, call.rows), args, row, call);
      row += call.rows;
    }
  }

  release(weight: KernelWeight): void {
    const layer = this.layers.get(weight);
    if (layer === undefined) return;
    this.layers.delete(weight);
    this.free(layer);
  }

  stats(): GpuStats {
    let gpuBytes = 0;
    for (const layer of this.live) gpuBytes += layer.bytes;
    return { gpuBytes, weightsUploaded: this.uploaded, kernelsCompiled: this.compiled, layers: this.live.size };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const layer of [...this.live]) this.free(layer);
    // gpu.js frees contexts asynchronously; nothing can be done about a failure at teardown.
    this.gpu.destroy().catch(() => undefined);
  }

  /** The kernel for rows [row, row + rows) of this call, with those rows copied into its padded input. */
  private prepare(args: LinearArgs, row: number): KernelCall {
    if (this.disposed) throw new BackendError('gpujs backend was disposed; create a new one with createGpuBackend()');
    const { weight } = args;
    let layer = this.layers.get(weight);
    if (layer === undefined) {
      layer = { words: packInt8Rows(weight), kernels: [], xPad: [], bytes: 0 };
      this.layers.set(weight, layer);
      this.live.add(layer);
      this.finalizer.register(weight, layer, layer);
    }
    const [b, rows] = nextChunk(args.m - row, this.padRows);
    let kernel = layer.kernels[b];
    let x = layer.xPad[b];
    const fresh = kernel === undefined || x === undefined;
    if (kernel === undefined || x === undefined) {
      kernel = this.compile(weight, layer.words, M_BUCKETS[b]);
      x = new Float32Array(M_BUCKETS[b] * weight.k);
      layer.kernels[b] = kernel;
      layer.xPad[b] = x;
    }
    x.set(args.x.subarray(row * weight.k, (row + rows) * weight.k));
    return { kernel, x, rows, layer, fresh };
  }

  /**
   * Copies the kernel's first `rows` output rows into `out`, adding the bias in float32. After a
   * kernel's first call (gpu.js builds and uploads then) it measures the device bytes it holds.
   */
  private finish(y: Float32Array, args: LinearArgs, row: number, call: KernelCall): void {
    const { weight, bias, out } = args;
    if (call.fresh) {
      call.layer.bytes += constantBytes(call.kernel, call.layer.words, weight.scales);
      this.uploaded += weight.n * weight.k;
    }
    const n = weight.n;
    const base = row * n;
    const count = call.rows * n;
    if (bias === null) {
      out.set(y.subarray(0, count), base);
      return;
    }
    for (let r = 0; r < call.rows; r++) {
      const yBase = r * n;
      const oBase = base + yBase;
      for (let o = 0; o < n; o++) out[oBase + o] = y[yBase + o] + bias[o];
    }
  }

  /** Destroys a layer's kernels (its device copies); safe to call twice. */
  private free(layer: LayerKernels): void {
    if (!this.live.delete(layer)) return;
    this.finalizer.unregister(layer);
    for (const k of layer.kernels) k?.destroy();
  }

  private compile(weight: KernelWeight, words: Float32Array, bucket: number): GpuKernel {
    this.compiled++;
    return createLinearKernel(this.gpu, weight, words, bucket);
  }
}

/** The linear kernel of one layer for `bucket` rows: its packed words and scales become kernel constants. */
function createLinearKernel(
  gpu: GpuInstance,
  weight: Pick<KernelWeight, 'n' | 'k' | 'groupSize' | 'scales'>,
  words: Float32Array,
  bucket: number,
): GpuKernel {
  const { n, k, groupSize, scales } = weight;
  return gpu.createKernel(LINEAR_KERNEL_SOURCE, {
    output: [bucket * n],
    constants: { n, k, groups: k / groupSize, groupSize, words, scales },
    precision: 'single',
    tactic: 'precision',
    // Loop bounds are constants; the limit is raised too, so no bound is ever silently capped.
    loopMaxIterations: Math.max(k, 1000) + 1,
    argumentTypes: { x: 'Array', rows: 'Integer' },
    strictIntegers: false,
  });
}

/**
 * Creates the gpu.js backend (loads the optional peer dependency `gpu.js`) and reports the mode its
 * kernels really run in: gpu.js may fall back (to webasm without a GL context, to cpu for what webasm
 * cannot take), so the mode is read from a probe kernel, not from the request.
 *
 * Shape: runs `out (m, n) = x (m, k) · dequant(weight)ᵀ + bias` like every Backend.
 *
 * Example:
 *   const gpu = await createGpuBackend({ mode: 'webgl2' });
 *   qfc.to(gpu).forward(x);      // webgpu: await qfc.to(gpu).forwardAsync(x)
 *   gpu.stats().gpuBytes;        // bytes of packed weights on the device
 *   gpu.dispose();
 */
export async function createGpuBackend(options: GpuBackendOptions = {}): Promise<GpuBackend> {
  checkOptions('createGpuBackend', options, ['mode'], BackendError);
  const requested = options.mode ?? 'gpu';
  if (requested !== 'gpu' && !REAL_MODES.includes(requested)) {
    throw new BackendError(
      `createGpuBackend: mode '${String(requested)}' is not one of 'gpu', ${REAL_MODES.map((m) => `'${m}'`).join(', ')}`,
    );
  }
  const GPU = await loadGpuJs();
  if (requested === 'webgpu' && !(await GPU.isWebGPUAvailable?.())) {
    throw new BackendError(
      `createGpuBackend: mode 'webgpu' asked for, but no WebGPU adapter answered here ` +
        `(needs a browser with navigator.gpu; Chromium on Linux needs --enable-unsafe-webgpu); use mode 'webgl2'`,
    );
  }
  let gpu: GpuInstance | undefined;
  try {
    gpu = new GPU({ mode: requested });
    const { mode, device } = await probeMode(gpu, requested);
    return new GpuJsBackend(gpu, mode, device);
  } catch (cause) {
    gpu?.destroy().catch(() => undefined);
    if (cause instanceof BackendError) throw cause;
    throw new BackendError(`createGpuBackend: gpu.js cannot run mode '${requested}' here: ${String(cause)}`);
  }
}

/** Builds and runs a 1x1 layer to learn which gpu.js kernel class really runs (and that it works), and on what device. */
async function probeMode(gpu: GpuInstance, requested: GpuModeRequest): Promise<{ mode: GpuMode; device: DeviceInfo }> {
  const words = packInt8Rows({ n: 1, k: 1, values: Int8Array.of(3) });
  const probe = createLinearKernel(gpu, { n: 1, k: 1, groupSize: 1, scales: Float32Array.of(0.5) }, words, 1);
  try {
    const y = await probe(Float32Array.of(2), 1);
    const kind = probe.kernel?.constructor.name ?? '';
    const mode = KERNEL_MODES[kind];
    if (mode === undefined || y[0] !== 3) {
      throw new BackendError(
        `createGpuBackend: gpu.js mode '${requested}' gave ${y[0]} for 2 · 3 · 0.5 (kernel ${kind || 'unknown'}); expected 3`,
      );
    }
    return { mode, device: describeDevice(probe.kernel?.context) };
  } finally {
    probe.destroy();
  }
}
