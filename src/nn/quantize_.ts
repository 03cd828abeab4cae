import { RE2JS } from 're2js';
import { QuantizationError } from '../errors.js';
import type { QuantScheme } from '../format/scheme.js';
import { Linear } from './linear.js';
import type { Module } from './module.js';
import { QuantizedLinear, type ActivationMode } from './quantized-linear.js';

/** One layer's scheme in `quantize_`: a quantization scheme plus the activation mode of `QuantizedLinear`. */
export interface LayerQuantScheme extends QuantScheme {
  activations?: ActivationMode;
}

/** `quantize_`'s scheme: the default for every selected layer, and per-layer overrides. */
export interface ModelQuantScheme extends LayerQuantScheme {
  /**
   * Per-layer schemes by dotted name ('model.layers.0.mlp.down_proj') or `re:` pattern (RE2 syntax) matched against
   * the whole name ('re:.*\\.mlp\\..*', torchao's ModuleFqnToConfig); `null` keeps the layer in float.
   * An exact name wins over patterns; patterns are tried in the order given; an override replaces the
   * default scheme (fields are not merged). A key that selects no Linear layer is an error (a typo).
   */
  layers?: Readonly<Record<string, LayerQuantScheme | null>>;
}

/**
 * A `re:` pattern compiled to match the whole dotted name (Python's `re.fullmatch`, as torchao). It
 * runs on RE2 (re2js), as the file-given targets of compressed-tensors do: time linear in the name.
 */
function compilePattern(key: string): RE2JS {
  try {
    return RE2JS.compile(key.slice(3));
  } catch (e) {
    throw new QuantizationError(
      `quantize_: layers key '${key}' is not a regular expression this library can run (${(e as Error).message}); ` +
        `write 're:' and an RE2 pattern (no backreferences or lookaround)`,
    );
  }
}

/**
 * Replaces `Linear` layers of `model` in place with `QuantizedLinear`s and returns the model, as
 * torchao's `quantize_(model, config, filter_fn)`: every Linear by default, or those for which
 * `filter(module, name)` is true; each with `scheme` (default per channel, full range, W8A32) or the
 * override in `scheme.layers` that names it. A Linear shared at several places becomes one
 * QuantizedLinear shared at the same places. The replaced layers are on the reference backend: call
 * `model.to(backend)` after.
 *
 * Shape: each layer keeps its (in_features, out_features); scales as `QuantizedLinear`.
 *
 * Example:
 *   quantize_(model, { granularity: 'group', groupSize: 32, layers: { lm_head: null, 're:.*down_proj': { granularity: 'channel' } } });
 *   quantize_(model, {}, (m, name) => name.startsWith('model.layers.'));
 */
export function quantize_<M extends Module>(
  model: M,
  scheme: ModelQuantScheme = {},
  filter: (module: Linear, name: string) => boolean = () => true,
): M {
  if (model instanceof Linear) {
    throw new QuantizationError('quantize_: the model is itself a Linear, which cannot be replaced in place; use QuantizedLinear.fromLinear(linear, scheme)');
  }
  const { layers: overrides = {}, ...base } = scheme;
  const patterns = Object.keys(overrides)
    .filter((k) => k.startsWith('re:'))
    .map((k) => [k, compilePattern(k)] as const);
  const used = new Set<string>();
  const schemeFor = (name: string): LayerQuantScheme | null => {
    if (Object.hasOwn(overrides, name)) {
      used.add(name);
      return overrides[name];
    }
    for (const [key, re] of patterns) {
      if (re.matches(name)) {
        used.add(key);
        return overrides[key];
      }
    }
    return base;
  };
  // Decide every layer first, so that a bad key or scheme changes nothing.
  const plan: [Module, string, Linear, LayerQuantScheme | null][] = [];
  for (const [prefix, parent] of model.namedModules()) {
    for (const [childName, child] of parent.namedChildren()) {
      if (!(child instanceof Linear)) continue;
      const name = prefix === '' ? childName : `${prefix}.${childName}`;
      const s = schemeFor(name);
      plan.push([parent, childName, child, s !== null && filter(child, name) ? s : null]);
    }
  }
  const unused = Object.keys(overrides).filter((k) => !used.has(k));
  if (unused.length > 0) {
    throw new QuantizationError(
      `quantize_: layers ${unused.map((k) => `'${k}'`).join(', ')} selected no Linear layer of ${model.constructor.name}; ` +
        `the names are dotted module names as in model.namedModules() (check the spelling)`,
    );
  }
  const done = new Map<Linear, QuantizedLinear | null>();
  for (const [, , child, s] of plan) {
    if (!done.has(child)) done.set(child, s === null ? null : QuantizedLinear.fromLinear(child, s));
  }
  for (const [parent, childName, child] of plan) {
    const q = done.get(child);
    if (q !== null && q !== undefined) parent.registerModule(childName, q);
  }
  return model;
}
