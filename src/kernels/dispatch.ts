/**
 * The one place that knows which capabilities a backend has (`types.ts`) and what happens when it
 * lacks one, as ggml-backend.cpp turns a missing slot into a fallback: callers (QuantizedLinear,
 * tests, benchmarks) go through these functions and never test for optional members themselves.
 *
 * The rules: `linear` is synchronous and may throw on an async-only backend; `runLinearAsync` awaits
 * `linearAsync` where there is one and runs `linear` otherwise; W8A8 and W8A16 run only on backends
 * that have them, synchronously, or awaited where the backend has the async ones (`AsyncIntegerBackend`); `release` does nothing on a backend that caches nothing; a backend holds a
 * layer's only copy only if it is a `ResidentBackend`.
 */
import { BackendError, describeValue } from '../errors.js';
import type { AsyncBackend, AsyncIntegerBackend, Backend, CachingBackend, KernelWeight, LinearArgs, LinearW8A16Args, LinearW8A8Args, ResidentBackend, W8A16Backend, W8A8Backend } from './types.js';

function has(backend: Backend, member: string): boolean {
  return typeof (backend as unknown as Record<string, unknown>)[member] === 'function';
}

/**
 * Whether the backend has an asynchronous forward (`linearAsync`).
 *
 * Example:
 *   isAsyncBackend(gpu);   // true for the gpu.js backend
 */
export function isAsyncBackend(backend: Backend): backend is AsyncBackend {
  return has(backend, 'linearAsync');
}

/**
 * Whether the backend has a W8A8 forward (`linearW8A8`).
 *
 * Example:
 *   hasW8A8(await createWasmBackend());   // true
 */
export function hasW8A8(backend: Backend): backend is W8A8Backend {
  return has(backend, 'linearW8A8');
}

/**
 * Whether the backend caches per weight and can `release` one.
 *
 * Example:
 *   isCachingBackend(createReferenceBackend());   // false: it keeps nothing
 */
export function isCachingBackend(backend: Backend): backend is CachingBackend {
  return has(backend, 'release');
}

/**
 * Whether the backend can hold a layer's only copy of its weight (`adopt` + `readValues` + `release`).
 *
 * Example:
 *   isResidentBackend(createJsBackend());   // true
 */
export function isResidentBackend(backend: Backend): backend is ResidentBackend {
  return has(backend, 'adopt') && has(backend, 'readValues') && has(backend, 'release');
}

/**
 * The forward, awaiting the device where the backend is asynchronous; elsewhere `linear`.
 *
 * Shape: as `Backend.linear`.
 *
 * Example:
 *   await runLinearAsync(backend, { x, m, weight, bias: null, out });
 */
export async function runLinearAsync(backend: Backend, args: LinearArgs): Promise<void> {
  if (isAsyncBackend(backend)) await backend.linearAsync(args);
  else backend.linear(args);
}

/**
 * The W8A8 forward; a BackendError on a backend without one (checked first by `checkCanRun`).
 *
 * Shape: as `W8A8Backend.linearW8A8`.
 *
 * Example:
 *   runLinearW8A8(backend, { xq, xScales, m, weight, bias: null, out });
 */
export function runLinearW8A8(backend: Backend, args: LinearW8A8Args): void {
  if (!hasW8A8(backend)) throw noW8A8(backend, 'runLinearW8A8');
  backend.linearW8A8(args);
}

/**
 * Whether the backend has a W8A16 forward (`linearW8A16`).
 *
 * Example:
 *   hasW8A16(await createWasmBackend());   // true
 */
export function hasW8A16(backend: Backend): backend is W8A16Backend {
  return has(backend, 'linearW8A16');
}

/**
 * The W8A16 forward; a BackendError on a backend without one (checked first by `checkCanRun`).
 *
 * Shape: as `W8A16Backend.linearW8A16`.
 *
 * Example:
 *   runLinearW8A16(backend, { xq, xScales, m, weight, bias: null, out });
 */
export function runLinearW8A16(backend: Backend, args: LinearW8A16Args): void {
  if (!hasW8A16(backend)) throw noW8A16(backend, 'runLinearW8A16');
  backend.linearW8A16(args);
}

/**
 * The W8A8 forward, awaiting a backend that computes elsewhere (`linearW8A8Async`); elsewhere `runLinearW8A8`.
 *
 * Shape: as `W8A8Backend.linearW8A8`.
 *
 * Example:
 *   await runLinearW8A8Async(workers, { xq, xScales, m, weight, bias: null, out });
 */
