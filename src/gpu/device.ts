/**
 * What the device under a gpu.js kernel says it is, and whether that is a software rasterizer: a GPU API
 * (WebGL, WebGL2, headless-gl, WebGPU) served by the CPU. Such a "GPU" is correct but slow (headless-gl on
 * Mesa's llvmpipe: 66 ms for a layer wasm-simd runs in 2.8 ms), so `availableBackends()` must not put it first.
 */

/** The device a kernel ran on, as far as the API tells. */
export interface DeviceInfo {
  /**
   * The driver's name for the device: WebGL's unmasked renderer (e.g. 'ANGLE (Google, Vulkan 1.3.0 (SwiftShader
   * Device (Subzero) (0x0000C0DE)), SwiftShader driver)'), headless-gl's native renderer string, or a WebGPU
   * adapter's info joined ('google swiftshader'); null where the API hides it.
   */
  readonly renderer: string | null;
  /** WebGPU only: the adapter says it is a fallback (CPU) adapter (`adapter.info.isFallbackAdapter`). */
  readonly isFallbackAdapter: boolean;
}

/**
 * Renderer names of the software rasterizers in use: Mesa's llvmpipe, softpipe and swrast (lavapipe, Mesa's
 * Vulkan on the CPU, names its device llvmpipe too), Google's SwiftShader (Chromium's WebGL and WebGPU when no
 * GPU is usable, as in headless Chromium), Microsoft's WARP ('Microsoft Basic Render Driver') and Apple's
 * software renderer. Matched anywhere in the string, ignoring case, because ANGLE wraps the driver's name
 * ('ANGLE (Mesa/X.org llvmpipe (LLVM 15.0.6, 256 bits) OpenGL 4.5 core)').
 */
export const SOFTWARE_RENDERERS: RegExp = /llvmpipe|softpipe|swrast|swiftshader|lavapipe|software rasterizer|microsoft basic render|apple software renderer/i;

/**
 * Whether the device is a software rasterizer: a WebGPU fallback adapter, or a renderer name that matches
 * `SOFTWARE_RENDERERS`. An unknown renderer (null) counts as hardware: nothing says otherwise.
 *
 * Example:
 *   isSoftwareRenderer({ renderer: 'ANGLE (Mesa/X.org llvmpipe (LLVM 15.0.6, 256 bits) OpenGL 4.5 core)', isFallbackAdapter: false });   // true
 *   isSoftwareRenderer({ renderer: 'ANGLE (NVIDIA, NVIDIA GeForce RTX 4090 Direct3D11 vs_5_0 ps_5_0, D3D11)', isFallbackAdapter: false });   // false
 */
export function isSoftwareRenderer(device: DeviceInfo): boolean {
  return device.isFallbackAdapter || (device.renderer !== null && SOFTWARE_RENDERERS.test(device.renderer));
}

const GL_RENDERER = 0x1f01;
/** `WEBGL_debug_renderer_info.UNMASKED_RENDERER_WEBGL`. */
const UNMASKED_RENDERER_WEBGL = 0x9246;

interface GlContextView {
  getParameter(name: number): unknown;
  getExtension(name: string): unknown;
}

interface WebGpuContextView {
  readonly adapter: {
    readonly isFallbackAdapter?: boolean;
    readonly info?: { readonly vendor?: string; readonly architecture?: string; readonly device?: string; readonly description?: string; readonly isFallbackAdapter?: boolean };
  };
}

function isGlContext(context: unknown): context is GlContextView {
  const c = context as Partial<GlContextView> | null;
  return typeof c === 'object' && c !== null && typeof c.getParameter === 'function' && typeof c.getExtension === 'function';
}

function isWebGpuContext(context: unknown): context is WebGpuContextView {
  const c = context as Partial<WebGpuContextView> | null;
  return typeof c === 'object' && c !== null && typeof c.adapter === 'object' && c.adapter !== null;
}

/** A string parameter, or null (a lost context answers null; a non-string answer is not a name). */
function stringParameter(read: () => unknown): string | null {
  try {
    const value = read();
    return typeof value === 'string' && value !== '' ? value : null;
  } catch {
    return null;
  }
}

/** The renderer of a WebGL / WebGL2 / headless-gl context. */
function glRenderer(gl: GlContextView): string | null {
  // Browsers mask RENDERER ('WebKit WebGL'); the debug extension gives the driver's name where it is exposed.
  const debug = stringParameter(() => (gl.getExtension('WEBGL_debug_renderer_info') === null ? null : gl.getParameter(UNMASKED_RENDERER_WEBGL)));
  if (debug !== null) return debug;
  const renderer = stringParameter(() => gl.getParameter(GL_RENDERER));
  if (renderer !== 'ANGLE') return renderer;
  // headless-gl's JavaScript layer answers RENDERER with the constant 'ANGLE' and has no debug extension; the
  // native context it extends answers with the driver's name, so ask that one.
  const native = Object.getPrototypeOf(Object.getPrototypeOf(gl)) as Partial<GlContextView> | null;
  const nativeGet = native?.getParameter;
  return typeof nativeGet === 'function' ? (stringParameter(() => nativeGet.call(gl, GL_RENDERER)) ?? renderer) : renderer;
}

/**
 * What a gpu.js kernel's `context` says about its device: a GL context (gpu.js's webgl, webgl2 and headlessgl
 * kernels) or its WebGPU context `{ adapter, device }`. Anything else (webasm, cpu) gives `{ renderer: null }`.
 *
 * Example:
 *   describeDevice(canvas.getContext('webgl2'));   // { renderer: 'ANGLE (Google, Vulkan 1.3.0 (SwiftShader ...', isFallbackAdapter: false }
 */
export function describeDevice(context: unknown): DeviceInfo {
  if (isWebGpuContext(context)) {
    const { adapter } = context;
    const info = adapter.info;
    const parts = info === undefined ? [] : [info.vendor, info.architecture, info.device, info.description].filter((p) => typeof p === 'string' && p !== '');
    // `isFallbackAdapter` moved from the adapter to `adapter.info` (Chromium 136); read both.
    return { renderer: parts.length > 0 ? parts.join(' ') : null, isFallbackAdapter: info?.isFallbackAdapter === true || adapter.isFallbackAdapter === true };
  }
  return { renderer: isGlContext(context) ? glRenderer(context) : null, isFallbackAdapter: false };
}
