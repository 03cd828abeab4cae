/**
 * `npm run bench:threads [-- --shapes 1x4096x4096,128x4096x4096] [--threads 2]`
 *
 * The two-thread wasm backend against the single-thread one, in one process: for each shape, W8A32
 * (`linear`) and W8A8 (`linearW8A8`, x already quantized: the backend call alone), the outputs are
 * first checked bit for bit against the single-thread backend, then all rows are timed in
 * interleaved rounds (each round re-runs a row untimed, then times a batch of >= 10 ms) and the
 * median of the rounds is reported, with the process CPU time per call (all threads): CPU ≈ 2x wall
 * means both threads had a core; CPU ≈ wall on the threaded row means the second core was busy with
 * another process. 'forced' rows run threaded below the small-call threshold, to show what the
 * threshold avoids; at 1x16x8 (two row blocks, almost no arithmetic) the forced row minus the
 * single-thread row is the cost of a threaded call's synchronization.
 */
import { cpus, loadavg } from 'node:os';
import type { KernelWeight } from '../src/kernels/types.js';
import { createWasmBackend } from '../src/kernels/wasm/backend.js';
import { createThreadedWasmBackend, MIN_THREADED_MACS } from '../src/node.js';
import { median } from './stats.js';

const args = process.argv.slice(2);
const option = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const shapes = (option('--shapes') ?? '1x16x8,1x256x256,1x512x512,1x512x1024,1x1024x1024,1x4096x4096,16x1024x1024,128x4096x4096').split(',').map((s) => s.split('x').map(Number));
const threads = Number(option('--threads') ?? 2);

/** Deterministic values without the library's generator (speed does not depend on them). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}


async function main(): Promise<void> {
  const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
  console.log(`bench:threads: ${cpus()[0]?.model ?? '?'}, ${cpus().length} cores, Node ${process.version}, load average ${load()}, ${new Date().toISOString()}`);
  console.log(`threaded backend: ${threads} threads, W8A32 calls under ${MIN_THREADED_MACS} multiply-adds (W8A8: twice that) on one thread\n`);
  const one = await createWasmBackend();
  const two = await createThreadedWasmBackend({ threads });
  const forced = await createThreadedWasmBackend({ threads, minThreadedMacs: 0 });
  console.log('| shape | row | ms (median) | min..max | cpu ms | x 1 thread | check |');
  console.log('|---|---|---|---|---|---|---|');
  for (const [m, k, n] of shapes) {
    const r = lcg(m * 31 + k * 7 + n);
    const weight: KernelWeight = {
      n,
      k,
      groupSize: k,
      values: new Int8Array(n * k).map(() => Math.floor(r() * 255) - 127),
      scales: new Float32Array(n).map(() => 1e-3 + r() * 1e-2),
    };
    const bias = new Float32Array(n).map(() => r() - 0.5);
    const x = new Float32Array(m * k).map(() => r() * 2 - 1);
    const xq = new Int8Array(m * k).map(() => Math.floor(r() * 256) - 128);
    const xScales = new Float32Array(m).map(() => 0.01 + r() * 0.01);
    const out = new Float32Array(m * n);
    const macs = m * Math.ceil(n / 4) * 4 * Math.ceil(k / 16) * 16;
    type Row = { name: string; kind: 'W8A32' | 'W8A8'; run: () => void; base?: boolean };
    const rows: Row[] = [];
    for (const kind of ['W8A32', 'W8A8'] as const) {
      // W8A8 multiply-adds count half (see MIN_THREADED_MACS)
      const small = (kind === 'W8A8' ? macs / 2 : macs) < MIN_THREADED_MACS;
      for (const [label, b] of [
        ['1 thread (createWasmBackend)', one],
        [`${threads} threads${small ? ' (under threshold: 1 thread)' : ''}`, two],
        ...(small ? ([[`${threads} threads, forced`, forced]] as const) : []),
      ] as const) {
        const run = kind === 'W8A32' ? () => b.linear({ x, m, weight, bias, out }) : () => b.linearW8A8!({ xq, xScales, m, weight, bias, out });
        rows.push({ name: label, kind, run, base: b === one });
      }
    }
    const checks = new Map<Row, string>();
    for (const kind of ['W8A32', 'W8A8'] as const) {
      const [base, ...others] = rows.filter((row) => row.kind === kind);
      base.run();
      const want = out.slice();
      for (const row of others) {
        row.run();
        let bad = -1;
        for (let i = 0; i < want.length && bad < 0; i++) if (!Object.is(want[i], out[i])) bad = i;
        checks.set(row, bad < 0 ? 'bit-exact' : `DIFFERS at ${bad}: ${out[bad]} vs ${want[bad]}`);
      }
    }
    const reps = new Map<Row, number>();
    for (const row of rows) {
      const t0 = performance.now();
      let runs = 0;
      while (runs < 3 || performance.now() - t0 < 300) {
        row.run();
        runs++;
      }
      reps.set(row, Math.max(1, Math.ceil(10 / ((performance.now() - t0) / runs))));
    }
    const wall = new Map<Row, number[]>(rows.map((row) => [row, []]));
    const cpu = new Map<Row, number[]>(rows.map((row) => [row, []]));
    const rounds = m * k * n > 2 ** 30 ? 9 : 15;
    for (let round = 0; round < rounds; round++) {
      for (const row of rows) {
        row.run();
        const n0 = reps.get(row)!;
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        for (let i = 0; i < n0; i++) row.run();
        wall.get(row)!.push((performance.now() - t0) / n0);
        const c = process.cpuUsage(c0);
        cpu.get(row)!.push((c.user + c.system) / 1000 / n0);
      }
    }
    for (const row of rows) {
      const ms = median(wall.get(row)!);
      const baseRow = rows.find((b) => b.base && b.kind === row.kind)!;
      const s = wall.get(row)!;
      console.log(
        `| ${m}x${k}x${n} | ${row.kind} ${row.name} | ${ms.toFixed(4)} | ${Math.min(...s).toFixed(3)}..${Math.max(...s).toFixed(3)} | ${median(cpu.get(row)!).toFixed(4)} | ` +
          `${(median(wall.get(baseRow)!) / ms).toFixed(2)}x | ${checks.get(row) ?? ''} |`,
      );
    }
    for (const b of [one, two, forced]) b.release!(weight);
  }
  console.log(`\nload average at the end: ${load()}`);
  one.dispose();
  two.dispose();
  forced.dispose();
}

void main();
