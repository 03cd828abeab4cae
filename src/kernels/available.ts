import { createReferenceBackend } from './reference.js';
import type { Backend } from './types.js';

/**
 * The backends that work in this environment, fastest first, each reporting the mode it really
 * runs in. The reference backend is always last and always present. Each call creates fresh
 * backends: `dispose()` the ones you do not keep.
 *
 * Example:
 *   for (const b of await availableBackends()) console.log(b.name, b.mode, qfc.to(b).forward(x).shape);
 */
export async function availableBackends(): Promise<Backend[]> {
  return [createReferenceBackend()];
}
