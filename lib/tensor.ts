/**
 * Tensor: a typed handle on a libtorch tensor living in the native addon.
 * Ownership: each Tensor owns one native handle. dispose() frees it at once,
 * tidy(fn) frees what fn created except what it returns, and the GC frees the
 * rest (a safety net only: V8 cannot see GPU memory). Methods run on the JS
 * thread; data() and matmulAsync() run on a worker thread and return Promises.
 */
import type { DType, NativeArray, NativeScalar, NativeTensor } from '../binding.js';
import { native } from './binding.js';
import { invalidRange, invalidType, TorchError } from './errors.js';

export type { DType } from '../binding.js';
/** `cpu`, `cuda` or `cuda:N`. */
export type Device = 'cpu' | 'cuda' | `cuda:${number}`;
export type TensorLike = Tensor | number | boolean;
export type NestedArray = number | boolean | NestedArray[];

const DTYPES: ReadonlySet<string> = new Set(['float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool']);

// tidy() scopes: each holds the tensors created while it is innermost.
const scopes: Set<Tensor>[] = [];

// The GC safety net: a Tensor dropped without dispose() frees its native slot
// when V8 collects it. dispose() unregisters, so a freed handle is never
// released twice (its slot may hold another tensor by then).
// Registering and unregistering cost ~0.15 µs, as much as a small op, and most
// tensors are disposed (tidy, using, dispose) in the tick that made them. So
// new small tensors wait in `young`, and only those still alive when the
// tick's microtasks run are registered. Big ones (>= 16 KB, flagged in the
// handle, see native/tensor.h) register at once, so a GC during a long
// synchronous loop already finds them.
// A throw from a finalizer would end the process: the handle is released or nothing.
const finalizer = new FinalizationRegistry<NativeTensor>((handle) => { try { native().dispose(handle); } catch { /* not a live handle */ } });
let young: Tensor[] = [];
const SLOT_SPAN = 2 ** 24;
const isBig = (handle: NativeTensor) => Math.floor(handle / SLOT_SPAN) % 2 === 1;
function registerYoung(): void {
  const batch = young;
  young = [];
  for (const t of batch) t._register();
}

function h(x: Tensor, name: string): NativeTensor {
  if (!(x instanceof Tensor)) invalidType('a Tensor', name, x);
  return x.handle;
}
// Scalars cross boxed as [x]: a bare number is a native handle.
function hs(x: TensorLike, name: string): NativeTensor | NativeScalar {
  if (typeof x === 'number') return [x];
  if (typeof x === 'boolean') return x;
  return h(x as Tensor, name);
}
function checkInt(x: unknown, name: string): number {
  if (!Number.isInteger(x)) invalidType('an integer', name, x);
  return x as number;
}
function checkShape(shape: unknown, name = 'shape'): number[] {
  if (!Array.isArray(shape)) invalidType('an array of non-negative integers', name, shape);
  for (const s of shape) if (!Number.isInteger(s) || s < 0) invalidType('an array of non-negative integers', name, shape);
  return shape;
}
function checkDtype(dtype: unknown): DType {
  if (typeof dtype !== 'string' || !DTYPES.has(dtype)) invalidRange(`one of ${[...DTYPES].join(', ')}`, 'dtype', dtype);
  return dtype as DType;
}
function checkDevice(device: unknown): Device {
  if (typeof device !== 'string' || !/^(cpu|cuda(:\d+)?)$/.test(device)) invalidRange("'cpu', 'cuda' or 'cuda:N'", 'device', device);
  return device as Device;
}

export class Tensor implements Disposable {
  #h: NativeTensor;  // 0 once disposed
  #registered = false;

  /** @internal Takes ownership of a native handle; users create tensors with the factories. */
  constructor(handle: NativeTensor) {
    // Handles come from the addon (see native/tensor.cc): integers with a slot and a generation.
    if (typeof handle !== 'number' || !Number.isSafeInteger(handle) || handle < SLOT_SPAN) {
      throw new TypeError(`Expected a native tensor handle (tensors are made by tensor(), zeros() and the ops, not by new Tensor) for handle but received ${String(handle).slice(0, 40)}`);
    }
    this.#h = handle;
    if (isBig(handle)) this._register();
    else if (young.push(this) === 1) queueMicrotask(registerYoung);
    scopes.at(-1)?.add(this);
  }

