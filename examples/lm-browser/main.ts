/**
 * The browser page of examples/lm: fetches the int8 checkpoint (model-int8.safetensors, written by
 * build.ts with the CLI's quantize code), loads it into the module-API model with loadCheckpoint,
 * moves it to the fastest backend availableBackends() has here, and generates greedily, showing each
 * byte as it comes and the tokens per second.
 */
import { availableBackends, loadCheckpoint, readSafetensors } from 'int8-linear';
import { KVCache, LlamaForCausalLM, argmaxRow, type LlamaConfig } from '../lm/model.js';

const $ = (id: string): HTMLElement => document.getElementById(id) as HTMLElement;
const status = $('status');
const out = $('out');
const button = $('go') as HTMLButtonElement;

const bytes = new Uint8Array(await (await fetch('./model-int8.safetensors')).arrayBuffer());
const { metadata } = readSafetensors(bytes);
const config = JSON.parse(metadata?.config ?? '{}') as LlamaConfig;
const lm = new LlamaForCausalLM(config);
loadCheckpoint(lm, bytes);
const backend = (await availableBackends())[0];
lm.to(backend);
status.textContent = `ready: ${(bytes.length / 1e6).toFixed(2)} MB int8 checkpoint, backend ${backend.name} (${backend.mode})`;
button.disabled = false;

const nextFrame = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

button.addEventListener('click', async () => {
  button.disabled = true;
  const prompt = Array.from(new TextEncoder().encode(($('prompt') as HTMLTextAreaElement).value)).slice(-64);
  const decoder = new TextDecoder();
  out.innerHTML = '';
  out.append(decoder.decode(new Uint8Array(prompt)));
  const generated = document.createElement('b');
  out.append(generated);
  const cache = new KVCache(config);
  const t0 = performance.now();
  let logits = lm.forward(prompt, cache);
  let n = 0;
  const text = new TextDecoder();
  while (cache.length < config.max_position_embeddings) {
    const next = argmaxRow(logits, logits.shape[0] - 1);
    generated.textContent += text.decode(new Uint8Array([next]), { stream: true });
    n++;
    logits = lm.forward([next], cache);
    const seconds = (performance.now() - t0) / 1000;
    status.textContent = `${n} bytes, ${((n + prompt.length) / seconds).toFixed(0)} tokens/s (prompt included), ${backend.name}`;
    await nextFrame();
  }
  status.dataset.done = String(n);
  button.disabled = false;
});
