/**
 * Ranking metrics with their standard definitions, equal to scikit-learn's
 * where it has them (checked against reference values it computed, see
 * scripts/fixtures/make-rank-reference.py):
 * - rocAuc: sklearn.metrics.roc_auc_score (binary) — the Mann-Whitney U over
 *   positives x negatives, a tied pair counting one half;
 * - ndcgScore: sklearn.metrics.ndcg_score (ignore_ties=False) — gains
 *   relevance, discount 1/log2(rank + 1) cut at k, tied scores sharing the
 *   mean gain of their positions; 0 when nothing is relevant;
 * - recallAtK: the share of relevant items in the top k, ties treated as
 *   ndcg_score treats them (the expectation over orders of the tied items);
 * - reciprocalRank / MRR: 1 / the rank of the best-ranked relevant item, a
 *   rank counting every item scored at least as high (sklearn's
 *   label_ranking_average_precision_score convention, which it equals when
 *   one item is relevant).
 * evaluateRanking groups rows by context and averages per group, over groups
 * with at least one relevant item (AUC: groups with both classes). Pure
 * TypeScript over numbers.
 */
import { rangeError, typeError } from '../validate.js';

function check(yTrue: ArrayLike<number>, yScore: ArrayLike<number>): void {
  if (!yTrue || typeof yTrue.length !== 'number') throw typeError('an array of relevance values', 'yTrue', yTrue);
  if (!yScore || typeof yScore.length !== 'number') throw typeError('an array of scores', 'yScore', yScore);
  if (yTrue.length !== yScore.length) throw rangeError(`${yTrue.length} scores (one per label)`, 'yScore', `${yScore.length} scores`);
  for (let i = 0; i < yScore.length; i++) {
    if (typeof yScore[i] !== 'number' || Number.isNaN(yScore[i])) throw typeError('a number', `yScore[${i}]`, yScore[i]);
    if (typeof yTrue[i] !== 'number' || !(yTrue[i] >= 0)) throw typeError('a relevance >= 0', `yTrue[${i}]`, yTrue[i]);
  }
}

/** Groups of equal scores, best first: for each, its members' indices. */
function tieGroups(yScore: ArrayLike<number>): number[][] {
  const order = Array.from({ length: yScore.length }, (_, i) => i).sort((a, b) => yScore[b] - yScore[a]);
  const groups: number[][] = [];
  for (const i of order) {
    const last = groups.at(-1);
    if (last && yScore[last[0]] === yScore[i]) last.push(i);
    else groups.push([i]);
  }
  return groups;
}

/**
 * Area under the ROC curve of binary labels (1 relevant, 0 not) against scores.
 * @throws {RangeError} when yTrue holds one class only (AUC is undefined, as sklearn says).
 * @example rocAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) // 0.75
 */
export function rocAuc(yTrue: ArrayLike<number>, yScore: ArrayLike<number>): number {
  check(yTrue, yScore);
  let pos = 0;
  for (let i = 0; i < yTrue.length; i++) {
    if (yTrue[i] !== 0 && yTrue[i] !== 1) throw typeError('a binary label (0 or 1)', `yTrue[${i}]`, yTrue[i]);
    pos += yTrue[i];
  }
  const neg = yTrue.length - pos;
  if (pos === 0 || neg === 0) throw rangeError('both classes in yTrue (AUC is undefined with one)', 'yTrue', `${pos} positives, ${neg} negatives`);
  // Rank sum of the positives with average ranks for ties (ascending scores).
  const groups = tieGroups(yScore).reverse();
  let rank = 0;
  let sum = 0;
  for (const g of groups) {
    const mean = rank + (g.length + 1) / 2;
    for (const i of g) if (yTrue[i] === 1) sum += mean;
    rank += g.length;
  }
  return (sum - (pos * (pos + 1)) / 2) / (pos * neg);
}

// Tie-averaged DCG with the given per-position discounts (sklearn's _tie_averaged_dcg).
function tieAveragedDcg(yTrue: ArrayLike<number>, yScore: ArrayLike<number>, discount: (position: number) => number): number {
  let dcg = 0;
  let position = 0;
  for (const g of tieGroups(yScore)) {
    let gain = 0;
    for (const i of g) gain += yTrue[i];
    let d = 0;
    for (let p = position; p < position + g.length; p++) d += discount(p);
    dcg += (gain / g.length) * d;
    position += g.length;
  }
  return dcg;
}

function checkK(k: number | undefined, n: number): number {
  if (k === undefined) return n;
  if (!Number.isInteger(k) || k < 1) throw rangeError('an integer >= 1', 'k', k);
  return k;
}

/**
 * Normalised discounted cumulative gain of one ranking (sklearn's ndcg_score for one query).
 * @param yTrue relevance of each item (>= 0; 0/1 for clicks)
 * @param k only the top k positions count (default all)
 * @example ndcgScore([3, 2, 0, 1], [0.9, 0.2, 0.8, 0.1], 3)
 */
