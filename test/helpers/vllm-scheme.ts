/**
 * vLLM's choice of a compressed-tensors scheme for one Linear layer, restated in TypeScript from
 * vllm-project/vllm `vllm/model_executor/layers/quantization/compressed_tensors/compressed_tensors.py`
 * (`from_config`, `_quantization_scheme_map_from_config`, `get_scheme_dict`, `_get_scheme_from_parts`,
 * `_is_wNa16_group_channel`, `_is_static_tensor_w8a8`, `_is_dynamic_token_w8a8`), `utils.py`
 * (`should_ignore_layer`, `find_matched_target`, `is_activation_quantization_format`) and the
 * `create_weights` of `schemes/compressed_tensors_wNa16.py` and `compressed_tensors_w8a8_int8.py`
 * (the tensors a scheme allocates, which loading fills by name, dtype and shape), plus compressed-tensors'
 * `QuantizationArgs` validation (pydantic, extra fields forbidden, strategy inferred), which vLLM runs
 * on every group. Only the int paths matter here (fp8/fp4 schemes and 2:4 sparsity are left out), and
 * GPU kernel limits (Marlin's tile sizes, compute capability) are not modelled: they depend on the GPU.
 *
 * Test-only: it lets the tests assert that a config this library writes is one vLLM accepts, without vLLM.
 */
import type { Tensor } from '../../src/index.js';

type Args = Record<string, unknown> & { num_bits: number; type: string; symmetric: boolean; strategy: string; group_size: number | null; dynamic: unknown };

const ARGS_FIELDS = ['num_bits', 'type', 'symmetric', 'group_size', 'strategy', 'block_structure', 'dynamic', 'actorder', 'scale_dtype', 'zp_dtype', 'observer', 'observer_kwargs'];

/** QuantizationArgs.model_validate: defaults, extra="forbid", validate_model_after's strategy inference and checks. */
function quantizationArgs(raw: unknown, where: string): Args {
  if (typeof raw !== 'object' || raw === null) throw new Error(`${where}: QuantizationArgs must be an object, got ${JSON.stringify(raw)}`);
  const a = raw as Record<string, unknown>;
  for (const k of Object.keys(a)) if (!ARGS_FIELDS.includes(k)) throw new Error(`${where}: Extra inputs are not permitted (${k})`);
  const groupSize = (a.group_size ?? null) as number | null;
  let strategy = (a.strategy ?? null) as string | null;
  if (strategy === null) strategy = groupSize === null ? 'tensor' : groupSize > 0 ? 'group' : groupSize === -1 ? 'channel' : 'invalid';
  const dynamic = a.dynamic ?? false;
  if (strategy === 'token' && !dynamic) throw new Error(`${where}: Cannot perform static token quantization, please use \`dynamic=True\``);
  if ((strategy === 'group' || strategy === 'tensor_group') && !(groupSize !== null && groupSize > 0)) throw new Error(`${where}: strategy ${strategy} requires group_size`);
  if (groupSize !== null && groupSize > 0 && strategy !== 'group' && strategy !== 'tensor_group') throw new Error(`${where}: group_size requires strategy to be set to 'group'`);
  if (dynamic === true && !['token', 'tensor', 'tensor_group', 'group'].includes(strategy)) throw new Error(`${where}: dynamic needs token/tensor/group strategy`);
  return { ...a, num_bits: (a.num_bits ?? 8) as number, type: String(a.type ?? 'int').toLowerCase(), symmetric: (a.symmetric ?? true) as boolean, strategy, group_size: groupSize, dynamic };
}

const ACTIVATION_FORMATS = ['naive-quantized', 'int-quantized', 'float-quantized', 'nvfp4-pack-quantized', 'mxfp4-pack-quantized'];
const WNA16_SUPPORTED_BITS = [4, 8];

/** `_is_equal_or_regex_match`: `re:` is Python's re.match (anchored at the start); else equality, or containment for class names. */
function isMatch(value: string, target: string, checkContains = false): boolean {
  if (target.startsWith('re:')) return new RegExp(`^(?:${target.slice(3)})`).test(value);
  if (checkContains) return value.toLowerCase().includes(target.toLowerCase());
  return target === value;
}

export interface VllmSchemeResult {
  scheme: 'CompressedTensorsWNA16' | 'CompressedTensorsW8A8Int8' | 'UnquantizedLinearMethod';
  weights?: Args;
  input?: Args | null;
}

/**
 * The scheme vLLM would give Linear layer `layerName` (a vLLM module of class `moduleClass`) under
 * `config` (a quantization_config), throwing where vLLM raises; with `tensors` (the checkpoint's),
 * also checks that each tensor the scheme allocates exists with the dtype and shape loading needs.
 */
