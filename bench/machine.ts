/**
 * What a benchmark ran on, printed with every run (issue 12): the CPU model and the flags that
 * decide the kernels' speed (avx512_vnni / avx_vnni: the native int8 dot product V8 can use for
 * relaxed SIMD dots; avx512f, avx2), the runtime and V8 version, the wasm kernel build, and the
 * memory bandwidth one core gets from a bare read loop over 64 MiB: a wasm SIMD128 loop (four v128
 * loads and adds per 64 bytes), assembled here with wabt, the best of several passes. An M = 1 row
 * streams its weights once, so its GB/s as a share of this bandwidth says how far it is from being
 * memory-bound.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import wabtInit from 'wabt';
import { relaxedSimdSupported, wasmSimdSupported } from '../src/kernels/wasm/backend.js';

const FLAGS = ['avx512_vnni', 'avx_vnni', 'avx512f', 'avx512_bf16', 'avx2', 'fma'] as const;

/** Flags of /proc/cpuinfo's first processor that matter here (empty off Linux). */
function cpuFlags(): string[] {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
    const have = new Set((line ?? '').split(':')[1]?.trim().split(/\s+/) ?? []);
    return FLAGS.filter((f) => have.has(f));
  } catch {
    return [];
  }
}

const READ_WAT = `(module (memory (export "memory") 1025)
  (func (export "read") (param $p i32) (param $end i32) (result i32)
    (local $a v128) (local $b v128) (local $c v128) (local $d v128)
    (loop $l
      (local.set $a (i32x4.add (local.get $a) (v128.load offset=0 (local.get $p))))
      (local.set $b (i32x4.add (local.get $b) (v128.load offset=16 (local.get $p))))
      (local.set $c (i32x4.add (local.get $c) (v128.load offset=32 (local.get $p))))
      (local.set $d (i32x4.add (local.get $d) (v128.load offset=48 (local.get $p))))
      (br_if $l (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 64))) (local.get $end))))
    (i32x4.extract_lane 0 (i32x4.add (i32x4.add (local.get $a) (local.get $b)) (i32x4.add (local.get $c) (local.get $d))))))`;

/** GB/s of the bare read loop over 64 MiB: the best of `passes` passes (the least disturbed one). */
export async function readBandwidth(passes = 15): Promise<number> {
  const wabt = await wabtInit();
  const mod = wabt.parseWat('read.wat', READ_WAT, { simd: true });
  const bytes = new Uint8Array(mod.toBinary({}).buffer);
  mod.destroy();
  const instance = await WebAssembly.instantiate(await WebAssembly.compile(bytes));
  const read = instance.exports.read as (p: number, end: number) => number;
  const size = 64 * 2 ** 20;
  new Uint8Array((instance.exports.memory as WebAssembly.Memory).buffer, 0, size).fill(1); // touch every page
  let best = Infinity;
  for (let i = 0; i < passes; i++) {
    const t0 = performance.now();
    read(0, size);
    best = Math.min(best, performance.now() - t0);
  }
  return size / (best * 1e6);
}

/** The machine and runtime, as printed at the top of a benchmark and stored in its JSON. */
export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly flags: string[];
  readonly runtime: string;
  readonly wasmBuild: string;
  readonly readGBs: number;
}

export async function describeMachine(): Promise<Machine> {
  const wasmBuild = !wasmSimdSupported() ? 'no wasm SIMD' : relaxedSimdSupported() ? 'wasm-simd128-relaxed (relaxed SIMD)' : 'wasm-simd128 (no relaxed SIMD)';
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    flags: cpuFlags(),
    runtime: `Node ${process.version} (V8 ${process.versions.v8})`,
    wasmBuild,
    readGBs: await readBandwidth(),
  };
}

export function machineLine(m: Machine): string {
  return `${m.cpu}, ${m.cores} cores, flags: ${m.flags.join(' ') || 'none of ' + FLAGS.join('/')}; ${m.runtime}; kernel ${m.wasmBuild}; bare read loop over 64 MiB: ${m.readGBs.toFixed(1)} GB/s`;
}
