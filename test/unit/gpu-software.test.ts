import { describe, expect, it, vi } from 'vitest';
import type * as GpuJs from '../../src/gpu/gpujs.js';

/**
 * Software-emulated GPUs: the detection is fed the renderer strings real devices report (the SwiftShader and
 * llvmpipe ones were read on this project's machine: headless Chromium 156, and headless-gl under xvfb), and the
 * backend is driven through a stand-in for gpu.js whose probe kernel reports a given context, so the ordering of
 * `availableBackends()` is checked for a software and for a hardware device without either being here.
 */

// The context the stand-in's kernels report; each test sets it before creating a backend.
let context: unknown = null;
let kernelClass = 'HeadlessGLKernel';

vi.mock('../../src/gpu/gpujs.js', async (importOriginal) => {
  const original = await importOriginal<typeof GpuJs>();
  class FakeGPU {
    constructor(readonly settings: { mode: string }) {}
    get mode(): string {
      return this.settings.mode;
    }
    createKernel() {
      // The probe layer: 2 · 3 · 0.5 = 3.
      const kernel = Object.assign(() => Float32Array.of(3), {
        destroy: () => undefined,
        kernel: { constructor: { name: kernelClass }, context },
      });
      return kernel;
    }
    async destroy(): Promise<void> {}
  }
  return { ...original, loadGpuJs: async () => FakeGPU };
});

const { availableBackends, createGpuBackend, isSoftwareRenderer } = await import('../../src/gpu/index.js');
const { describeDevice } = await import('../../src/gpu/device.js');
const { availableBackends: mainBackends } = await import('../../src/index.js');
const cpu = (await mainBackends()).map((b) => {
  b.dispose();
  return b.name;
});

const SOFTWARE = [
  'ANGLE (Mesa/X.org llvmpipe (LLVM 15.0.6, 256 bits) OpenGL 4.5 core)', // headless-gl under xvfb, this machine
  'ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero) (0x0000C0DE)), SwiftShader driver)', // headless Chromium 156 webgl2
  'google swiftshader', // headless Chromium 156 WebGPU adapter info (vendor architecture)
  'llvmpipe (LLVM 15.0.6, 256 bits)',
  'Mesa OffScreen softpipe',
  'Software Rasterizer',
  'Google SwiftShader',
  'ANGLE (Microsoft, Microsoft Basic Render Driver Direct3D11 vs_5_0 ps_5_0, D3D11)',
  'Apple Software Renderer',
];
const HARDWARE = [
  'ANGLE (NVIDIA, NVIDIA GeForce RTX 3080 Direct3D11 vs_5_0 ps_5_0, D3D11)',
  'AMD Radeon RX 6800 (radeonsi, navi21, LLVM 15.0.6, DRM 3.49, 6.1.0-13-amd64)', // LLVM, but not llvmpipe
  'ANGLE (Intel, Mesa Intel(R) UHD Graphics 620 (KBL GT2), OpenGL 4.6)',
  'Apple M1',
  'nvidia ampere',
];

describe('isSoftwareRenderer', () => {
  it.each(SOFTWARE)('%s is a software rasterizer', (renderer) => {
    expect(isSoftwareRenderer({ renderer, isFallbackAdapter: false })).toBe(true);
  });
  it.each(HARDWARE)('%s is a GPU', (renderer) => {
    expect(isSoftwareRenderer({ renderer, isFallbackAdapter: false })).toBe(false);
  });
  it('a WebGPU fallback adapter is software whatever its name; an unknown renderer is not', () => {
    expect(isSoftwareRenderer({ renderer: 'some vendor', isFallbackAdapter: true })).toBe(true);
    expect(isSoftwareRenderer({ renderer: null, isFallbackAdapter: false })).toBe(false);
  });
});

/** A context as headless-gl builds it: its JavaScript layer says 'ANGLE', the native one under it the driver. */
function headlessGlContext(driver: string): unknown {
  class Native {
    getParameter(name: number): unknown {
      return name === 0x1f01 ? driver : null;
    }
  }
  class HeadlessGl extends Native {
    override getParameter(name: number): unknown {
      return name === 0x1f01 ? 'ANGLE' : super.getParameter(name);
    }
    getExtension(): null {
      return null;
    }
  }
  return new HeadlessGl();
}

