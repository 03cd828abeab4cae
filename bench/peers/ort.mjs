// onnxruntime peers for `npm run bench`: the ONNX graphs are built in code with onnx-proto, one per
// way onnxruntime can run this layer, each run single-threaded (intraOpNumThreads 1, numThreads 1).
// Lives in bench/peers (its own package) so its imports resolve to bench/peers/node_modules.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { onnx } = require('onnx-proto');

const T = onnx.TensorProto.DataType;

function tensor(name, dataType, dims, typed) {
  return onnx.TensorProto.create({
    name,
    dataType,
    dims,
    rawData: new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength),
  });
}

function valueInfo(name, elemType, dims) {
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType,
        shape: onnx.TensorShapeProto.create({ dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) }),
      }),
    }),
  });
}

function attr(name, value) {
  if (typeof value === 'number' && Number.isInteger(value)) return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i: value });
  if (typeof value === 'number') return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.FLOAT, f: value });
  throw new Error(`attr ${name}: unsupported ${value}`);
}

function node(opType, inputs, outputs, attrs = {}, domain = '') {
  return onnx.NodeProto.create({ opType, input: inputs, output: outputs, domain, attribute: Object.entries(attrs).map(([k, v]) => attr(k, v)) });
}

function model(nodes, initializers, k, n) {
  const graph = onnx.GraphProto.create({
    name: 'linear',
    node: nodes,
    initializer: initializers,
    input: [valueInfo('X', T.FLOAT, ['M', k])],
    output: [valueInfo('Y', T.FLOAT, ['M', n])],
  });
  const m = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'int8-linear-bench',
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 17 }), onnx.OperatorSetIdProto.create({ domain: 'com.microsoft', version: 1 })],
    graph,
  });
  return onnx.ModelProto.encode(m).finish();
}

function transpose(values, n, k, Ctor) {
  const t = new Ctor(n * k);
  for (let o = 0; o < n; o++) for (let i = 0; i < k; i++) t[i * n + o] = values[o * k + i];
  return t;
}

/**
 * The graphs, for a per-channel int8 weight `q` (n, k) with scales `scale` (n), float weight `w`
 * (its dequantization, n x k) and bias (n). Each entry: { name, kind, bytes } where kind says which
 * numbers it must reproduce ('float': W8A32 reference, 'w8a8': activation-quantized).
 */
