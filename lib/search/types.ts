/**
 * The one interface of lib/search's indexes (exact.ts, hnsw.ts): vectors of
 * a fixed dim under non-negative integer ids, top-k by cosine or dot
 * product, batch queries, add / remove by id, save to a file. Results come
 * as flat typed arrays (queries x k), best first. Pure TypeScript.
 */
import { rangeError, typeError } from '../validate.js';

/** Similarity: cosine (vectors normalised when added and queried) or raw inner product. */
export type Metric = 'cosine' | 'dot';

/** One neighbour of a query. */
export interface Hit {
  id: number;
  score: number;
}

/** The k best of each of `queries` queries: ids (-1 past the stored count) and scores (-Infinity there), row-major. */
export class SearchResults {
  readonly ids: Float64Array;
  readonly scores: Float32Array;
  readonly k: number;
  constructor(ids: Float64Array, scores: Float32Array, k: number) {
    this.ids = ids;
    this.scores = scores;
    this.k = k;
  }
  /** Number of queries. */
  get queries(): number {
    return this.ids.length / this.k;
  }
  /** The hits of query q, best first, without the padding of a short index. */
  hits(q: number): Hit[] {
    const out: Hit[] = [];
    for (let j = q * this.k; j < (q + 1) * this.k && this.ids[j] >= 0; j++) out.push({ id: this.ids[j], score: this.scores[j] });
    return out;
  }
}

/** What every index does. */
export interface VectorIndex {
  readonly dim: number;
  readonly metric: Metric;
  /** Vectors stored now. */
  readonly size: number;
  /** Adds rows (ids.length x dim, row-major) under new ids. @throws RangeError for an id already stored. */
  add(ids: ArrayLike<number>, vectors: Float32Array): Promise<void>;
  /** Removes the ids that are stored; resolves to how many were. */
  remove(ids: ArrayLike<number>): Promise<number>;
  /** The k best stored vectors of each query (queries: Q x dim, row-major). */
  search(queries: Float32Array, k: number): Promise<SearchResults>;
  /** Writes the index to `path` (replaced atomically where the format allows). */
  save(path: string): Promise<void>;
  /** Frees the index. Idempotent. */
  dispose(): void;
}

/** @internal Checks ids: non-negative safe integers, unique; returns them as a Float64Array. */
export function checkIds(ids: unknown, name = 'ids'): Float64Array {
  if (!(ids instanceof Float64Array) && !Array.isArray(ids) && !ArrayBuffer.isView(ids)) throw typeError('an array of integer ids', name, ids);
  const out = Float64Array.from(ids as ArrayLike<number>);
  const seen = new Set<number>();
  for (let i = 0; i < out.length; i++) {
    const v = out[i];
    if (!Number.isSafeInteger(v) || v < 0) throw rangeError('a non-negative safe integer', `${name}[${i}]`, (ids as ArrayLike<unknown>)[i]);
    if (seen.has(v)) throw rangeError(`ids that are unique (${v} repeats)`, `${name}[${i}]`, v);
    seen.add(v);
  }
  return out;
}

/** @internal Checks a row-major matrix of `rows` x dim float32. */
export function checkRows(v: unknown, dim: number, name: string, rows?: number): Float32Array {
  if (!(v instanceof Float32Array)) throw typeError('a Float32Array', name, v);
  if (v.length % dim !== 0) throw rangeError(`a multiple of dim (${dim}) values`, `${name}.length`, v.length);
  if (rows !== undefined && v.length !== rows * dim) throw rangeError(`${rows * dim} values (${rows} rows of ${dim})`, `${name}.length`, v.length);
  return v;
}

/** @internal */
export function checkK(k: unknown): number {
  if (!Number.isInteger(k) || (k as number) < 1) throw rangeError('an integer >= 1', 'k', k);
  return k as number;
}

/** @internal */
export function checkMetric(m: unknown): Metric {
  if (m !== 'cosine' && m !== 'dot') throw rangeError("'cosine' or 'dot'", 'metric', m);
  return m;
}

/** @internal */
export function checkDim(d: unknown): number {
  if (!Number.isInteger(d) || (d as number) < 1 || (d as number) > 65536) throw rangeError('an integer in [1, 65536]', 'dim', d);
  return d as number;
}
