/**
 * Two-stage recommendation: a bi-encoder retrieves candidates from a vector
 * index (lib/embeddings + lib/search), then the cross-encoder re-scores only
 * those (the usual retrieve-then-rank split: the index makes a catalogue of
 * any size cheap, the cross-encoder spends its forward passes on the few that
 * can win). The items are the index's ids into `items`. The stage owns none
 * of its parts: close them yourself.
 */
import type { SentenceEncoder } from '../embeddings/index.js';
import type { VectorIndex } from '../search/index.js';
import { optionalInteger, optionsObject, typeError } from '../validate.js';
import type { CrossEncoderRanker, RankedItem } from './ranker.js';

/** One recommendation: the item, its id in the index, the retrieval score and the ranker's score. */
export interface RetrievedItem extends RankedItem {
  id: number;
  retrievalScore: number;
}

/** Options of {@link RetrieveThenRank.rank}. */
export interface RetrieveOptions {
  /** Candidates the index hands to the ranker. @default 50 */
  candidates?: number;
  /** Recommendations returned. @default 10 */
  topK?: number;
}

/**
 * @example
 * const index = new ExactIndex(384, 'cosine');
 * await index.add(items.map((_, i) => i), await encoder.encode(items));
 * const recommend = new RetrieveThenRank({ encoder, index, items, ranker });
 * await recommend.rank('stock market news', { candidates: 50, topK: 10 });
 */
export class RetrieveThenRank {
  readonly encoder: SentenceEncoder;
  readonly index: VectorIndex;
  readonly items: readonly string[];
  readonly ranker: CrossEncoderRanker;

  /** @throws TypeError for a missing part, or an index holding more vectors than there are items. */
  constructor(parts: { encoder: SentenceEncoder; index: VectorIndex; items: readonly string[]; ranker: CrossEncoderRanker }) {
    const p = optionsObject(parts, 'parts');
    if (typeof p.encoder?.encode !== 'function') throw typeError('a SentenceEncoder', 'encoder', p.encoder);
    if (typeof p.index?.search !== 'function') throw typeError('a VectorIndex', 'index', p.index);
    if (!Array.isArray(p.items) || p.items.some((t) => typeof t !== 'string')) throw typeError('an array of item texts', 'items', p.items);
    if (typeof p.ranker?.rank !== 'function') throw typeError('a CrossEncoderRanker', 'ranker', p.ranker);
    if (p.index.size > p.items.length) throw typeError(`items for every vector of the index (${p.index.size})`, 'items', `${p.items.length} items`);
    this.encoder = p.encoder;
    this.index = p.index;
    this.items = p.items;
    this.ranker = p.ranker;
  }

  /** The best items for a context: the index's `candidates` nearest, re-ranked by the cross-encoder, best first. */
  async rank(context: string, options?: RetrieveOptions): Promise<RetrievedItem[]> {
    if (typeof context !== 'string' || context.trim() === '') throw typeError('a non-empty string', 'context', context);
    const o = optionsObject(options, 'options');
    const candidates = optionalInteger(o.candidates, 'candidates', 50, 1);
    const topK = optionalInteger(o.topK, 'topK', 10, 1);
    const found = (await this.index.search(await this.encoder.encode([context]), candidates)).hits(0);
    for (const hit of found) {
      if (this.items[hit.id] === undefined) throw typeError(`an item for every id of the index`, 'items', `none for id ${hit.id}`);
    }
    if (found.length === 0) return [];
    const ranked = await this.ranker.rank(context, found.map((h) => this.items[h.id]), { topK: Math.min(topK, found.length) });
    return ranked.map((r) => ({ ...r, id: found[r.index].id, retrievalScore: found[r.index].score }));
  }
}
