import { createGpuBackend, type GpuMode, type SoftwareGpuMode } from '../src/gpu/index.js';

/** gpu.js rows in its cpu mode (kernels transpiled to plain JS) are skipped above this many multiply-adds. */
export const GPUJS_CPU_MAX_MACS = 2 ** 27;
/** Every gpu.js row is skipped above this many (128x4096x4096 takes ~15 s a call on webasm). */
export const GPUJS_MAX_MACS = 2 ** 28;

/**
 * The gpu.js modes Node has here: webasm and cpu always; headlessgl first when the `gl` package
 * loads and a display exists (`xvfb-run -a`), else the reason is logged.
 */
export async function gpuModes(log: (line: string) => void = console.log): Promise<GpuMode[]> {
  const modes: GpuMode[] = ['webasm', 'cpu'];
  try {
    const gl = await createGpuBackend({ mode: 'headlessgl' });
    if (gl.mode === 'headlessgl') modes.unshift('headlessgl');
    else log(`headlessgl: gpu.js fell back to ${gl.mode} (needs the 'gl' package and a display: xvfb-run -a)`);
    gl.dispose();
  } catch (e) {
    log(`headlessgl: not available here (${String(e).split('\n')[0]})`);
  }
  return modes;
}

/** Why a gpu.js row in `mode` is skipped at `macs` multiply-adds, or null when it runs. */
export function gpujsSkip(mode: GpuMode | SoftwareGpuMode, macs: number, all = false): string | null {
  if (mode === 'cpu' && macs > GPUJS_CPU_MAX_MACS) return '> 2^27 MACs in cpu mode';
  if (!all && macs > GPUJS_MAX_MACS) return '> 2^28 MACs; --all runs it';
  return null;
}
