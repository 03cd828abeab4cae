import { FormatError, ShapeError, brandedInstanceCheck, describeValue } from '../errors.js';
import type { Backend } from '../kernels/types.js';
import { Tensor } from '../tensor.js';

/** What `loadStateDict` found, as PyTorch's `_IncompatibleKeys`: keys the model has that the dict lacks, and the reverse. */
export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

/** Options of `Module.loadStateDict`: `strict` (default true, as PyTorch) makes missing or unexpected keys an error. */
export interface LoadStateDictOptions {
  strict?: boolean;
}

/** Float dtypes a float32 parameter accepts from a state dict, converted as PyTorch's `copy_` converts them. */
const FLOAT_SOURCES: ReadonlySet<string> = new Set(['float32', 'float16', 'bfloat16', 'float64']);

/** `torch.Size([3, 4])`: how PyTorch prints a shape in its load_state_dict messages. */
function torchSize(shape: readonly number[]): string {
  return `torch.Size([${shape.join(', ')}])`;
}

/** PyTorch's `_addindent`: indents every line but the first by `spaces`. */
function addIndent(text: string, spaces: number): string {
  const lines = text.split('\n');
  if (lines.length === 1) return text;
  const pad = ' '.repeat(spaces);
  return [lines[0], ...lines.slice(1).map((line) => pad + line)].join('\n');
}

/** A value that holds modules but is not a module: an array (use ModuleList) or a Map / plain object (use ModuleDict). */
function misplacedModules(value: unknown): 'ModuleList' | 'ModuleDict' | null {
  if (Array.isArray(value)) return value.some((v) => v instanceof Module) ? 'ModuleList' : null;
  if (value instanceof Map) return [...value.values()].some((v) => v instanceof Module) ? 'ModuleDict' : null;
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.values(value).some((v) => v instanceof Module) ? 'ModuleDict' : null;
  }
  return null;
}

/**
 * Visits the tree below `root` in PyTorch's pre-order (a module, then each child in order), with the
 * dotted prefix of each module ('' for the root, 'layers.0.' below). With `dedupe`, a module reached
 * twice (shared) is visited once, as `named_modules()`; without, once per place, as `state_dict()`.
 * A module that is its own ancestor is a cycle: a FormatError (PyTorch recurses forever).
 */
function visit(root: Module, dedupe: boolean, fn: (prefix: string, module: Module) => void): void {
  const seen = new Set<Module>();
  const ancestors = new Set<Module>();
  const walk = (module: Module, prefix: string): void => {
    if (dedupe) {
      if (seen.has(module)) return;
      seen.add(module);
    }
    fn(prefix, module);
    ancestors.add(module);
    for (const [name, child] of module.namedChildren()) {
      if (ancestors.has(child)) {
        throw new FormatError(
          `Module tree: '${prefix}${name}' (${child.constructor.name}) is one of its own ancestors; a module tree ` +
            `cannot contain a cycle: assign a new module there instead`,
        );
      }
      walk(child, `${prefix}${name}.`);
    }
    ancestors.delete(module);
  };
  walk(root, '');
}

/**
 * The base class of every layer and model, as `torch.nn.Module`. A module's children are its own
 * enumerable properties whose values are modules, in assignment order (the order PyTorch's
 * `__setattr__` registers them in), so `this.fc1 = new Linear(64, 128)` in a constructor is all a
 * subclass writes. Its own state (parameters) is its own properties whose values are `Tensor`s, under
 * the property name; a layer whose stored names differ overrides `stateEntries` (QuantizedLinear's
 * `weight_scale`). State that must not be saved (rotary tables, caches) is kept in plain typed arrays.
 * An array of modules is an error (use `ModuleList`), as is a Map or plain object of them (`ModuleDict`).
 *
 * `forward` is each subclass's own method, with its own arguments.
 *
 * Shape: a container of layers; shapes are the layers' own.
 *
 * Example:
 *   class MLP extends Module {
 *     fc1 = new Linear(64, 128);
 *     act = new ReLU();
 *     fc2 = new Linear(128, 10);
 *     forward(x: Tensor) { return this.fc2.forward(this.act.forward(this.fc1.forward(x))); }
 *   }
 *   String(new MLP());   // 'MLP(\n  (fc1): Linear(in_features=64, out_features=128, bias=True)\n  (act): ReLU()\n  (fc2): ...\n)'
 *   Object.keys(new MLP().stateDict());   // ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']
 */
