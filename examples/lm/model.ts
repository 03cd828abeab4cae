/**
 * The small Llama-style decoder of examples/lm (llama.py is the same model in PyTorch), written with
 * int8-linear's module API: RMSNorm, rotary embeddings (Hugging Face's rotate_half convention),
 * SwiGLU MLP, byte vocabulary. Property names are Hugging Face's (`q_proj`, `input_layernorm`), so
 * `stateDict()` keys are the checkpoint's names. The attention and rotary math is the model's own
 * glue, in plain typed-array loops, as the library is not a tensor framework.
 *
 * Shape: ids (T,) -> logits (T, vocab_size); with a `KVCache`, T new tokens after `cache.length` old ones.
 */
import type { QuantizedLinear} from 'int8-linear';
import { Embedding, Linear, Module, ModuleList, RMSNorm, SiLU, Tensor } from 'int8-linear';

/** The checkpoint's `config` metadata (Hugging Face LlamaConfig field names). */
export interface LlamaConfig {
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  max_position_embeddings: number;
  rms_norm_eps: number;
  rope_theta: number;
}

/** A Linear layer before or after `quantize_` / `loadCheckpoint`. */
type AnyLinear = Linear | QuantizedLinear;

/** Keys and values of every layer for the positions seen so far (batch 1), for incremental decoding. */
export class KVCache {
  length = 0;
  readonly k: Float32Array[];
  readonly v: Float32Array[];
  constructor(config: LlamaConfig) {
    const size = config.max_position_embeddings * config.hidden_size;
    this.k = Array.from({ length: config.num_hidden_layers }, () => new Float32Array(size));
    this.v = Array.from({ length: config.num_hidden_layers }, () => new Float32Array(size));
  }
}

/** cos/sin tables (positions x head_dim), the two halves repeated, as llama.py's rope_tables (float32). */
function ropeTables(config: LlamaConfig): { cos: Float32Array; sin: Float32Array } {
  const hd = config.hidden_size / config.num_attention_heads;
  const half = hd / 2;
  const cos = new Float32Array(config.max_position_embeddings * hd);
  const sin = new Float32Array(cos.length);
  for (let p = 0; p < config.max_position_embeddings; p++) {
    for (let i = 0; i < half; i++) {
      // float32 like torch: inv = 1 / theta^(2i/hd), freq = p * inv, then cos/sin of the float32 freq
      const inv = Math.fround(1 / Math.fround(config.rope_theta ** Math.fround((2 * i) / hd)));
      const f = Math.fround(p * inv);
      cos[p * hd + i] = cos[p * hd + i + half] = Math.cos(f);
      sin[p * hd + i] = sin[p * hd + i + half] = Math.sin(f);
    }
  }
  return { cos, sin };
}

/** Applies rotary embeddings in place to rows [0, t) of x (t x d, heads of hd) at positions start + r. */
function rotate(x: Float32Array, t: number, d: number, hd: number, start: number, cos: Float32Array, sin: Float32Array): void {
  const half = hd / 2;
  for (let r = 0; r < t; r++) {
    const p = (start + r) * hd;
    for (let h = 0; h < d; h += hd) {
      const o = r * d + h;
      for (let i = 0; i < half; i++) {
        const a = x[o + i];
        const b = x[o + i + half];
        // x * cos + rotate_half(x) * sin, rotate_half(x) = [-x2, x1]
        x[o + i] = a * cos[p + i] - b * sin[p + i];
        x[o + i + half] = b * cos[p + i + half] + a * sin[p + i + half];
      }
    }
  }
}

class LlamaAttention extends Module {
  q_proj: AnyLinear;
  k_proj: AnyLinear;
  v_proj: AnyLinear;
  o_proj: AnyLinear;
  constructor(private readonly config: LlamaConfig) {
    super();
    const d = config.hidden_size;
    this.q_proj = new Linear(d, d, { bias: false, init: false });
    this.k_proj = new Linear(d, d, { bias: false, init: false });
    this.v_proj = new Linear(d, d, { bias: false, init: false });
    this.o_proj = new Linear(d, d, { bias: false, init: false });
  }

  forward(x: Tensor<'float32'>, layer: number, cache: KVCache, rope: { cos: Float32Array; sin: Float32Array }): Tensor<'float32'> {
    const [t, d] = x.shape;
    const heads = this.config.num_attention_heads;
    const hd = d / heads;
    const start = cache.length;
    const q = this.q_proj.forward(x).data;
    const k = this.k_proj.forward(x).data;
    rotate(q, t, d, hd, start, rope.cos, rope.sin);
    rotate(k, t, d, hd, start, rope.cos, rope.sin);
    const K = cache.k[layer];
    const V = cache.v[layer];
    K.set(k, start * d);
    V.set(this.v_proj.forward(x).data, start * d);
    const out = new Float32Array(t * d);
    const scores = new Float64Array(start + t);
    const scale = 1 / Math.sqrt(hd);
    for (let r = 0; r < t; r++) {
      const n = start + r + 1; // causal: positions 0..start+r
      for (let h = 0; h < d; h += hd) {
        let max = -Infinity;
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let i = 0; i < hd; i++) s += q[r * d + h + i] * K[j * d + h + i];
          scores[j] = s * scale;
          if (scores[j] > max) max = scores[j];
        }
        let sum = 0;
        for (let j = 0; j < n; j++) sum += scores[j] = Math.exp(scores[j] - max);
        for (let i = 0; i < hd; i++) {
          let acc = 0;
          for (let j = 0; j < n; j++) acc += scores[j] * V[j * d + h + i];
          out[r * d + h + i] = acc / sum;
        }
      }
    }
    return this.o_proj.forward(new Tensor(out, [t, d], 'float32'));
  }
}