export function buildGraphs({ q, scale, w, bias, n, k, group }) {
  const graphs = [];
  graphs.push({
    name: 'Gemm float32 (transB)',
    kind: 'float',
    weightBytes: 4 * n * k,
    bytes: model([node('Gemm', ['X', 'W', 'B'], ['Y'], { transB: 1 })], [tensor('W', T.FLOAT, [n, k], w), tensor('B', T.FLOAT, [n], bias)], k, n),
  });
  graphs.push({
    name: 'DequantizeLinear(axis 0) + Gemm',
    kind: 'float',
    weightBytes: n * k,
    bytes: model(
      [node('DequantizeLinear', ['Q', 'S', 'Z'], ['W'], { axis: 0 }), node('Gemm', ['X', 'W', 'B'], ['Y'], { transB: 1 })],
      [tensor('Q', T.INT8, [n, k], q), tensor('S', T.FLOAT, [n], scale), tensor('Z', T.INT8, [n], new Int8Array(n)), tensor('B', T.FLOAT, [n], bias)],
      k,
      n,
    ),
  });
  // MatMulNBits bits=8 on the per-group weights (its block_size must be 16..256): uint8 = q + 128
  // (the default zero point 2^(bits-1)), B laid out (n, k / block, block), scales (n · k / block).
  if (group) {
    const block = group.groupSize;
    const u8 = new Uint8Array(n * k);
    for (let i = 0; i < n * k; i++) u8[i] = group.q[i] + 128;
    for (const level of [0, 4]) {
      graphs.push({
        name: `MatMulNBits bits=8 group(${block}) accuracy_level=${level}`,
        kind: level === 0 ? 'float' : 'w8a8',
        grouped: true,
        weightBytes: n * k + (n * k * 4) / block,
        bytes: model(
          [node('MatMulNBits', ['X', 'Q', 'S'], ['XW'], { K: k, N: n, bits: 8, block_size: block, accuracy_level: level }, 'com.microsoft'), node('Add', ['XW', 'B'], ['Y'])],
          [tensor('Q', T.UINT8, [n, k / block, block], u8), tensor('S', T.FLOAT, [(n * k) / block], group.scale), tensor('B', T.FLOAT, [n], bias)],
          k,
          n,
        ),
      });
    }
  }
  // W8A8: DynamicQuantizeLinear (uint8, per tensor) + MatMulInteger with int8 (k, n) weights, then the
  // scales; ORT fuses this into DynamicQuantizeMatMul. Its AVX2 kernel multiplies u8 x s8 pairs into
  // saturating int16, so with 8-bit weights it overflows (about 20 % error); onnxruntime's own
  // quantizer uses reduce_range (7-bit weights, |q| <= 63) on such CPUs: both variants are timed.
  const w7 = new Int8Array(n * k);
  const scale7 = new Float32Array(n);
  for (let o = 0; o < n; o++) {
    let absmax = 0;
    for (let i = 0; i < k; i++) absmax = Math.max(absmax, Math.abs(w[o * k + i]));
    scale7[o] = Math.max(absmax / 63, 1.1920928955078125e-7);
    for (let i = 0; i < k; i++) w7[o * k + i] = Math.max(-63, Math.min(63, Math.round(w[o * k + i] / scale7[o])));
  }
  for (const [label, qq, ss] of [['8-bit weights', q, scale], ['7-bit weights, reduce_range', w7, scale7]]) {
    graphs.push({
      name: `DynamicQuantizeLinear+MatMulInteger W8A8 (${label})`,
      kind: 'w8a8',
      weightBytes: n * k,
      bytes: model(
        [
          node('DynamicQuantizeLinear', ['X'], ['XQ', 'XS', 'XZ']),
          node('MatMulInteger', ['XQ', 'QT', 'XZ'], ['ACC']),
          node('Cast', ['ACC'], ['ACCF'], { to: T.FLOAT }),
          node('Mul', ['XS', 'S'], ['XSS']),
          node('Mul', ['ACCF', 'XSS'], ['XW']),
          node('Add', ['XW', 'B'], ['Y']),
        ],
        [tensor('QT', T.INT8, [k, n], transpose(qq, n, k, Int8Array)), tensor('S', T.FLOAT, [n], ss), tensor('B', T.FLOAT, [n], bias)],
        k,
        n,
      ),
    });
  }
  return graphs;
}

/** Loads the runtimes that install here; each entry: { name, ort } or { name, error }. */
export async function loadRuntimes() {
  const out = [];
  try {
    out.push({ name: 'onnxruntime-node', ort: require('onnxruntime-node'), options: { executionProviders: ['cpu'] } });
  } catch (e) {
    out.push({ name: 'onnxruntime-node', error: String(e?.message ?? e).split('\n')[0] });
  }
  try {
    const ort = await import('onnxruntime-web');
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.simd = true;
    out.push({ name: 'onnxruntime-web', ort, options: { executionProviders: ['wasm'] } });
  } catch (e) {
    out.push({ name: 'onnxruntime-web', error: String(e?.message ?? e).split('\n')[0] });
  }
  return out;
}

/** A session for one graph: returns run(x: Float32Array, m) -> Float32Array, and release(). */
export async function createSession(runtime, bytes) {
  const { ort } = runtime;
  const session = await ort.InferenceSession.create(bytes, {
    ...runtime.options,
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  return {
    async run(x, m, k) {
      const result = await session.run({ X: new ort.Tensor('float32', x, [m, k]) });
      return result.Y.data;
    },
    release: () => session.release(),
  };
}

export function versions(runtimes) {
  return Object.fromEntries(runtimes.map((r) => [r.name, r.ort ? (r.ort.env?.versions?.node ?? r.ort.env?.versions?.web ?? r.ort.env?.versions?.common ?? 'loaded') : `missing: ${r.error}`]));
}