export class Module {
  /** `instanceof` also holds across the package's CommonJS and ES module builds (see `brandedInstanceCheck`). */
  static readonly [Symbol.hasInstance] = /* @__PURE__ */ brandedInstanceCheck(this, 'Module');

  /** The direct children, `[name, module]` in registration order. */
  namedChildren(): [string, Module][] {
    const children: [string, Module][] = [];
    for (const key of Object.keys(this)) {
      const value: unknown = (this as Record<string, unknown>)[key];
      if (value instanceof Module) {
        children.push([key, value]);
        continue;
      }
      const container = misplacedModules(value);
      if (container !== null) {
        throw new FormatError(
          `${this.constructor.name}.${key} holds modules in ${Array.isArray(value) ? 'an array' : 'a ' + (value instanceof Map ? 'Map' : 'plain object')}, ` +
            `which a module tree does not see (their weights would be missing from stateDict); use ${container}: ` +
            `this.${key} = new ${container}(${Array.isArray(value) ? '[...]' : '{...}'})`,
        );
      }
    }
    return children;
  }

  /** The direct children, in order. */
  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }

  /** Every module of the tree in pre-order with its dotted name ('' for this one); a shared module once. */
  namedModules(): [string, Module][] {
    const out: [string, Module][] = [];
    visit(this, true, (prefix, module) => out.push([prefix.slice(0, -1), module]));
    return out;
  }

  /**
   * The module under a dotted name ('' is this one), as PyTorch's `get_submodule`; a FormatError
   * naming the first segment that is not a child.
   *
   * Example:
   *   model.getSubmodule('model.layers.0.mlp');
   */
  getSubmodule(target: string): Module {
    let module: Module | null = null; // null: this module
    let path = '';
    for (const segment of target === '' ? [] : target.split('.')) {
      const parent: Module = module ?? this;
      const child = parent.namedChildren().find(([n]) => n === segment);
      if (child === undefined) {
        throw new FormatError(`${this.constructor.name}.getSubmodule('${target}'): ${parent.constructor.name}${path === '' ? '' : ` '${path}'`} has no child '${segment}'`);
      }
      module = child[1];
      path = path === '' ? segment : `${path}.${segment}`;
    }
    return module ?? this;
  }

  /** Every module of the tree (this one first), a shared module once. */
  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  /**
   * This module's own state, `[name, tensor]` in PyTorch's order (for Linear: weight, then bias); not
   * its children's. The tensors are shared, not copied. Subclasses whose stored names are not their
   * property names override it (and `loadStateEntries`).
   */
  protected stateEntries(): [string, Tensor][] {
    const entries: [string, Tensor][] = [];
    for (const key of Object.keys(this)) {
      const value: unknown = (this as Record<string, unknown>)[key];
      if (value instanceof Tensor) entries.push([key, value]);
    }
    return entries;
  }

  /**
   * Checks `state` (a subset of this module's own entries, dtypes and shapes already checked) before
   * anything in the tree is written; throws to refuse it. Default: nothing more to check.
   */
  protected checkStateEntries(state: Readonly<Record<string, Tensor>>): void {
    void state;
  }

  /** Copies `state` (a checked subset of this module's own entries) into the module's tensors. */
  protected loadStateEntries(state: Readonly<Record<string, Tensor>>): void {
    for (const [name, target] of this.stateEntries()) {
      if (Object.hasOwn(state, name)) target.data.set(state[name].data as never);
    }
  }

  /** Every parameter of the tree with its dotted name, in `stateDict` order; a shared tensor once. */
  namedParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    visit(this, true, (prefix, module) => {
      for (const [name, t] of module.stateEntries()) {
        if (!seen.has(t)) {
          seen.add(t);
          out.push([prefix + name, t]);
        }
      }
    });
    return out;
  }

  /** Every parameter of the tree, in `stateDict` order. */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /**
   * The whole tree's state under dotted keys in PyTorch's order (a module's own entries, then each
   * child's), sharing the tensors; a shared module appears under each of its names, as in PyTorch.
   */
  stateDict(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    visit(this, false, (prefix, module) => {
      for (const [name, t] of module.stateEntries()) out[prefix + name] = t;
    });
    return out;
  }

  /**
   * Copies a state dict into the tree, as PyTorch's `load_state_dict`. Every key is matched, every
   * dtype and shape checked and every layer's own check run before anything is written, so a refused
   * dict leaves the model unchanged. Float16 / bfloat16 / float64 tensors are converted into float32
   * parameters, as PyTorch's `copy_` converts them. Size mismatches are errors even when not strict
   * (as PyTorch); with `strict` (the default) missing and unexpected keys are too, in PyTorch's message:
   * `Error(s) in loading state_dict for MLP:\n\tMissing key(s) in state_dict: "fc1.bias". `.
   *
   * Shape: each tensor must have its parameter's shape.
   *
   * Example:
   *   const { missingKeys, unexpectedKeys } = model.loadStateDict(readSafetensors(bytes).tensors, { strict: false });
   */
  loadStateDict(state: Readonly<Record<string, Tensor>>, options: LoadStateDictOptions = {}): LoadStateDictResult {
    const who = this.constructor.name;
    if (typeof state !== 'object' || state === null || Array.isArray(state) || state instanceof Tensor) {
      const keys = Object.keys(this.stateDict());
      const shown = keys.length > 8 ? [...keys.slice(0, 8), '...'] : keys;
      throw new FormatError(`${who}.loadStateDict: expected an object of tensors { ${shown.join(', ')} }, got ${state instanceof Tensor ? String(state) : describeValue(state)}`);
    }
    const strict = options.strict ?? true;
    const missingKeys: string[] = [];
    const unexpectedKeys: string[] = [];
    const errors: string[] = [];
    let keyErrors = false;
    const plan: [Module, Record<string, Tensor>][] = [];
    const keys = Object.keys(state);
    visit(this, false, (prefix, module) => {
      const local = new Map(module.stateEntries());
      const slice: Record<string, Tensor> = {};
      for (const [name, target] of local) {
        const key = prefix + name;
        if (!Object.hasOwn(state, key)) {
          missingKeys.push(key);
          continue;
        }
        let given: unknown = state[key];
        if (!(given instanceof Tensor)) {
          errors.push(`While copying the parameter named "${key}", expected a Tensor, got ${describeValue(given)}.`);
          keyErrors = true;
          continue;
        }
        if (given.dtype !== target.dtype) {
          if (target.dtype === 'float32' && FLOAT_SOURCES.has(given.dtype)) {
            given = given.toFloat32();
          } else {
            errors.push(
              `dtype mismatch for ${key}: copying a param of dtype ${given.dtype} from checkpoint, the dtype in current model is ` +
                `${target.dtype} (a quantized checkpoint loads into QuantizedLinear layers: see quantize_ and loadQuantized).`,
            );
            keyErrors = true;
            continue;
          }
        }
        const g = given as Tensor;
        if (g.ndim !== target.ndim || g.shape.some((d, i) => d !== target.shape[i])) {
          errors.push(
            `size mismatch for ${key}: copying a param with shape ${torchSize(g.shape)} from checkpoint, ` +
              `the shape in current model is ${torchSize(target.shape)}.`,
          );
          continue;
        }
        slice[name] = g;
      }
      // PyTorch's rule: a key under this prefix is unexpected when its first segment is neither a
      // child nor one of this module's own entries (deeper keys are judged by that child).
      const childNames = new Set(module.namedChildren().map(([n]) => n));
      for (const key of keys) {
        if (!key.startsWith(prefix)) continue;
        const first = key.slice(prefix.length).split('.', 1)[0];
        if (!childNames.has(first) && !local.has(first)) unexpectedKeys.push(key);
      }
      plan.push([module, slice]);
    });
    if (strict) {
      if (unexpectedKeys.length > 0) errors.unshift(`Unexpected key(s) in state_dict: ${unexpectedKeys.map((k) => `"${k}"`).join(', ')}. `);
      if (missingKeys.length > 0) errors.unshift(`Missing key(s) in state_dict: ${missingKeys.map((k) => `"${k}"`).join(', ')}. `);
    }
    if (errors.length > 0) {
      const message = `Error(s) in loading state_dict for ${who}:\n\t${errors.join('\n\t')}`;
      const onlySizes = !keyErrors && !(strict && (missingKeys.length > 0 || unexpectedKeys.length > 0));
      throw onlySizes ? new ShapeError(message) : new FormatError(message);
    }
    for (const [module, slice] of plan) module.checkStateEntries(slice);
    for (const [module, slice] of plan) module.loadStateEntries(slice);
    return { missingKeys, unexpectedKeys };
  }

  /**
   * Registers (or replaces, keeping its place) the child `name`, as PyTorch's `register_module`;
   * `quantize_` swaps layers with it.
   *
   * Example:
   *   model.registerModule('fc1', QuantizedLinear.fromLinear(model.fc1 as Linear));
   */
  registerModule(name: string, module: Module): this {
    if (!(module instanceof Module)) {
      throw new FormatError(`${this.constructor.name}.registerModule('${name}'): expected a Module, got ${describeValue(module)}`);
    }
    (this as Record<string, unknown>)[name] = module;
    return this;
  }

  /**
   * Runs every layer of the tree on `backend` (QuantizedLinear layers move their int8 weights; float
   * layers have nothing to move); returns this module, as PyTorch's `.to(device)`.
   *
   * Example:
   *   quantize_(model).to((await availableBackends())[0]);
   */
  to(backend: Backend): this {
    for (const child of this.children()) child.to(backend);
    return this;
  }

  /** Calls `fn` on every child's subtree, then on this module (PyTorch's order); returns this. */
  apply(fn: (module: Module) => void): this {
    for (const child of this.children()) child.apply(fn);
    fn(this);
    return this;
  }

  /** The layer's own description inside its parentheses ('' by default), as PyTorch's `extra_repr`. */
  extraRepr(): string {
    return '';
  }

  /** The tree exactly as PyTorch's `print(model)` shows it. */
  toString(): string {
    const extra = this.extraRepr();
    const extraLines = extra === '' ? [] : extra.split('\n');
    const childLines = this.namedChildren().map(([name, child]) => `(${name}): ${addIndent(child.toString(), 2)}`);
    const lines = [...extraLines, ...childLines];
    let main = `${this.constructor.name}(`;
    if (lines.length > 0) {
      main += extraLines.length === 1 && childLines.length === 0 ? extraLines[0] : `\n  ${lines.join('\n  ')}\n`;
    }
    return `${main})`;
  }
}