export function ndcgScore(yTrue: ArrayLike<number>, yScore: ArrayLike<number>, k?: number): number {
  check(yTrue, yScore);
  const cut = checkK(k, yTrue.length);
  const discount = (p: number) => (p < cut ? 1 / Math.log2(p + 2) : 0);
  const ideal = Array.from(yTrue).sort((a, b) => b - a);
  let idcg = 0;
  for (let p = 0; p < ideal.length; p++) idcg += ideal[p] * discount(p);
  return idcg === 0 ? 0 : tieAveragedDcg(yTrue, yScore, discount) / idcg;
}

/**
 * Share of the relevant items (relevance > 0) ranked in the top k; tied scores share their positions' chance.
 * @returns NaN when nothing is relevant.
 */
export function recallAtK(yTrue: ArrayLike<number>, yScore: ArrayLike<number>, k: number): number {
  check(yTrue, yScore);
  const cut = checkK(k, yTrue.length);
  const rel = Array.from(yTrue, (y) => (y > 0 ? 1 : 0));
  const total = rel.reduce((a: number, b) => a + b, 0);
  return total === 0 ? NaN : tieAveragedDcg(rel, yScore, (p) => (p < cut ? 1 : 0)) / total;
}

/**
 * 1 / the rank of the best-ranked relevant item (relevance > 0); an item's rank counts every item scored at least as high.
 * @returns NaN when nothing is relevant.
 */
export function reciprocalRank(yTrue: ArrayLike<number>, yScore: ArrayLike<number>): number {
  check(yTrue, yScore);
  let best = -Infinity;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] > 0) best = Math.max(best, yScore[i]);
  if (best === -Infinity) return NaN;
  let rank = 0;
  for (let i = 0; i < yScore.length; i++) if (yScore[i] >= best) rank++;
  return 1 / rank;
}

/** One scored row of a grouped evaluation: its context (query, user), its relevance (clicked: 1) and its score. */
export interface RankedRow {
  group: string | number;
  label: number;
  score: number;
}

/** Metrics of {@link evaluateRanking}: `ndcg@k` and `recall@k` per k asked. */
export interface RankingMetrics {
  /** ROC AUC over all rows pooled (NaN with one class). */
  auc: number;
  /** Mean per-group ROC AUC over groups with both classes. */
  groupAuc: number;
  /** Mean reciprocal rank over groups with a relevant item. */
  mrr: number;
  /** Groups in all. */
  groups: number;
  /** Groups with at least one relevant item (the ones ranking metrics average over). */
  judgedGroups: number;
  [metric: `ndcg@${number}` | `recall@${number}`]: number;
}

/**
 * Ranking metrics per context, averaged (TREC-style: groups without a relevant item are left out of
 * MRR, nDCG and recall; groups with one class out of groupAuc).
 * @example evaluateRanking(rows, { ks: [1, 5, 10] }) // { auc, groupAuc, mrr, 'ndcg@10': ..., 'recall@5': ..., groups, judgedGroups }
 */
export function evaluateRanking(rows: readonly RankedRow[], { ks = [1, 5, 10] }: { ks?: readonly number[] } = {}): RankingMetrics {
  if (!Array.isArray(rows)) throw typeError('an array of { group, label, score }', 'rows', rows);
  for (const k of ks) checkK(k, 1);
  const byGroup = new Map<string | number, { y: number[]; s: number[] }>();
  for (const r of rows) {
    let g = byGroup.get(r.group);
    if (!g) byGroup.set(r.group, (g = { y: [], s: [] }));
    g.y.push(r.label);
    g.s.push(r.score);
  }
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
  const rr: number[] = [];
  const aucs: number[] = [];
  const ndcg = new Map<number, number[]>(ks.map((k) => [k, []]));
  const recall = new Map<number, number[]>(ks.map((k) => [k, []]));
  for (const { y, s } of byGroup.values()) {
    const pos = y.filter((v) => v > 0).length;
    if (pos === 0) continue;
    rr.push(reciprocalRank(y, s));
    if (pos < y.length && y.every((v) => v === 0 || v === 1)) aucs.push(rocAuc(y, s));
    for (const k of ks) {
      ndcg.get(k)!.push(ndcgScore(y, s, k));
      recall.get(k)!.push(recallAtK(y, s, k));
    }
  }
  const all = rows.map((r) => (r.label > 0 ? 1 : 0));
  const pooled = all.some((v) => v === 1) && all.some((v) => v === 0) ? rocAuc(all, rows.map((r) => r.score)) : NaN;
  const out: RankingMetrics = { auc: pooled, groupAuc: mean(aucs), mrr: mean(rr), groups: byGroup.size, judgedGroups: rr.length };
  for (const k of ks) {
    out[`ndcg@${k}`] = mean(ndcg.get(k)!);
    out[`recall@${k}`] = mean(recall.get(k)!);
  }
  return out;
}