class LlamaMLP extends Module {
  gate_proj: AnyLinear;
  up_proj: AnyLinear;
  down_proj: AnyLinear;
  act_fn = new SiLU();
  constructor(config: LlamaConfig) {
    super();
    const { hidden_size: d, intermediate_size: f } = config;
    this.gate_proj = new Linear(d, f, { bias: false, init: false });
    this.up_proj = new Linear(d, f, { bias: false, init: false });
    this.down_proj = new Linear(f, d, { bias: false, init: false });
  }

  forward(x: Tensor<'float32'>): Tensor<'float32'> {
    const gate = this.act_fn.forward(this.gate_proj.forward(x));
    const up = this.up_proj.forward(x);
    for (let i = 0; i < gate.size; i++) gate.data[i] *= up.data[i];
    return this.down_proj.forward(gate);
  }
}

class LlamaDecoderLayer extends Module {
  self_attn: LlamaAttention;
  mlp: LlamaMLP;
  input_layernorm: RMSNorm;
  post_attention_layernorm: RMSNorm;
  constructor(config: LlamaConfig) {
    super();
    this.self_attn = new LlamaAttention(config);
    this.mlp = new LlamaMLP(config);
    this.input_layernorm = new RMSNorm(config.hidden_size, { eps: config.rms_norm_eps });
    this.post_attention_layernorm = new RMSNorm(config.hidden_size, { eps: config.rms_norm_eps });
  }
}

class LlamaModel extends Module {
  embed_tokens: Embedding;
  layers: ModuleList<LlamaDecoderLayer>;
  norm: RMSNorm;
  constructor(config: LlamaConfig) {
    super();
    this.embed_tokens = new Embedding(config.vocab_size, config.hidden_size, { init: false });
    this.layers = new ModuleList(Array.from({ length: config.num_hidden_layers }, () => new LlamaDecoderLayer(config)));
    this.norm = new RMSNorm(config.hidden_size, { eps: config.rms_norm_eps });
  }
}

/**
 * Hugging Face's LlamaForCausalLM layout: `model` (embeddings, layers, final norm) and `lm_head`.
 *
 * Example:
 *   const lm = new LlamaForCausalLM(config);
 *   loadCheckpoint(lm, readFileSync('examples/lm/model.safetensors'));
 *   lm.forward([72, 105]).shape;   // [2, 256]
 */
export class LlamaForCausalLM extends Module {
  model: LlamaModel;
  lm_head: AnyLinear;
  private readonly rope: { cos: Float32Array; sin: Float32Array };
  constructor(readonly config: LlamaConfig) {
    super();
    this.model = new LlamaModel(config);
    this.lm_head = new Linear(config.hidden_size, config.vocab_size, { bias: false, init: false });
    this.rope = ropeTables(config);
  }

  /** Logits (T, vocab) of `ids` following the cache's positions (a fresh cache by default); the cache grows by T. */
  forward(ids: readonly number[], cache: KVCache = new KVCache(this.config)): Tensor<'float32'> {
    if (cache.length + ids.length > this.config.max_position_embeddings) {
      throw new RangeError(`LlamaForCausalLM: ${cache.length} + ${ids.length} positions exceed max_position_embeddings=${this.config.max_position_embeddings}`);
    }
    let x = this.model.embed_tokens.forward(ids);
    this.model.layers.namedChildren().forEach(([, m], i) => {
      const layer = m as LlamaDecoderLayer;
      const a = layer.self_attn.forward(layer.input_layernorm.forward(x), i, cache, this.rope);
      for (let j = 0; j < x.size; j++) x.data[j] += a.data[j];
      const f = layer.mlp.forward(layer.post_attention_layernorm.forward(x));
      for (let j = 0; j < x.size; j++) x.data[j] += f.data[j];
    });
    cache.length += ids.length;
    x = this.model.norm.forward(x);
    return this.lm_head.forward(x);
  }
}

/** Index of the largest value of row `r` of a (T, V) logits tensor (the first on ties, as torch.argmax). */
export function argmaxRow(logits: Tensor<'float32'>, r: number): number {
  const v = logits.shape[1];
  let best = 0;
  for (let i = 1; i < v; i++) if (logits.data[r * v + i] > logits.data[r * v + best]) best = i;
  return best;
}

/** Greedy decoding of `n` bytes after `prompt` with a KV cache; returns the new bytes. */
export function generate(lm: LlamaForCausalLM, prompt: readonly number[], n: number): number[] {
  const cache = new KVCache(lm.config);
  let logits = lm.forward(prompt, cache);
  const out: number[] = [];
  for (let i = 0; i < n && cache.length < lm.config.max_position_embeddings; i++) {
    const next = argmaxRow(logits, logits.shape[0] - 1);
    out.push(next);
    logits = lm.forward([next], cache);
  }
  return out;
}