/**
 * What the containers share: children kept in a Map under string names in insertion order (an
 * object's integer-like keys would be reordered by JavaScript; PyTorch keeps insertion order).
 */
abstract class Container extends Module {
  protected readonly items = new Map<string, Module>();

  override namedChildren(): [string, Module][] {
    return [...this.items];
  }

  override registerModule(name: string, module: Module): this {
    if (!(module instanceof Module)) {
      throw new FormatError(`${this.constructor.name}: expected a Module for '${name}', got ${describeValue(module)}`);
    }
    this.items.set(name, module);
    return this;
  }

  /** The number of children. */
  get length(): number {
    return this.items.size;
  }

  /** The child at index `i` (negative counts from the end), as `seq[i]`. */
  protected at(i: number): Module {
    const n = this.items.size;
    const j = Number.isInteger(i) && i < 0 ? i + n : i;
    if (!Number.isInteger(j) || j < 0 || j >= n) {
      throw new ShapeError(`${this.constructor.name}: index ${i} is out of range for ${n} module(s); expected an integer in [-${n}, ${n})`);
    }
    return [...this.items.values()][j];
  }
}

/** A module with a `forward(x)`: what `Sequential` chains. */
interface Forwardable {
  forward(x: unknown): unknown;
}

/**
 * `torch.nn.ModuleList`: a list of modules, children named '0', '1', ...; it has no forward of its own.
 *
 * Shape: the layers' own.
 *
 * Example:
 *   this.layers = new ModuleList([new Block(), new Block()]);
 *   for (const layer of this.layers) x = (layer as Block).forward(x);
 *   Object.keys(model.stateDict())[0];   // 'layers.0.weight'
 */
