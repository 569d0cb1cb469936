/**
 * ExactIndex: exact top-k by cosine or dot product over vectors held in
 * native memory (native/search.h): each query batch is multiplied by blocks
 * of 32,768 stored rows and each block's top-k kept (GEMM + topk on the
 * compute thread, never a JS loop over rows). 1M x 384 float32 is 1.5 GB.
 * Every call but the getters is a Promise; calls run in order. dispose()
 * frees the rows (a running call finishes first); the GC does it otherwise.
 */
import type { NativeExactIndex } from '../../binding.js';
import { native } from '../binding.js';
import { TorchError, withCallSite } from '../errors.js';
import { checkDim, checkIds, checkK, checkMetric, checkRows, SearchResults, type Metric, type VectorIndex } from './types.js';

const registry = new FinalizationRegistry<NativeExactIndex>((n) => n.dispose());

/**
 * Exact nearest neighbours.
 * @example
 * const index = new ExactIndex(384, 'cosine');
 * await index.add([1, 2], vectors);           // 2 x 384
 * const r = await index.search(queries, 10);  // r.hits(0) -> [{ id, score }, ...]
 * await index.save('faq.index');
 */
export class ExactIndex implements VectorIndex {
  readonly dim: number;
  readonly metric: Metric;
  #n: NativeExactIndex | null;

  /** @throws RangeError for a dim outside [1, 65536] or a metric other than 'cosine' / 'dot'. */
  constructor(dim: number, metric: Metric = 'cosine') {
    this.dim = checkDim(dim);
    this.metric = checkMetric(metric);
    this.#n = new (native().ExactIndex)(dim, metric);
    registry.register(this, this.#n, this);
  }

  /**
   * Reads a file written by save().
   * @throws TorchValueError naming the file when it is missing, not an index file, or its sizes do not add up.
   */
  static async load(path: string): Promise<ExactIndex> {
    const site = new Error();
    const n = new (native().ExactIndex)(1, 'cosine');
    try {
      await n.load(path);
    } catch (e) {
      n.dispose();
      throw withCallSite(e, site);
    }
    const { dim, metric } = n.describe();
    const ix = new ExactIndex(dim, metric);
    ix.#n!.dispose();
    registry.unregister(ix);
    ix.#n = n;
    registry.register(ix, n, ix);
    return ix;
  }

  #native(): NativeExactIndex {
    if (!this.#n) throw new TorchError('Index was disposed', 'ERR_DISPOSED');
    return this.#n;
  }

  get size(): number {
    return this.#native().describe().size;
  }

  async add(ids: ArrayLike<number>, vectors: Float32Array): Promise<void> {
    const site = new Error();
    const idArr = checkIds(ids);
    checkRows(vectors, this.dim, 'vectors', idArr.length);
    await this.#native().add(idArr, vectors).catch((e) => { throw withCallSite(e, site); });
  }

  async remove(ids: ArrayLike<number>): Promise<number> {
    return this.#native().remove(checkIds(ids));
  }

  /** @throws RangeError for k < 1 or queries that are not Q x dim. */
  async search(queries: Float32Array, k: number): Promise<SearchResults> {
    const site = new Error();
    checkRows(queries, this.dim, 'queries');
    checkK(k);
    const r = await this.#native().search(queries, k).catch((e) => { throw withCallSite(e, site); });
    return new SearchResults(r.ids, r.scores, k);
  }

  /** The stored vectors of `ids` (normalised for cosine), ids.length x dim. @throws TorchIndexError for an id not stored. */
  async get(ids: ArrayLike<number>): Promise<Float32Array> {
    return this.#native().get(checkIds(ids));
  }

  /** Writes `path` (via path.tmp, renamed): "BTVI" header, ids, rows. */
  async save(path: string): Promise<void> {
    if (typeof path !== 'string' || path === '') throw new TypeError(`Expected a file path for path but received ${String(path)}`);
    await this.#native().save(path);
  }

  dispose(): void {
    if (!this.#n) return;
    registry.unregister(this);
    this.#n.dispose();
    this.#n = null;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
