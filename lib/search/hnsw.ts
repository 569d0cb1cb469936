/**
 * HnswIndex: approximate nearest neighbours (HNSW graph) from hnswlib-node,
 * behind lib/search's VectorIndex interface. Chosen over usearch by
 * measurement (scripts/bench/search.ts; 20k x 384, M 16, ef 64: 2.3x the
 * queries/s at equal recall). hnswlib-node is an optional dependency compiled
 * at install: new HnswIndex() says how to get it when it is missing. Its calls
 * are synchronous C++ on the JS thread (the library has no async API); the
 * async methods here keep the interface of ExactIndex. save() writes the
 * graph and a `<path>.json` beside it (dim, metric, parameters, ids).
 */
import { createRequire } from 'node:module';
import { readFile, rename } from 'node:fs/promises';
import { writeFileAtomic } from '../models/atomic.js';
import { rangeError } from '../validate.js';
import { checkDim, checkIds, checkK, checkMetric, checkRows, SearchResults, type Metric, type VectorIndex } from './types.js';

/** Options of {@link HnswIndex}. */
export interface HnswOptions {
  /** Graph degree (hnswlib M). @default 16 */
  m?: number;
  /** Candidate list while building (efConstruction). @default 200 */
  efConstruction?: number;
  /** Candidate list while searching (ef); raises recall and cost. @default 64 */
  efSearch?: number;
  /** Rows allocated at first; the index doubles when full. @default 1024 */
  capacity?: number;
  /** @default 100 */
  seed?: number;
}

// The hnswlib-node module, typed by what is used here.
interface Hnsw {
  initIndex(o: { maxElements: number; m?: number; efConstruction?: number; randomSeed?: number; allowReplaceDeleted?: boolean }): void;
  readIndex(filename: string, allowReplaceDeleted?: boolean): Promise<boolean>;
  writeIndex(filename: string): Promise<boolean>;
  resizeIndex(n: number): void;
  addPoint(point: number[] | Float32Array, label: number, replaceDeleted?: boolean): void;
  markDelete(label: number): void;
  searchKnn(q: number[] | Float32Array, k: number): { distances: number[]; neighbors: number[] };
  getMaxElements(): number;
  setEf(ef: number): void;
}

function hnswlib(): { HierarchicalNSW: new (space: string, dim: number) => Hnsw } {
  try {
    return createRequire(import.meta.url)('hnswlib-node');
  } catch (e) {
    throw Object.assign(new Error(`HnswIndex needs the optional dependency hnswlib-node, which is not installed or did not compile (${(e as Error).message.split('\n')[0]}): npm install hnswlib-node`), { code: 'ERR_NO_HNSWLIB' });
  }
}

function posInt(v: unknown, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || (v as number) < 1) throw rangeError('a positive integer', name, v);
  return v as number;
}

/**
 * Approximate nearest neighbours (HNSW).
 * @example
 * const ann = new HnswIndex(384, 'cosine', { efSearch: 128 });
 * await ann.add(ids, vectors);
 * const r = await ann.search(queries, 10);
 */
export class HnswIndex implements VectorIndex {
  readonly dim: number;
  readonly metric: Metric;
  readonly options: Required<HnswOptions>;
  #h: Hnsw | null;
  #ids = new Set<number>();

  /** @throws RangeError for a bad dim, metric or option; Error ERR_NO_HNSWLIB without hnswlib-node. */
  constructor(dim: number, metric: Metric = 'cosine', options: HnswOptions = {}) {
    this.dim = checkDim(dim);
    this.metric = checkMetric(metric);
    this.options = {
      m: posInt(options.m, 'm', 16), efConstruction: posInt(options.efConstruction, 'efConstruction', 200),
      efSearch: posInt(options.efSearch, 'efSearch', 64), capacity: posInt(options.capacity, 'capacity', 1024), seed: posInt(options.seed, 'seed', 100),
    };
    this.#h = new (hnswlib().HierarchicalNSW)(metric === 'cosine' ? 'cosine' : 'ip', dim);
    const o = this.options;
    this.#h.initIndex({ maxElements: o.capacity, m: o.m, efConstruction: o.efConstruction, randomSeed: o.seed, allowReplaceDeleted: true });
    this.#h.setEf(o.efSearch);
  }

