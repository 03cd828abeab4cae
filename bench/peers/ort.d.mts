// Types of ort.mjs for bench/run.ts (the peers package is plain JS).
export interface Graph {
  name: string;
  kind: 'float' | 'w8a8';
  weightBytes: number;
  /** Built from the per-group weights: compare with the group reference. */
  grouped?: boolean;
  bytes: Uint8Array;
}
export interface Runtime {
  name: 'onnxruntime-node' | 'onnxruntime-web';
  ort?: unknown;
  error?: string;
}
export interface Session {
  run(x: Float32Array, m: number, k: number): Promise<Float32Array>;
  release(): Promise<void>;
}
export function buildGraphs(w: {
  q: Int8Array;
  scale: Float32Array;
  w: Float32Array;
  bias: Float32Array;
  n: number;
  k: number;
  group: { q: Int8Array; scale: Float32Array; groupSize: number } | null;
}): Graph[];
export function loadRuntimes(): Promise<Runtime[]>;
export function createSession(runtime: Runtime, bytes: Uint8Array): Promise<Session>;
export function versions(runtimes: Runtime[]): Record<string, string>;
