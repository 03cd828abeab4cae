import { afterEach, describe, expect, it } from 'vitest';
import { BackendError, Linear, QuantizedLinear, Tensor, createWasmBackend, createWorkerBackend, manualSeed } from '../../src/index.js';
import type { KernelWeight } from '../../src/kernels/types.js';
import { workerBackendOver, type WorkerBackend } from '../../src/kernels/wasm/worker-backend.js';
import { expectScriptExits } from '../helpers/child-script.js';
import { createWorkerBackend as createNodeWorkerBackend, nodeWebWorker } from '../../src/kernels/wasm/node-web-worker.js';
import { expectBitExact } from '../conformance/tolerance.js';

/**
 * The worker backend's own behaviour (its numbers are under the conformance suite): what it says it
 * got and why, that forward() points at forwardAsync, release and dispose, a worker that fails, and
 * running out of wasm memory in the worker. The workers are the bundled browser worker on
 * worker_threads (`createWorkerBackend` of int8-linear/node, src/kernels/wasm/node-web-worker.ts).
 */

const open: WorkerBackend[] = [];
async function backend(options?: Parameters<typeof createNodeWorkerBackend>[0]): Promise<WorkerBackend> {
  const b = await createNodeWorkerBackend(options);
  open.push(b);
  return b;
}
afterEach(() => {
  for (const b of open.splice(0)) b.dispose();
});

function layer(inF: number, out: number, activations: 'float32' | 'int8' | 'int16' = 'float32'): QuantizedLinear {
  manualSeed(3);
  return QuantizedLinear.fromLinear(new Linear(inF, out), { activations });
}

function input(m: number, k: number): Tensor<'float32'> {
  return new Tensor(new Float32Array(m * k).map((_, i) => Math.sin(i * 0.37) * 2), [m, k], 'float32');
}