  /** Reads what save() wrote (`path` and `path.json`). */
  static async load(path: string): Promise<HnswIndex> {
    const meta = JSON.parse(await readFile(`${path}.json`, 'utf8')) as { dim: number; metric: Metric; options: Required<HnswOptions>; ids: number[] };
    const ix = new HnswIndex(meta.dim, meta.metric, meta.options);
    await ix.#hnsw().readIndex(path, true);
    ix.#hnsw().setEf(meta.options.efSearch);
    ix.#ids = new Set(meta.ids);
    return ix;
  }

  #hnsw(): Hnsw {
    if (!this.#h) throw Object.assign(new Error('Index was disposed'), { code: 'ERR_DISPOSED' });
    return this.#h;
  }

  get size(): number {
    return this.#ids.size;
  }

  /** Sets the search candidate list (ef). */
  set efSearch(ef: number) {
    this.options.efSearch = posInt(ef, 'efSearch', 64);
    this.#hnsw().setEf(ef);
  }

  async add(ids: ArrayLike<number>, vectors: Float32Array): Promise<void> {
    const idArr = checkIds(ids);
    checkRows(vectors, this.dim, 'vectors', idArr.length);
    const h = this.#hnsw();
    for (let i = 0; i < idArr.length; i++) if (this.#ids.has(idArr[i])) throw rangeError('an id not in the index (remove it first)', `ids[${i}]`, idArr[i]);
    let cap = h.getMaxElements();
    if (this.#ids.size + idArr.length > cap) {
      while (this.#ids.size + idArr.length > cap) cap *= 2;
      h.resizeIndex(cap);
    }
    for (let i = 0; i < idArr.length; i++) {
      // hnswlib-node copies the row out of a plain array: one row at a time is its only add.
      h.addPoint(Array.from(vectors.subarray(i * this.dim, (i + 1) * this.dim)), idArr[i], true);
      this.#ids.add(idArr[i]);
    }
  }

  async remove(ids: ArrayLike<number>): Promise<number> {
    const h = this.#hnsw();
    let n = 0;
    for (const id of checkIds(ids)) {
      if (!this.#ids.delete(id)) continue;
      h.markDelete(id);
      n++;
    }
    return n;
  }

  async search(queries: Float32Array, k: number): Promise<SearchResults> {
    checkRows(queries, this.dim, 'queries');
    checkK(k);
    const h = this.#hnsw();
    const Q = queries.length / this.dim;
    const ids = new Float64Array(Q * k).fill(-1);
    const scores = new Float32Array(Q * k).fill(-Infinity);
    const kk = Math.min(k, this.#ids.size);
    if (kk === 0) return new SearchResults(ids, scores, k);
    for (let q = 0; q < Q; q++) {
      const r = h.searchKnn(Array.from(queries.subarray(q * this.dim, (q + 1) * this.dim)), kk);
      // hnswlib returns the farthest first; distance is 1 - similarity for 'cosine' and 'ip'.
      const order = r.distances.map((_, j) => j).sort((a, b) => r.distances[a] - r.distances[b]);
      order.forEach((j, c) => {
        ids[q * k + c] = r.neighbors[j];
        scores[q * k + c] = 1 - r.distances[j];
      });
    }
    return new SearchResults(ids, scores, k);
  }

  async save(path: string): Promise<void> {
    await this.#hnsw().writeIndex(`${path}.tmp`);
    await rename(`${path}.tmp`, path);
    await writeFileAtomic(`${path}.json`, JSON.stringify({ dim: this.dim, metric: this.metric, options: this.options, ids: [...this.#ids] }));
  }

  dispose(): void {
    this.#h = null;
    this.#ids.clear();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
