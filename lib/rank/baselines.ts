/**
 * Ranking baselines without a model, for comparison: BM25 (Robertson et al.;
 * k1 1.2, b 0.75) of an item given the context's words, with document
 * frequencies over the candidates scored, and plain word overlap. Words are
 * lower-cased runs of letters and digits.
 */

const WORD = /[\p{L}\p{N}]+/gu;
const tokens = (text: string) => text.toLowerCase().match(WORD) ?? [];

/** How many distinct context words each item contains. */
export function wordOverlapScores(pairs: ReadonlyArray<readonly [string, string]>): Float64Array {
  return Float64Array.from(pairs, ([context, item]) => {
    const c = new Set(tokens(context));
    return new Set(tokens(item).filter((w) => c.has(w))).size;
  });
}

/** BM25 of each item for its context's words, with idf and mean length over the distinct items given. */
export function bm25Scores(pairs: ReadonlyArray<readonly [string, string]>, { k1 = 1.2, b = 0.75 } = {}): Float64Array {
  const docs = new Map<string, string[]>();
  for (const [, item] of pairs) if (!docs.has(item)) docs.set(item, tokens(item));
  const df = new Map<string, number>();
  let total = 0;
  for (const words of docs.values()) {
    total += words.length;
    for (const w of new Set(words)) df.set(w, (df.get(w) ?? 0) + 1);
  }
  const N = docs.size;
  const avg = total / Math.max(N, 1);
  return Float64Array.from(pairs, ([context, item]) => {
    const words = docs.get(item)!;
    const tf = new Map<string, number>();
    for (const w of words) tf.set(w, (tf.get(w) ?? 0) + 1);
    let s = 0;
    for (const q of new Set(tokens(context))) {
      const f = tf.get(q);
      if (!f) continue;
      const n = df.get(q)!;
      s += Math.log(1 + (N - n + 0.5) / (n + 0.5)) * ((f * (k1 + 1)) / (f + k1 * (1 - b + (b * words.length) / avg)));
    }
    return s;
  });
}