export async function runLinearW8A8Async(backend: Backend, args: LinearW8A8Args): Promise<void> {
  if (has(backend, 'linearW8A8Async')) await (backend as AsyncIntegerBackend).linearW8A8Async(args);
  else runLinearW8A8(backend, args);
}

/**
 * The W8A16 forward, awaiting a backend that computes elsewhere (`linearW8A16Async`); elsewhere `runLinearW8A16`.
 *
 * Shape: as `W8A16Backend.linearW8A16`.
 *
 * Example:
 *   await runLinearW8A16Async(workers, { xq, xScales, m, weight, bias: null, out });
 */
export async function runLinearW8A16Async(backend: Backend, args: LinearW8A16Args): Promise<void> {
  if (has(backend, 'linearW8A16Async')) await (backend as AsyncIntegerBackend).linearW8A16Async(args);
  else runLinearW8A16(backend, args);
}

function noW8A16(backend: Backend, caller: string): BackendError {
  return new BackendError(
    `${caller}: backend '${backend.name}' (${backend.mode}) has no W8A16 kernel (linearW8A16) ` +
      `but this layer has activations='int16'; use a backend that has one, or activations: 'float32'`,
  );
}

function noW8A8(backend: Backend, caller: string): BackendError {
  return new BackendError(
    `${caller}: backend '${backend.name}' (${backend.mode}) has no W8A8 kernel (linearW8A8) ` +
      `but this layer has activations='int8'; use a backend that has one, or activations: 'float32'`,
  );
}

const CORE_METHODS = ['supports', 'linear'] as const;

/**
 * Throws a BackendError unless `backend` is a Backend that can run `weight` with these activations (shape limits, and
 * a W8A8 kernel for int8 activations); `layer` describes the weight in the message.
 *
 * Example:
 *   checkCanRun(wasm, weight, 'int8', 'QuantizedLinear.to', '4096x4096 channel layer');
 */
export function checkCanRun(backend: Backend, weight: KernelWeight, activations: 'float32' | 'int8' | 'int16', caller: string, layer: string): void {
  const b = backend as unknown as Partial<Record<string, unknown>> | null;
  if (typeof b !== 'object' || b === null || typeof b.name !== 'string' || CORE_METHODS.some((m) => typeof b[m] !== 'function')) {
    throw new BackendError(
      `${caller}: expected a Backend (an object with name, supports() and linear(), e.g. from availableBackends() ` +
        `or createWasmBackend()), got ${describeValue(backend)}`,
    );
  }
  if (!backend.supports(weight)) {
    throw new BackendError(
      `${caller}: backend '${backend.name}' (${backend.mode}) cannot run a ${layer}; use another backend from availableBackends()`,
    );
  }
  if (activations === 'int8' && !hasW8A8(backend)) throw noW8A8(backend, caller);
  if (activations === 'int16' && !hasW8A16(backend)) throw noW8A16(backend, caller);
}

/**
 * Frees what `backend` prepared for `weight`; nothing on a backend that caches nothing.
 *
 * Example:
 *   releaseWeight(backend, weight);
 */
export function releaseWeight(backend: Backend, weight: KernelWeight): void {
  if (isCachingBackend(backend)) backend.release(weight);
}

/**
 * Hands `weight` to a backend that can hold it (`adopt`); returns whether it did, i.e. whether the
 * caller may now drop its own values. Throws what `adopt` throws (out of memory, disposed).
 *
 * Example:
 *   if (adoptWeight(backend, weight)) ownValues = null;
 */
export function adoptWeight(backend: Backend, weight: KernelWeight): boolean {
  if (!isResidentBackend(backend)) return false;
  backend.adopt(weight);
  return true;
}

/**
 * The int8 values (n, k) of a weight the backend holds, into `into`.
 *
 * Example:
 *   readWeightValues(backend, weight, new Int8Array(weight.n * weight.k));
 */
export function readWeightValues(backend: Backend, weight: KernelWeight, into: Int8Array): void {
  if (!isResidentBackend(backend)) {
    throw new BackendError(`readWeightValues: backend '${backend.name}' holds no weights (it is not a ResidentBackend)`);
  }
  backend.readValues(weight, into);
}
