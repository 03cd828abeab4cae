/**
 * Prototype (step 1 of the two-thread mode): the existing kernels on one shared WebAssembly.Memory,
 * output row blocks split between the main thread and one worker_threads worker, Atomics for sync.
 * Measures single-thread (createWasmBackend, own memory), single-thread on the shared memory, and two
 * threads, in one process, interleaved rounds, medians; checks two-thread output == single-thread bit for bit.
 */
import { cpus, loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';
import { packWeight, packedLayout, padActivations, type PackedLayout } from '../src/kernels/packed.js';
import type { KernelWeight } from '../src/kernels/types.js';
import { createWasmBackend } from '../src/kernels/wasm/backend.js';
import { KERNEL_SHARED_WASM_BASE64 } from '../src/kernels/wasm/generated/kernel-shared-bytes.js';
import { WasmHeap } from '../src/kernels/wasm/heap.js';

const CTL = 16; // control block: 32 int32 at bytes 16..143
const HEAP_BASE = 256;
const PANEL_BYTES = 64 * 1024;
const spin = Number(process.env.SPIN ?? 0);

const WORKER = `
const { workerData } = require('node:worker_threads');
const { module, memory, ctl, spin } = workerData;
const k = new WebAssembly.Instance(module, { env: { memory } }).exports;
const c = new Int32Array(memory.buffer, ctl, 32);
let seen = 0;
for (;;) {
  for (let i = 0; i < spin && Atomics.load(c, 0) === seen; i++);
  Atomics.wait(c, 0, seen);
  seen = Atomics.load(c, 0);
  const op = c[2];
  if (op === 0) break;
  if (op === 1) k.linear_f32(c[3], c[4], c[5], c[7], c[8], c[9], c[10], c[11], c[12], c[13], c[14]);
  else if (op === 2) k.linear_i8(c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12], c[13], c[14]);
  Atomics.store(c, 1, seen);
  Atomics.notify(c, 1);
}
`;

interface K {
  linear_f32(w: number, s: number, x: number, out: number, bias: number, m: number, nb: number, groups: number, cpg: number, panel: number, scratch: number): void;
  linear_i8(w: number, s: number, x: number, xs: number, out: number, bias: number, m: number, nb: number, groups: number, cpg: number, panel: number, scratch: number): void;
}

function decode(b64: string): Uint8Array<ArrayBuffer> {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

async function main() {
  const module = await WebAssembly.compile(decode(KERNEL_SHARED_WASM_BASE64));
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
  const kernel = (await WebAssembly.instantiate(module, { env: { memory } })).exports as unknown as K;
  const heap = new WasmHeap(memory, HEAP_BASE);
  const ctl = new Int32Array(memory.buffer, CTL, 32);
  const worker = new Worker(WORKER, { eval: true, workerData: { module, memory, ctl: CTL, spin } });
  worker.unref();
  const single = await createWasmBackend();
  console.log(`${cpus()[0]?.model}, ${cpus().length} cores, Node ${process.version}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}, worker spin ${spin}`);

  function call(op: 1 | 2, t: number[], wait = true) {
    for (let i = 0; i < t.length; i++) ctl[3 + i] = t[i];
    ctl[2] = op;
    const seq = Atomics.add(ctl, 0, 1) + 1;
    Atomics.notify(ctl, 0);
    return () => {
      if (!wait) return;
      for (let i = 0; i < 20000 && Atomics.load(ctl, 1) !== seq; i++);
      while (Atomics.load(ctl, 1) !== seq) Atomics.wait(ctl, 1, Atomics.load(ctl, 1));
    };
  }

  const shapes = (process.env.SHAPES ?? '1x512x1024,1x4096x4096,128x4096x4096').split(',').map((s) => s.split('x').map(Number));
  for (const [m, kk, n] of shapes) {
    const r = rng(m * 7 + kk * 3 + n);
    const weight: KernelWeight = { n, k: kk, groupSize: kk, values: new Int8Array(n * kk).map(() => Math.floor(r() * 255) - 127), scales: new Float32Array(n).map(() => 0.001 + r() * 0.01) };
    const bias = new Float32Array(n).map(() => r() - 0.5);
    const x = new Float32Array(m * kk).map(() => r() * 2 - 1);
    const xq = new Int8Array(m * kk).map(() => Math.floor(r() * 256) - 128);
    const xScales = new Float32Array(m).map(() => 0.01 + r() * 0.01);
    const L: PackedLayout = packedLayout(weight);
    const wPtr = heap.alloc(L.valueBytes);
    const sPtr = heap.alloc(L.scaleCount * 4);
    packWeight(weight, L, new Int8Array(memory.buffer, wPtr, L.valueBytes), new Float32Array(memory.buffer, sPtr, L.scaleCount));
    const nb0 = Math.min(L.nb, Math.ceil(L.nb / 4) * 2); // even split point
    const nb1 = L.nb - nb0;
    const wb = 4 * L.kp;
    const sb = L.groups * 16;
    const bufs = {
      xf: heap.alloc(m * L.kp * 4),
      xi: heap.alloc(m * L.kp * 2),
      xs: heap.alloc(m * 4),
      out: heap.alloc(m * L.np * 4),
      out0: heap.alloc(m * nb0 * 16),
      out1: heap.alloc(m * Math.max(nb1, 1) * 16),
      bias: heap.alloc(L.np * 4),
      scr0: heap.alloc(16 + PANEL_BYTES * 2),
      scr1: heap.alloc(16 + PANEL_BYTES * 2),
    };
    const buf = () => memory.buffer as unknown as ArrayBuffer;
    new Float32Array(buf(), bufs.bias, L.np).fill(0).set(bias);
    const panelF = Math.max(1, Math.floor(PANEL_BYTES / (wb * 4)));
    const panelI = Math.max(1, Math.floor(PANEL_BYTES / (wb * 2)));
    const outF = new Float32Array(m * n);

    const mergeOut = (into: Float32Array) => {
      const b = buf();
      const n0 = Math.min(n, nb0 * 4);
      for (let row = 0; row < m; row++) {
        into.set(new Float32Array(b, bufs.out0 + row * nb0 * 16, n0), row * n);
        if (n > n0) into.set(new Float32Array(b, bufs.out1 + row * nb1 * 16, n - n0), row * n + n0);
      }
    };
    const variants: Record<string, () => Float32Array> = {
      'wasm-simd (own memory) W8A32': () => (single.linear({ x, m, weight, bias, out: outF }), outF),
      'shared mem, 1 thread W8A32': () => {
        padActivations(x, m, L, new Float32Array(buf(), bufs.xf, m * L.kp));
        kernel.linear_f32(wPtr, sPtr, bufs.xf, bufs.out, bufs.bias, m, L.nb, L.groups, L.cpg, panelF, bufs.scr0);
        for (let row = 0; row < m; row++) outF.set(new Float32Array(buf(), bufs.out + row * L.np * 4, n), row * n);
        return outF;
      },
      '2 threads W8A32': () => {
        padActivations(x, m, L, new Float32Array(buf(), bufs.xf, m * L.kp));
        const done = call(1, [wPtr + nb0 * wb, sPtr + nb0 * sb, bufs.xf, 0, bufs.out1, bufs.bias + nb0 * 16, m, nb1, L.groups, L.cpg, panelF, bufs.scr1], nb1 > 0);
        kernel.linear_f32(wPtr, sPtr, bufs.xf, bufs.out0, bufs.bias, m, nb0, L.groups, L.cpg, panelF, bufs.scr0);
        done();
        mergeOut(outF);
        return outF;
      },
      'wasm-simd (own memory) W8A8': () => (single.linearW8A8!({ xq, xScales, m, weight, bias, out: outF }), outF),
      '2 threads W8A8': () => {
        padActivations(xq, m, L, new Int16Array(buf(), bufs.xi, m * L.kp));
        new Float32Array(buf(), bufs.xs, m).set(xScales);
        const done = call(2, [wPtr + nb0 * wb, sPtr + nb0 * sb, bufs.xi, bufs.xs, bufs.out1, bufs.bias + nb0 * 16, m, nb1, L.groups, L.cpg, panelI, bufs.scr1], nb1 > 0);
        kernel.linear_i8(wPtr, sPtr, bufs.xi, bufs.xs, bufs.out0, bufs.bias, m, nb0, L.groups, L.cpg, panelI, bufs.scr0);
        done();
        mergeOut(outF);
        return outF;
      },
      'sync only (worker nb=0, main nb=0)': () => {
        const done = call(1, [wPtr, sPtr, bufs.xf, 0, bufs.out1, bufs.bias, m, 0, L.groups, L.cpg, panelF, bufs.scr1]);
        done();
        return outF;
      },
    };
    // Bit-exactness: two threads vs the single-thread backend.
    const refF = variants['wasm-simd (own memory) W8A32']().slice();
    const twoF = variants['2 threads W8A32']().slice();
    const refI = variants['wasm-simd (own memory) W8A8']().slice();
    const twoI = variants['2 threads W8A8']().slice();
    const same = (a: Float32Array, b: Float32Array) => a.every((v, i) => Object.is(v, b[i]));
    console.log(`\n${m}x${kk}x${n}: split nb ${nb0} + ${nb1}; bit-exact W8A32 ${same(refF, twoF)}, W8A8 ${same(refI, twoI)}`);

    const names = Object.keys(variants);
    const reps: Record<string, number> = {};
    for (const name of names) {
      const t0 = performance.now();
      let runs = 0;
      while (runs < 3 || performance.now() - t0 < 300) (variants[name](), runs++);
      reps[name] = Math.max(1, Math.ceil(10 / ((performance.now() - t0) / runs)));
    }
    const samples: Record<string, number[]> = Object.fromEntries(names.map((nm) => [nm, []]));
    const cpuSamples: Record<string, number[]> = Object.fromEntries(names.map((nm) => [nm, []]));
    const rounds = m * kk * n > 2 ** 30 ? 9 : 15;
    for (let round = 0; round < rounds; round++) {
      for (const name of names) {
        variants[name]();
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        for (let i = 0; i < reps[name]; i++) variants[name]();
        samples[name].push((performance.now() - t0) / reps[name]);
        const c = process.cpuUsage(c0);
        cpuSamples[name].push((c.user + c.system) / 1000 / reps[name]);
      }
    }
    const med = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1];
    const ms = Object.fromEntries(names.map((nm) => [nm, med(samples[nm])]));
    for (const name of names) {
      const base = name.includes('W8A8') ? ms['wasm-simd (own memory) W8A8'] : ms['wasm-simd (own memory) W8A32'];
      const s = [...samples[name]].sort((p, q) => p - q);
      console.log(`  ${name.padEnd(36)} ${ms[name].toFixed(4).padStart(10)} ms  [${s[0].toFixed(3)}..${s[s.length - 1].toFixed(3)}]  ratio ${(base / ms[name]).toFixed(2)}x  cpu ${med(cpuSamples[name]).toFixed(3)} ms  (${rounds} rounds x ${reps[name]})`);
    }
    for (const p of Object.values(bufs)) heap.release(p);
    heap.release(wPtr);
    heap.release(sPtr);
  }
  ctl[2] = 0;
  Atomics.add(ctl, 0, 1);
  Atomics.notify(ctl, 0);
  await worker.terminate();
  single.dispose();
}

void main();
