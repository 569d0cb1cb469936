/**
 * Model weights as plain data: a Map from HF parameter name to a float32
 * tensor ({shape, data: Float32Array}). This is what travels between server
 * and clients and what every strategy works on, so aggregation, validation
 * and DP run (and are tested) without libtorch. fromModel / toModel are the
 * only functions here that touch native tensors; they copy and free at once.
 */
import { invalidType } from '../errors.js';
import type { PreTrainedBert } from '../models/bert.js';
import { tensor, type Tensor } from '../tensor.js';

/** One float32 tensor as plain data (row-major). */
export interface WeightTensor {
  shape: number[];
  data: Float32Array;
}

/** Parameters (or an update: their difference) by name. */
export type Weights = Map<string, WeightTensor>;

/**
 * A copy of the model's parameters.
 * @example const global = fromModel(model);
 */
export function fromModel(model: PreTrainedBert): Weights {
  const state = model.stateDict();
  const out: Weights = new Map();
  try {
    for (const [name, t] of state) {
      if (t.dtype !== 'float32') throw new TypeError(`federated training needs float32 parameters, but ${name} is ${t.dtype}`);
      const arr = (t.device === 'cpu' ? t.toArray() : withCpu(t, (c) => c.toArray())) as Float32Array;
      out.set(name, { shape: t.shape, data: arr });
    }
  } finally {
    for (const t of state.values()) t.dispose();
  }
  return out;
}

function withCpu<T>(t: Tensor, fn: (c: Tensor) => T): T {
  const c = t.to('cpu');
  try { return fn(c); } finally { c.dispose(); }
}

/**
 * Copies `weights` into the model's parameters (every parameter must be present).
 * @throws {RangeError} when a name is missing or unexpected, or a shape differs.
 */
export function toModel(model: PreTrainedBert, weights: Weights): void {
  const made = new Map<string, Tensor>();
  try {
    for (const [name, w] of weights) made.set(name, tensor(w.data, { shape: w.shape, dtype: 'float32', device: model.device }));
    const r = model.loadStateDict(made);
    const bad = [...r.missing.map((k) => `missing ${k}`), ...r.unexpected.map((k) => `unexpected ${k}`), ...r.mismatched];
    if (bad.length) throw new RangeError(`weights do not fit the model: ${bad.slice(0, 5).join('; ')}${bad.length > 5 ? ` (+${bad.length - 5})` : ''}`);
  } finally {
    for (const t of made.values()) t.dispose();
  }
}

/** A deep copy. */
export function cloneWeights(w: Weights): Weights {
  return new Map([...w].map(([k, t]) => [k, { shape: [...t.shape], data: t.data.slice() }]));
}

/** Zeros with the shapes of `like`. */
export function zerosLike(like: Weights): Weights {
  return new Map([...like].map(([k, t]) => [k, { shape: [...t.shape], data: new Float32Array(t.data.length) }]));
}

/** a - b, key by key (both must have the same keys and sizes). */
export function subtract(a: Weights, b: Weights): Weights {
  const out: Weights = new Map();
  for (const [k, ta] of a) {
    const tb = b.get(k);
    if (!tb || tb.data.length !== ta.data.length) throw new RangeError(`Expected matching weights for ${k} but received ${tb ? `${tb.data.length} elements` : 'none'}`);
    const d = new Float32Array(ta.data.length);
    for (let i = 0; i < d.length; i++) d[i] = ta.data[i] - tb.data[i];
    out.set(k, { shape: [...ta.shape], data: d });
  }
  return out;
}

/** a + scale * b, key by key, as a new map. */
export function addScaled(a: Weights, b: Weights, scale = 1): Weights {
  const out: Weights = new Map();
  for (const [k, ta] of a) {
    const tb = b.get(k)!;
    const d = new Float32Array(ta.data.length);
    for (let i = 0; i < d.length; i++) d[i] = ta.data[i] + scale * tb.data[i];
    out.set(k, { shape: [...ta.shape], data: d });
  }
  return out;
}

/** The global L2 norm over every tensor (accumulated in float64). */
export function l2Norm(w: Weights): number {
  let s = 0;
  for (const t of w.values()) for (let i = 0; i < t.data.length; i++) s += t.data[i] * t.data[i];
  return Math.sqrt(s);
}

/** Number of elements in all tensors. */
export function numelOf(w: Weights): number {
  let n = 0;
  for (const t of w.values()) n += t.data.length;
  return n;
}

/** Checks the container shape (a Map of {shape, data: Float32Array}); throws the library's TypeError otherwise. */
export function checkWeights(w: unknown, name: string): asserts w is Weights {
  if (!(w instanceof Map)) invalidType('a Map of name -> {shape, data: Float32Array}', name, w);
  for (const [k, t] of w as Map<unknown, unknown>) {
    const v = t as WeightTensor;
    if (typeof k !== 'string' || !v || !Array.isArray(v.shape) || !(v.data instanceof Float32Array))
      invalidType('{shape, data: Float32Array} values', `${name}.get(${JSON.stringify(k)})`, t);
  }
}