export class ModuleList<M extends Module = Module> extends Container implements Iterable<M> {
  /** `instanceof` also holds across the package's CommonJS and ES module builds (see `brandedInstanceCheck`). */
  static override readonly [Symbol.hasInstance] = /* @__PURE__ */ brandedInstanceCheck(this, 'ModuleList');

  constructor(modules: Iterable<M> = []) {
    super();
    for (const m of modules) this.append(m);
  }

  /** Adds `module` at the end (named by its index); returns this. */
  append(module: M): this {
    return this.registerModule(String(this.items.size), module);
  }

  /** The module at `i` (negative counts from the end). */
  get(i: number): M {
    return this.at(i) as M;
  }

  [Symbol.iterator](): Iterator<M> {
    return (this.items.values() as Iterable<M>)[Symbol.iterator]();
  }
}

/**
 * `torch.nn.Sequential`: children named '0', '1', ...; `forward` feeds each one's output to the next.
 *
 * Shape: input of the first layer -> output of the last.
 *
 * Example:
 *   const mlp = new Sequential(new Linear(64, 128), new ReLU(), new Linear(128, 10));
 *   mlp.forward(Tensor.zeros([1, 64])).shape;   // [1, 10]
 *   String(mlp);   // 'Sequential(\n  (0): Linear(in_features=64, out_features=128, bias=True)\n  (1): ReLU()\n  ...'
 */