describe('createWorkerBackend', () => {
  it('threads: 2 on a runtime that shares memory: two workers, mode and reason say so; forwardAsync is bit for bit the one-thread wasm backend in every activation mode', async () => {
    const workers = await backend({ threads: 2, minThreadedMacs: 0 });
    expect(workers.name).toBe('wasm-simd-workers');
    expect(workers.threads).toBe(2);
    expect(workers.mode).toBe(`wasm-simd128${workers.relaxed ? '-relaxed' : ''}-threads2`);
    expect(workers.reason).toMatch(/^2 threads: .*shared memory/);
    const wasm = await createWasmBackend({ relaxed: workers.relaxed });
    for (const activations of ['float32', 'int8', 'int16'] as const) {
      const fc = layer(300, 70, activations);
      const x = input(9, 300);
      const want = fc.to(wasm).forward(x);
      const got = await fc.to(workers).forwardAsync(x);
      expect(got.shape).toEqual([9, 70]);
      expectBitExact(`workers ${activations}`, got.data, want.data);
    }
    wasm.dispose();
  });

  it('a page that is not cross-origin isolated gets one worker, and the reason says which headers give more', async () => {
    const g = globalThis as { crossOriginIsolated?: boolean };
    g.crossOriginIsolated = false;
    try {
      const workers = await backend({ threads: 4 });
      expect(workers.threads).toBe(1);
      expect(workers.mode).toMatch(/-threads1$/);
      expect(workers.reason).toContain('not cross-origin isolated');
      expect(workers.reason).toContain('Cross-Origin-Opener-Policy: same-origin');
      expect(workers.reason).toContain('Cross-Origin-Embedder-Policy: require-corp');
      const fc = layer(64, 8);
      const x = input(2, 64);
      const want = fc.forward(x);
      const got = await fc.to(workers).forwardAsync(x);
      expect(Array.from(got.data).every((v, i) => Math.abs(v - want.data[i]) < 1e-4)).toBe(true);
    } finally {
      delete g.crossOriginIsolated;
    }
  });

  it('forward() is a BackendError that points at forwardAsync; the layer keeps its own int8 weight', async () => {
    const workers = await backend({ threads: 1 });
    const fc = layer(32, 4).to(workers);
    expect(() => fc.forward(input(1, 32))).toThrow(BackendError);
    expect(() => fc.forward(input(1, 32))).toThrow(/forwardAsync/);
    expect(fc.weight.data.length).toBe(32 * 4);
  });

  it('release frees the worker\'s copy; the next call sends the weight again and gives the same result', async () => {
    const workers = await backend({ threads: 1 });
    const weight: KernelWeight = { n: 4, k: 16, groupSize: 16, values: new Int8Array(64).map((_, i) => i - 32), scales: new Float32Array(4).fill(0.5) };
    const x = new Float32Array(16).fill(1);
    const a = new Float32Array(4);
    const b = new Float32Array(4).fill(Number.NaN);
    await workers.linearAsync({ x, m: 1, weight, bias: null, out: a });
    workers.release(weight);
    await workers.linearAsync({ x, m: 1, weight, bias: null, out: b });
    expect(Array.from(b)).toEqual(Array.from(a));
    // row o sums (16 o - 32) .. (16 o - 17), times 0.5
    expect(Array.from(a)).toEqual([0, 1, 2, 3].map((o) => 0.5 * (16 * (16 * o - 32) + 120)));
  });

  it('dispose rejects a call that is still running and every later one, with a BackendError', async () => {
    const workers = await createNodeWorkerBackend({ threads: 1 });
    const fc = layer(1024, 1024).to(workers);
    const pending = fc.forwardAsync(input(64, 1024));
    workers.dispose();
    await expect(pending).rejects.toThrow(BackendError);
    await expect(fc.forwardAsync(input(1, 1024))).rejects.toThrow(/after dispose/);
  });

  it('out of wasm memory in the worker is a BackendError for that call; smaller layers still run there', async () => {
    const workers = await backend({ threads: 1, maxMemoryBytes: 4 * 2 ** 20 });
    const big = layer(2048, 2048); // 4 MiB of int8: does not fit with scratch
    await expect(big.to(workers).forwardAsync(input(1, 2048))).rejects.toThrow(/out of memory: asked for 4194304 bytes/);
    const small = layer(64, 16);
    const want = small.forward(input(3, 64));
    const got = await small.to(workers).forwardAsync(input(3, 64));
    expect(Array.from(got.data).every((v, i) => Math.abs(v - want.data[i]) < 1e-4)).toBe(true);
  });

  it('a worker that fails to start is a BackendError naming it; nothing is left running', async () => {
    let spawned = 0;
    const broken = () => {
      spawned++;
      return nodeWebWorker('throw new Error("no kernel here");');
    };
    await expect(workerBackendOver(broken, { threads: 2 })).rejects.toThrow(/helper worker 1 did not start.*no kernel here/);
    expect(spawned).toBe(1);
  });

  it('a worker the runtime refuses to construct (new Worker throws) is a BackendError; the workers already started are stopped', async () => {
    const started: ReturnType<typeof nodeWebWorker>[] = [];
    let calls = 0;
    let terminated = 0;
    const refusing = () => {
      if (++calls === 2) throw new DOMException('blocked by worker-src', 'SecurityError');
      const w = nodeWebWorker();
      started.push(w);
      const terminate = w.terminate;
      w.terminate = () => {
        terminated++;
        terminate();
      };
      return w;
    };
    await expect(workerBackendOver(refusing, { threads: 2 })).rejects.toThrow(/could not start a worker \(SecurityError: blocked by worker-src\)/);
    expect(started.length).toBe(1);
    expect(terminated).toBe(1);
  });

  it('bad options are BackendErrors that say what was given and what is allowed', async () => {
    await expect(createNodeWorkerBackend({ threads: 0 })).rejects.toThrow(/threads must be an integer from 1 to 64, got 0/);
    await expect(createNodeWorkerBackend({ thread: 2 } as never)).rejects.toThrow(/unknown option "thread"/);
    await expect(createNodeWorkerBackend({ minThreadedMacs: -1 })).rejects.toThrow(/minThreadedMacs must be a number >= 0/);
  });

  it("without a global Worker (Node) the main entry's createWorkerBackend says what to use instead", async () => {
    expect((globalThis as { Worker?: unknown }).Worker).toBeUndefined();
    await expect(createWorkerBackend()).rejects.toThrow(/no Web Worker.*import createWorkerBackend from 'int8-linear\/node'/);
  });

  it("int8-linear/node's workers keep the process alive while a call waits, not after (a script that never calls dispose gets its result and exits)", () => {
    const script = [
      "import { createWorkerBackend } from './src/node.ts';",
      'const b = await createWorkerBackend({ threads: 2, minThreadedMacs: 0 });',
      'const out = new Float32Array(8);',
      'await new Promise((r) => setTimeout(r, 50));', // idle workers: the process must not exit here either
      'await b.linearAsync({ x: new Float32Array(32).fill(1), m: 1, weight: { n: 8, k: 32, groupSize: 32, values: new Int8Array(256).fill(1), scales: new Float32Array(8).fill(1) }, bias: null, out });',
      "console.log('sum', out[0], b.mode.endsWith('-threads2'));",
    ];
    expectScriptExits(script, 'sum 32 true');
  });
});
