import { Linear, QuantizedLinear, Tensor, createWasmBackend, createWorkerBackend, manualSeed, type WorkerBackend } from 'int8-linear';

/**
 * The worker backend's e2e page (test/e2e/browser.e2e.ts serves it with and without COOP/COEP):
 * runs seeded layers on `createWorkerBackend()` (threads: 2, every call split) and, in the page, on
 * `createWasmBackend()` with the same build, and reports whether every output is bit for bit the same,
 * what the worker backend got (mode, threads, reason), and how often the page's main thread ran a
 * task while a large forward ran in the workers (it must not be blocked).
 */
export interface WorkerCase {
  readonly label: string;
  /** Elements that differ from the one-thread backend (Object.is), and the first one. */
  readonly differ: number;
  readonly first: string | null;
}

export interface WorkerPageReport {
  readonly crossOriginIsolated: boolean;
  readonly name: string;
  readonly mode: string;
  readonly threads: number;
  readonly relaxed: boolean;
  readonly reason: string;
  readonly cases: WorkerCase[];
  /** setTimeout(0) tasks the main thread ran during one 64x2048x2048 forward in the workers, and how long it took. */
  readonly mainThreadTicks: number;
  readonly longCallMs: number;
  readonly error: string | null;
}

declare global {
  interface Window {
    workerCheck: Promise<WorkerPageReport>;
  }
}

const CASES = [
  { m: 1, k: 4096, n: 512, granularity: 'channel', activations: 'float32' },
  { m: 7, k: 1000, n: 130, granularity: 'channel', activations: 'float32' },
  { m: 5, k: 768, n: 96, granularity: 'group', activations: 'float32' },
  { m: 3, k: 512, n: 256, granularity: 'tensor', activations: 'float32' },
  { m: 9, k: 1024, n: 64, granularity: 'channel', activations: 'int8' },
  { m: 4, k: 512, n: 200, granularity: 'group', activations: 'int8' },
  { m: 6, k: 640, n: 48, granularity: 'channel', activations: 'int16' },
] as const;

async function run(): Promise<WorkerPageReport> {
  const workers: WorkerBackend = await createWorkerBackend({ threads: 2, minThreadedMacs: 0 });
  const wasm = await createWasmBackend({ relaxed: workers.relaxed });
  const cases: WorkerCase[] = [];
  try {
    for (const c of CASES) {
      manualSeed(c.m * 1000 + c.k);
      const fc = QuantizedLinear.fromLinear(new Linear(c.k, c.n), { granularity: c.granularity, ...(c.granularity === 'group' ? { groupSize: 128 } : {}), activations: c.activations });
      const x = new Tensor(new Float32Array(c.m * c.k).map((_, i) => Math.sin(i * 0.61) * 3), [c.m, c.k], 'float32');
      const want = fc.to(wasm).forward(x).data;
      const got = (await fc.to(workers).forwardAsync(x)).data;
      let differ = 0;
      let first: string | null = null;
      for (let i = 0; i < want.length; i++) {
        if (Object.is(got[i], want[i])) continue;
        differ++;
        first ??= `[${i}] ${got[i]} vs ${want[i]}`;
      }
      if (got.length !== want.length) first = `length ${got.length} vs ${want.length}`;
      cases.push({ label: `${c.m}x${c.k}x${c.n} ${c.granularity} ${c.activations}`, differ: differ + (got.length !== want.length ? 1 : 0), first });
    }
    // The main thread stays free: count its setTimeout(0) tasks while a large call runs in the workers.
    manualSeed(1);
    const big = QuantizedLinear.fromLinear(new Linear(2048, 2048)).to(workers);
    const x = new Tensor(new Float32Array(64 * 2048).fill(0.5), [64, 2048], 'float32');
    await big.forwardAsync(x); // the weight's first call sends and packs it
    let ticks = 0;
    let running = true;
    const tick = () => {
      if (!running) return;
      ticks++;
      setTimeout(tick, 0);
    };
    setTimeout(tick, 0);
    const t0 = performance.now();
    await big.forwardAsync(x);
    const longCallMs = performance.now() - t0;
    running = false;
    return { crossOriginIsolated, name: workers.name, mode: workers.mode, threads: workers.threads, relaxed: workers.relaxed, reason: workers.reason, cases, mainThreadTicks: ticks, longCallMs, error: null };
  } finally {
    workers.dispose();
    wasm.dispose();
  }
}

window.workerCheck = run().catch((e: unknown) => ({
  crossOriginIsolated,
  name: '-',
  mode: '-',
  threads: 0,
  relaxed: false,
  reason: '-',
  cases: [],
  mainThreadTicks: 0,
  longCallMs: 0,
  error: String((e as Error)?.stack ?? e),
}));
void window.workerCheck.then((r) => {
  (document.getElementById('results') as HTMLElement).textContent = JSON.stringify(r, null, 2);
});