export class Sequential extends Container implements Iterable<Module> {
  /** `instanceof` also holds across the package's CommonJS and ES module builds (see `brandedInstanceCheck`). */
  static override readonly [Symbol.hasInstance] = /* @__PURE__ */ brandedInstanceCheck(this, 'Sequential');

  constructor(...modules: Module[]) {
    super();
    for (const m of modules) this.registerModule(String(this.items.size), m);
  }

  /** The module at `i` (negative counts from the end). */
  get(i: number): Module {
    return this.at(i);
  }

  /** Each child's `forward` in order, the output of one the input of the next. */
  forward<T = Tensor>(x: unknown): T {
    let h = x;
    for (const m of this.items.values()) h = (m as unknown as Forwardable).forward(h);
    return h as T;
  }

  [Symbol.iterator](): Iterator<Module> {
    return this.items.values();
  }
}

/**
 * `torch.nn.ModuleDict`: modules under string keys, in insertion order (pass `[key, module]` pairs to
 * keep integer-like keys in order: a plain object lists those first). No forward of its own.
 *
 * Shape: the layers' own.
 *
 * Example:
 *   this.heads = new ModuleDict({ cls: new Linear(256, 10), box: new Linear(256, 4) });
 *   this.heads.get('cls').forward(h);
 */
export class ModuleDict<M extends Module = Module> extends Container implements Iterable<[string, M]> {
  /** `instanceof` also holds across the package's CommonJS and ES module builds (see `brandedInstanceCheck`). */
  static override readonly [Symbol.hasInstance] = /* @__PURE__ */ brandedInstanceCheck(this, 'ModuleDict');

  constructor(modules: Readonly<Record<string, M>> | Iterable<readonly [string, M]> = []) {
    super();
    const entries = Symbol.iterator in Object(modules) ? (modules as Iterable<readonly [string, M]>) : Object.entries(modules);
    for (const [k, m] of entries) this.set(k, m);
  }

  /** The module under `key`; a ShapeError naming the keys if there is none. */
  get(key: string): M {
    const m = this.items.get(key);
    if (m === undefined) {
      throw new ShapeError(`${this.constructor.name}: no module under '${key}'; the keys are ${[...this.items.keys()].map((k) => `'${k}'`).join(', ')}`);
    }
    return m as M;
  }

  /** Adds or replaces (keeping its place) the module under `key`; returns this. */
  set(key: string, module: M): this {
    return this.registerModule(key, module);
  }

  has(key: string): boolean {
    return this.items.has(key);
  }

  keys(): string[] {
    return [...this.items.keys()];
  }

  [Symbol.iterator](): Iterator<[string, M]> {
    return (this.items as Map<string, M>)[Symbol.iterator]();
  }
}