  /** @internal Hands a still-live tensor to the GC finalizer (see `young`). */
  _register(): void {
    if (this.#h === 0) return;
    finalizer.register(this, this.#h, this);
    this.#registered = true;
  }

  /** @internal The native handle; throws `ERR_DISPOSED` after dispose(). */
  get handle(): NativeTensor {
    if (this.#h === 0) throw new TorchError('Tensor was disposed', 'ERR_DISPOSED');
    return this.#h;
  }

  get shape(): number[] { return native().shape(this.handle); }
  get dtype(): DType { return native().dtype(this.handle); }
  get device(): Device { return native().device(this.handle) as Device; }
  get numel(): number { return native().numel(this.handle); }
  get ndim(): number { return this.shape.length; }
  get isDisposed(): boolean { return this.#h === 0 || native().isDisposed(this.#h); }

  /** Frees the native tensor now. Idempotent. */
  dispose(): void {
    if (this.#h === 0) return;
    if (this.#registered) finalizer.unregister(this);
    native().dispose(this.#h);
    this.#h = 0;
  }
  [Symbol.dispose](): void { this.dispose(); }

  /** The value of a one-element tensor (bigint for int64, boolean for bool). */
  item(): number | bigint | boolean { return native().item(this.handle); }
  /** A copy of the elements as the matching TypedArray (float16/bfloat16 widen to Float32Array). */
  toArray(): NativeArray { return native().toArray(this.handle); }
  /** Like toArray(), but copies on a worker thread (no event-loop stall for big or GPU tensors). */
  async data(): Promise<NativeArray> {
    const site = new Error();
    try { return await native().data(this.handle); } catch (e) { throw withSite(e, site); }
  }
  /** A copy on another device or with another dtype (`t.to('cuda')`, `t.to('float16')`). */
  to(target: Device | DType): Tensor {
    if (typeof target !== 'string') invalidType('a device or dtype string', 'target', target);
    if (DTYPES.has(target)) return new Tensor(native().to(this.handle, target));
    return new Tensor(native().to(this.handle, checkDevice(target)));
  }

  get requiresGrad(): boolean { return native().requiresGrad(this.handle); }
  set requiresGrad(v: boolean) {
    if (typeof v !== 'boolean') invalidType('a boolean', 'requiresGrad', v);
    native().setRequiresGrad(this.handle, v);
  }
  /** Marks this leaf as needing a gradient; returns this. */
  requiresGrad_(v = true): this { this.requiresGrad = v; return this; }
  /** The accumulated gradient, or null. Each read returns a new handle on the same storage. */
  get grad(): Tensor | null {
    const g = native().grad(this.handle);
    return g === null ? null : new Tensor(g);
  }
  /** Sets grad to None (PyTorch's zero_grad(set_to_none=True)). */
  zeroGrad(): void { native().zeroGrad(this.handle); }
  /** Backpropagates from this tensor (a scalar unless `gradient` is given). */
  backward(gradient?: Tensor, { retainGraph = false } = {}): void {
    native().backward(this.handle, gradient === undefined ? null : h(gradient, 'gradient'), retainGraph);
  }
  detach(): Tensor { return new Tensor(native().detach(this.handle)); }
  clone(): Tensor { return new Tensor(native().clone(this.handle)); }
  contiguous(): Tensor { return new Tensor(native().contiguous(this.handle)); }

  add(o: TensorLike): Tensor { return new Tensor(native().add(this.handle, hs(o, 'other'))); }
  sub(o: TensorLike): Tensor { return new Tensor(native().sub(this.handle, hs(o, 'other'))); }
  mul(o: TensorLike): Tensor { return new Tensor(native().mul(this.handle, hs(o, 'other'))); }
  div(o: TensorLike): Tensor { return new Tensor(native().div(this.handle, hs(o, 'other'))); }
  pow(o: TensorLike): Tensor { return new Tensor(native().pow(this.handle, hs(o, 'other'))); }
  maximum(o: TensorLike): Tensor { return new Tensor(native().maximum(this.handle, hs(o, 'other'))); }
  minimum(o: TensorLike): Tensor { return new Tensor(native().minimum(this.handle, hs(o, 'other'))); }
  eq(o: TensorLike): Tensor { return new Tensor(native().eq(this.handle, hs(o, 'other'))); }
  ne(o: TensorLike): Tensor { return new Tensor(native().ne(this.handle, hs(o, 'other'))); }
  lt(o: TensorLike): Tensor { return new Tensor(native().lt(this.handle, hs(o, 'other'))); }
  le(o: TensorLike): Tensor { return new Tensor(native().le(this.handle, hs(o, 'other'))); }
  gt(o: TensorLike): Tensor { return new Tensor(native().gt(this.handle, hs(o, 'other'))); }
  ge(o: TensorLike): Tensor { return new Tensor(native().ge(this.handle, hs(o, 'other'))); }
  neg(): Tensor { return new Tensor(native().neg(this.handle)); }
  exp(): Tensor { return new Tensor(native().exp(this.handle)); }
  log(): Tensor { return new Tensor(native().log(this.handle)); }
  sqrt(): Tensor { return new Tensor(native().sqrt(this.handle)); }
  abs(): Tensor { return new Tensor(native().abs(this.handle)); }
  tanh(): Tensor { return new Tensor(native().tanh(this.handle)); }
  sigmoid(): Tensor { return new Tensor(native().sigmoid(this.handle)); }
  relu(): Tensor { return new Tensor(native().relu(this.handle)); }
  /** GELU; `approximate: 'tanh'` is HF's gelu_new. @default 'none' (exact erf) */
  gelu(approximate: 'none' | 'tanh' = 'none'): Tensor { return new Tensor(native().gelu(this.handle, approximate)); }
  isnan(): Tensor { return new Tensor(native().isnan(this.handle)); }
  maskedFill(mask: Tensor, value: number): Tensor {
    if (typeof value !== 'number') invalidType('a number', 'value', value);
    return new Tensor(native().maskedFill(this.handle, h(mask, 'mask'), value));
  }

  matmul(o: Tensor): Tensor { return new Tensor(native().matmul(this.handle, h(o, 'other'))); }
  /** matmul on a worker thread, `repeat` times (benchmarks, event-loop tests). */
  async matmulAsync(o: Tensor, repeat = 1): Promise<Tensor> {
    const site = new Error();
    try { return new Tensor(await native().matmulAsync(this.handle, h(o, 'other'), checkInt(repeat, 'repeat'))); }
    catch (e) { throw withSite(e, site); }
  }
  bmm(o: Tensor): Tensor { return new Tensor(native().bmm(this.handle, h(o, 'other'))); }
  /** x W^T + b, as torch.nn.functional.linear. */
  linear(weight: Tensor, bias?: Tensor): Tensor {
    return new Tensor(native().linear(this.handle, h(weight, 'weight'), bias === undefined ? null : h(bias, 'bias')));
  }

  reshape(shape: number[]): Tensor { return new Tensor(native().reshape(this.handle, checkDims(shape, 'shape'))); }
  view(shape: number[]): Tensor { return new Tensor(native().view(this.handle, checkDims(shape, 'shape'))); }
  permute(dims: number[]): Tensor { return new Tensor(native().permute(this.handle, checkDims(dims, 'dims'))); }
  transpose(d0: number, d1: number): Tensor { return new Tensor(native().transpose(this.handle, checkInt(d0, 'dim0'), checkInt(d1, 'dim1'))); }
  /** Elements start..end (exclusive) with step along dim, as `t[:, start:end:step]`. */
  slice(dim: number, start = 0, end = Number.MAX_SAFE_INTEGER, step = 1): Tensor {
    return new Tensor(native().slice(this.handle, checkInt(dim, 'dim'), checkInt(start, 'start'), checkInt(end, 'end'), checkInt(step, 'step')));
  }
  indexSelect(dim: number, index: Tensor): Tensor { return new Tensor(native().indexSelect(this.handle, checkInt(dim, 'dim'), h(index, 'index'))); }
  gather(dim: number, index: Tensor): Tensor { return new Tensor(native().gather(this.handle, checkInt(dim, 'dim'), h(index, 'index'))); }

  sum(dim?: number | number[], keepdim = false): Tensor { return new Tensor(native().sum(this.handle, dim ?? null, keepdim)); }
  mean(dim?: number | number[], keepdim = false): Tensor { return new Tensor(native().mean(this.handle, dim ?? null, keepdim)); }
  /** The maximum over all elements, or the max values along dim. */
  max(dim?: number, keepdim = false): Tensor { return new Tensor(native().max(this.handle, dim, keepdim)); }
  argmax(dim?: number, keepdim = false): Tensor { return new Tensor(native().argmax(this.handle, dim, keepdim)); }
  softmax(dim: number): Tensor { return new Tensor(native().softmax(this.handle, checkInt(dim, 'dim'))); }
  logSoftmax(dim: number): Tensor { return new Tensor(native().logSoftmax(this.handle, checkInt(dim, 'dim'))); }
  /** LayerNorm over the trailing `normalizedShape` dims. @default eps 1e-5 */
  layerNorm(normalizedShape: number[], weight?: Tensor, bias?: Tensor, eps = 1e-5): Tensor {
    return new Tensor(native().layerNorm(this.handle, checkDims(normalizedShape, 'normalizedShape'),
      weight ? h(weight, 'weight') : null, bias ? h(bias, 'bias') : null, eps));
  }
  /** Dropout with probability p (identity when train is false). */
  dropout(p: number, train = true): Tensor {
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) invalidRange('a probability in [0, 1]', 'p', p);
    return new Tensor(native().dropout(this.handle, p, train));
  }

  toString(): string { return this.isDisposed ? 'Tensor(disposed)' : native().describe(this.#h); }
}

function checkDims(dims: unknown, name: string): number[] {
  if (!Array.isArray(dims) || !dims.every(Number.isInteger)) invalidType('an array of integers', name, dims);
  return dims as number[];
}

function withSite(e: unknown, site: Error): unknown {
  if (e instanceof Error && site.stack) e.stack = `${e.name}: ${e.message}${site.stack.slice(site.stack.indexOf('\n'))}`;
  return e;
}

export interface CreateOptions {
  /** @default 'float32' (int64 for arange with integer bounds) */
  dtype?: DType;
  /** @default 'cpu' */
  device?: Device;
}

const ARRAY_DTYPE: [Function, DType][] = [
  [Float32Array, 'float32'], [Float64Array, 'float64'], [BigInt64Array, 'int64'], [Int32Array, 'int32'],
  [Int16Array, 'int16'], [Int8Array, 'int8'], [Uint8Array, 'uint8'],
];

function flatten(data: NestedArray, shape: number[], out: (number | boolean)[], depth: number): void {
  if (Array.isArray(data)) {
    if (shape.length <= depth) shape.push(data.length);
    else if (shape[depth] !== data.length) invalidRange(`a rectangular nested array (length ${shape[depth]} at depth ${depth})`, 'data', data);
    for (const x of data) flatten(x, shape, out, depth + 1);
  } else {
    if (typeof data !== 'number' && typeof data !== 'boolean') invalidType('numbers or booleans', 'data', data);
    if (depth !== shape.length) invalidRange('a rectangular nested array', 'data', data);
    out.push(data);
  }
}

/**
 * Creates a tensor from a TypedArray (with `shape`) or a nested array (shape inferred).
 * The data is copied. A TypedArray's type gives the dtype unless `dtype` says otherwise.
 * @throws TypeError / RangeError naming the bad argument.
 * @example tensor([[1, 2], [3, 4]]); tensor(new Float32Array(6), { shape: [2, 3] })
 */
export function tensor(data: NestedArray | NativeArray, opts: CreateOptions & { shape?: number[] } = {}): Tensor {
  const device = opts.device === undefined ? undefined : checkDevice(opts.device);
  if (ArrayBuffer.isView(data)) {
    const shape = checkShape(opts.shape ?? [(data as NativeArray).length]);
    let dtype = opts.dtype === undefined ? ARRAY_DTYPE.find(([c]) => data instanceof c)?.[1] : checkDtype(opts.dtype);
    if (!dtype) invalidType('a Float32Array, Float64Array, BigInt64Array, Int32Array, Int16Array, Int8Array or Uint8Array', 'data', data);
    return new Tensor(native().fromArray(data as NativeArray, shape, dtype, device));
  }
  const shape: number[] = [];
  const flat: (number | boolean)[] = [];
  flatten(data, shape, flat, 0);
  const isBool = flat.length > 0 && typeof flat[0] === 'boolean';
  const dtype = opts.dtype === undefined ? (isBool ? 'bool' : 'float32') : checkDtype(opts.dtype);
  if (opts.shape) checkShape(opts.shape);
  const values = flat.map(Number);
  let arr: NativeArray;
  switch (dtype) {
    case 'float64': arr = Float64Array.from(values); break;
    case 'int64': arr = BigInt64Array.from(values.map((v) => BigInt(Math.trunc(v)))); break;
    case 'int32': arr = Int32Array.from(values); break;
    case 'int16': arr = Int16Array.from(values); break;
    case 'int8': arr = Int8Array.from(values); break;
    case 'uint8': case 'bool': arr = Uint8Array.from(values); break;
    default: arr = Float32Array.from(values);
  }
  return new Tensor(native().fromArray(arr, opts.shape ?? shape, dtype, device));
}

/** A tensor of zeros. @example zeros([2, 3], { dtype: 'int64' }) */
export function zeros(shape: number[], o: CreateOptions = {}): Tensor {
  return new Tensor(native().zeros(checkShape(shape), o.dtype && checkDtype(o.dtype), o.device && checkDevice(o.device)));
}
/** A tensor of ones. */
export function ones(shape: number[], o: CreateOptions = {}): Tensor {
  return new Tensor(native().ones(checkShape(shape), o.dtype && checkDtype(o.dtype), o.device && checkDevice(o.device)));
}
/** A tensor filled with `value`. */
export function full(shape: number[], value: number, o: CreateOptions = {}): Tensor {
  if (typeof value !== 'number') invalidType('a number', 'value', value);
  return new Tensor(native().full(checkShape(shape), value, o.dtype && checkDtype(o.dtype), o.device && checkDevice(o.device)));
}
/** start, start+step, ... below end. @default dtype int64 */
export function arange(start: number, end: number, step = 1, o: CreateOptions = {}): Tensor {
  for (const [v, n] of [[start, 'start'], [end, 'end'], [step, 'step']] as const) if (typeof v !== 'number' || !Number.isFinite(v)) invalidType('a finite number', n, v);
  if (step === 0) invalidRange('a non-zero number', 'step', step);
  return new Tensor(native().arange(start, end, step, o.dtype && checkDtype(o.dtype), o.device && checkDevice(o.device)));
}
export interface RandomOptions extends CreateOptions {
  /** Seed of a private generator for this call; without it the global generator (manualSeed) is used. */
  seed?: number;
}
/** Uniform [0, 1) samples. */
export function rand(shape: number[], o: RandomOptions = {}): Tensor {
  return new Tensor(native().rand(checkShape(shape), o.dtype && checkDtype(o.dtype), o.device && checkDevice(o.device), o.seed));
}
/** Standard normal samples. @example randn([2, 2], { seed: 42 }) */
export function randn(shape: number[], o: RandomOptions = {}): Tensor {
  return new Tensor(native().randn(checkShape(shape), o.dtype && checkDtype(o.dtype), o.device && checkDevice(o.device), o.seed));
}
/** Seeds libtorch's global generators (torch.manual_seed). */
export function manualSeed(seed: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0) invalidRange('a non-negative safe integer', 'seed', seed);
  native().manualSeed(seed);
}

/** Concatenates along an existing dim. */
export function cat(tensors: Tensor[], dim = 0): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0) invalidType('a non-empty array of Tensors', 'tensors', tensors);
  return new Tensor(native().cat(tensors.map((t, i) => h(t, `tensors[${i}]`)), checkInt(dim, 'dim')));
}
/** Stacks along a new dim. */
export function stack(tensors: Tensor[], dim = 0): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0) invalidType('a non-empty array of Tensors', 'tensors', tensors);
  return new Tensor(native().stack(tensors.map((t, i) => h(t, `tensors[${i}]`)), checkInt(dim, 'dim')));
}
/** Elementwise `condition ? a : b`. */
export function where(condition: Tensor, a: TensorLike, b: TensorLike): Tensor {
  return new Tensor(native().where(h(condition, 'condition'), hs(a, 'input'), hs(b, 'other')));
}
/** Rows of `weight` picked by integer `indices` (torch.nn.functional.embedding). */
export function embedding(indices: Tensor, weight: Tensor, paddingIdx = -1): Tensor {
  return new Tensor(native().embedding(h(indices, 'indices'), h(weight, 'weight'), checkInt(paddingIdx, 'paddingIdx')));
}
export interface CrossEntropyOptions {
  /** Targets equal to this are skipped. @default -100 */
  ignoreIndex?: number;
  /** @default 'mean' */
  reduction?: 'mean' | 'sum' | 'none';
}
/** Cross-entropy of logits (N, C) against class indices (N), as F.cross_entropy. */
export function crossEntropy(logits: Tensor, target: Tensor, o: CrossEntropyOptions = {}): Tensor {
  const reduction = o.reduction ?? 'mean';
  if (!['mean', 'sum', 'none'].includes(reduction)) invalidRange("'mean', 'sum' or 'none'", 'reduction', reduction);
  return new Tensor(native().crossEntropy(h(logits, 'logits'), h(target, 'target'), checkInt(o.ignoreIndex ?? -100, 'ignoreIndex'), reduction));
}

/** Runs fn with gradient tracking off (torch.no_grad()); restores the previous mode. */
export function noGrad<T>(fn: () => T): T {
  const prev = native().setGradEnabled(false);
  try {
    const r = fn();
    if (r instanceof Promise) {
      r.catch(() => {}); // as in tidy(): the TypeError is the answer, an unobserved rejection would end the process
      throw new TypeError('noGrad(fn) takes a synchronous fn: grad mode is per thread and async work runs elsewhere');
    }
    return r;
  } finally {
    native().setGradEnabled(prev);
  }
}

function collect(value: unknown, keep: Set<Tensor>, depth = 0): void {
  if (depth > 8 || value === null || typeof value !== 'object') return;
  if (value instanceof Tensor) { keep.add(value); return; }
  for (const v of Array.isArray(value) ? value : Object.values(value)) collect(v, keep, depth + 1);
}

/**
 * Runs fn and disposes every Tensor created inside it except those in its
 * return value (a Tensor, or arrays / plain objects holding Tensors).
 * @example const y = tidy(() => x.mul(2).add(1)); // the intermediate is freed
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } finally {
    scopes.pop();
  }
  if (result instanceof Promise) {
    // The TypeError is the answer; the promise's own rejection, unobserved, would end the process.
    result.catch(() => {});
    throw new TypeError('tidy(fn) takes a synchronous fn');
  }
  const keep = new Set<Tensor>();
  collect(result, keep);
  for (const t of scope) if (!keep.has(t)) t.dispose();
  // Returned tensors now belong to the enclosing scope, if any.
  for (const t of keep) if (scope.has(t)) scopes.at(-1)?.add(t);
  return result;
}

/** Native tensors currently alive (for leak checks, like tfjs's numTensors). */
export function liveTensors(): number {
  return native().liveTensors();
}