export function vllmScheme(config: Record<string, unknown>, layerName: string, tensors?: Record<string, Tensor>, moduleClass = 'ColumnParallelLinear'): VllmSchemeResult {
  const quantFormat = config.format as string;
  const ignore = (config.ignore ?? []) as string[];
  const targetSchemeMap = new Map<string, { weights: Args; input: Args | null; format: string | null }>();
  for (const [id, g] of Object.entries(config.config_groups as Record<string, Record<string, unknown>>)) {
    const targets = g.targets as string[];
    if (targets.length === 1 && targets[0].endsWith('Attention')) continue;
    for (const target of targets) {
      const weights = quantizationArgs(g.weights, `${id}.weights`);
      const format = (g.format ?? null) as string | null;
      const actQuantFormat = ACTIVATION_FORMATS.includes(format ?? quantFormat);
      let input: Args | null = null;
      if (actQuantFormat || g.input_activations) {
        // "The only case where we have activation quant supported but no input_activations ... should be w8a16fp8"
        if (!g.input_activations) {
          if (weights.type !== 'float') throw new Error(`AssertionError: ${id}: format ${format ?? quantFormat} with no input_activations needs float weights`);
        } else input = quantizationArgs(g.input_activations, `${id}.input_activations`);
      }
      targetSchemeMap.set(target, { weights, input, format });
    }
  }
  if (ignore.some((t) => isMatch(layerName, t))) return { scheme: 'UnquantizedLinearMethod' };
  const keys = [...targetSchemeMap.keys()];
  const matched = keys.find((t) => isMatch(layerName, t)) ?? keys.find((t) => isMatch(moduleClass, t, true));
  if (matched === undefined) throw new Error(`KeyError: no config group targets ${layerName}`);
  const { weights, input } = targetSchemeMap.get(matched) as { weights: Args; input: Args | null; format: string | null };
  const format = targetSchemeMap.get(matched)?.format ?? quantFormat;
  let scheme: VllmSchemeResult['scheme'] | null = null;
  const isWNA16GroupChannel = (weights.strategy === 'channel' || weights.strategy === 'group') && input === null && !weights.dynamic;
  if (isWNA16GroupChannel && format === 'pack-quantized' && WNA16_SUPPORTED_BITS.includes(weights.num_bits)) scheme = 'CompressedTensorsWNA16';
  else if (ACTIVATION_FORMATS.includes(format) && input !== null) {
    const eightBits = weights.num_bits === 8 && input.num_bits === 8;
    const weightStrategy = weights.strategy === 'tensor' || weights.strategy === 'channel';
    const staticTensor = eightBits && weightStrategy && input.strategy === 'tensor' && weights.symmetric && !weights.dynamic && !input.dynamic;
    const dynamicToken = eightBits && weightStrategy && input.strategy === 'token' && weights.symmetric && !weights.dynamic && Boolean(input.dynamic);
    if (weights.type === 'int' && input.type === 'int' && (staticTensor || dynamicToken)) scheme = 'CompressedTensorsW8A8Int8';
  }
  if (scheme === null) throw new Error('NotImplementedError: No compressed-tensors compatible scheme was found.');
  if (tensors !== undefined) checkTensors(scheme, layerName, weights, input, tensors);
  return { scheme, weights, input };
}

function expectTensor(tensors: Record<string, Tensor>, name: string, dtypes: string[], shape: readonly number[]): void {
  const t = tensors[name];
  if (t === undefined) throw new Error(`${name}: missing (the scheme's create_weights allocates it)`);
  if (!dtypes.includes(t.dtype)) throw new Error(`${name}: dtype ${t.dtype}, vLLM loads ${dtypes.join(' or ')}`);
  if (t.shape.join(',') !== shape.join(',')) throw new Error(`${name}: shape [${t.shape}], vLLM allocates [${shape}]`);
}

/** The parameters create_weights registers, which the weight loader fills by name (shape must match; float dtypes are cast). */
function checkTensors(scheme: VllmSchemeResult['scheme'], layer: string, weights: Args, input: Args | null, tensors: Record<string, Tensor>): void {
  const FLOAT = ['float32', 'float16', 'bfloat16'];
  if (scheme === 'CompressedTensorsWNA16') {
    const shape = tensors[`${layer}.weight_shape`];
    expectTensor(tensors, `${layer}.weight_shape`, ['int64', 'int32'], [2]);
    const [out, inF] = Array.from(shape.data as ArrayLike<number | bigint>, Number);
    const packFactor = 32 / weights.num_bits;
    // torch.empty(out, input_size_per_partition // pack_factor): a padded last word does not fit.
    if (inF % packFactor !== 0) throw new Error(`${layer}.weight_packed: in_features ${inF} is not a multiple of the pack factor ${packFactor}; vLLM allocates (${out}, ${Math.floor(inF / packFactor)})`);
    expectTensor(tensors, `${layer}.weight_packed`, ['int32'], [out, inF / packFactor]);
    const groupSize = weights.group_size === null || weights.group_size === -1 ? inF : weights.group_size;
    expectTensor(tensors, `${layer}.weight_scale`, FLOAT, [out, inF / groupSize]);
    return;
  }
  const w = tensors[`${layer}.weight`];
  if (w === undefined) throw new Error(`${layer}.weight: missing (CompressedTensorsW8A8Int8 loads an int8 weight)`);
  expectTensor(tensors, `${layer}.weight`, ['int8'], w.shape);
  const out = w.shape[0];
  expectTensor(tensors, `${layer}.weight_scale`, FLOAT, weights.strategy === 'channel' ? [out, 1] : [1]);
  if (input !== null && !input.dynamic) expectTensor(tensors, `${layer}.input_scale`, FLOAT, [1]);
}