/** A browser's WebGL2 context: RENDERER masked, the debug extension unmasks it. */
function browserGlContext(unmasked: string): unknown {
  return {
    getExtension: (name: string) => (name === 'WEBGL_debug_renderer_info' ? { UNMASKED_RENDERER_WEBGL: 0x9246 } : null),
    getParameter: (name: number) => (name === 0x9246 ? unmasked : name === 0x1f01 ? 'WebKit WebGL' : null),
  };
}

describe('describeDevice', () => {
  it("reads headless-gl's native renderer under its constant 'ANGLE'", () => {
    expect(describeDevice(headlessGlContext(SOFTWARE[0]))).toEqual({ renderer: SOFTWARE[0], isFallbackAdapter: false });
  });
  it("reads a browser's unmasked renderer", () => {
    expect(describeDevice(browserGlContext(SOFTWARE[1]))).toEqual({ renderer: SOFTWARE[1], isFallbackAdapter: false });
  });
  it('reads a WebGPU adapter: info and isFallbackAdapter, where Chromium 156 has it and where older ones did', () => {
    const info = { vendor: 'google', architecture: 'swiftshader', device: '', description: '', isFallbackAdapter: true };
    expect(describeDevice({ adapter: { info }, device: {} })).toEqual({ renderer: 'google swiftshader', isFallbackAdapter: true });
    expect(describeDevice({ adapter: { isFallbackAdapter: true }, device: {} })).toEqual({ renderer: null, isFallbackAdapter: true });
    expect(describeDevice({ adapter: { info: { vendor: 'nvidia', architecture: 'ampere' } } })).toEqual({ renderer: 'nvidia ampere', isFallbackAdapter: false });
  });
  it('gives no renderer for a kernel without a context (webasm, cpu) or one that throws', () => {
    expect(describeDevice(null)).toEqual({ renderer: null, isFallbackAdapter: false });
    expect(describeDevice({ getExtension: () => { throw new Error('lost'); }, getParameter: () => { throw new Error('lost'); } })).toEqual({ renderer: null, isFallbackAdapter: false });
  });
});

describe('the gpu.js backend on a software rasterizer', () => {
  it.each([
    ['headlessgl', 'HeadlessGLKernel', headlessGlContext(SOFTWARE[0])],
    ['webgl2', 'WebGL2Kernel', browserGlContext(SOFTWARE[1])],
  ])('%s on a software renderer is marked and comes after the CPU kernels', async (mode, cls, ctx) => {
    kernelClass = cls;
    context = ctx;
    const gpu = await createGpuBackend();
    expect([gpu.mode, gpu.softwareEmulated]).toEqual([`${mode}-software`, true]);
    expect(gpu.renderer).toMatch(/llvmpipe|SwiftShader/);
    const all = await availableBackends();
    expect(all.map((b) => b.name)).toEqual([...cpu.slice(0, -1), 'gpujs', 'reference']);
    expect(all.find((b) => b.name === 'gpujs')?.mode).toBe(`${mode}-software`);
    for (const b of [gpu, ...all]) b.dispose();
  });

  it('the same mode on a hardware renderer is not marked and comes first', async () => {
    kernelClass = 'HeadlessGLKernel';
    context = headlessGlContext(HARDWARE[2]);
    const all = await availableBackends();
    expect(all.map((b) => b.name)).toEqual(['gpujs', ...cpu]);
    expect([all[0].mode, (all[0] as { softwareEmulated?: boolean }).softwareEmulated]).toEqual(['headlessgl', false]);
    for (const b of all) b.dispose();
  });

  it("gpu.js's own CPU mode (webasm) is emulated, with no renderer", async () => {
    kernelClass = 'WebAssemblyKernel';
    context = null;
    const gpu = await createGpuBackend({ mode: 'webasm' });
    expect([gpu.mode, gpu.softwareEmulated, gpu.renderer]).toEqual(['webasm', true, null]);
    gpu.dispose();
  });
});
