// Ranking metrics equal scikit-learn's on fixtures with ties
// (test/fixtures/rank/metrics.json, from scripts/fixtures/make-rank-reference.py).
import test from 'ava';
import { readFileSync } from 'node:fs';
import { evaluateRanking, ndcgScore, reciprocalRank, recallAtK, rocAuc } from '../lib/rank/metrics.js';

interface Query { name: string; yTrue: number[]; yScore: number[]; ndcg: Record<string, number>; recall: Record<string, number>; mrr?: number; lrap?: number; auc?: number }
const ref = JSON.parse(readFileSync(new URL('./fixtures/rank/metrics.json', import.meta.url), 'utf8')) as {
  sklearn: string; queries: Query[]; multi: { yTrue: number[][]; yScore: number[][]; ndcg: Record<string, number> }; pooled: { yTrue: number[]; yScore: number[]; auc: number };
};
const TOL = 1e-12;
const k = (key: string) => (key === 'None' ? undefined : Number(key));

test(`nDCG@k equals sklearn ${ref.sklearn} ndcg_score on ${ref.queries.length} queries with ties`, (t) => {
  let worst = 0;
  for (const q of ref.queries) {
    for (const [key, want] of Object.entries(q.ndcg)) {
      const got = ndcgScore(q.yTrue, q.yScore, k(key));
      worst = Math.max(worst, Math.abs(got - want));
      t.true(Math.abs(got - want) < TOL, `${q.name} k=${key}: ${got} vs ${want}`);
    }
  }
  t.log(`largest difference ${worst.toExponential(2)}`);
});

test('ROC AUC equals roc_auc_score, per query and pooled over 400 tied rows', (t) => {
  const cases = ref.queries.filter((q) => q.auc !== undefined);
  t.true(cases.length >= 10);
  for (const q of cases) t.true(Math.abs(rocAuc(q.yTrue, q.yScore) - q.auc!) < TOL, q.name);
  t.true(Math.abs(rocAuc(ref.pooled.yTrue, ref.pooled.yScore) - ref.pooled.auc) < TOL);
  t.throws(() => rocAuc([1, 1], [0.2, 0.3]), { instanceOf: RangeError, message: /both classes/ });
});

test('MRR follows the LRAP rank convention and equals label_ranking_average_precision_score with one relevant item', (t) => {
  const one = ref.queries.filter((q) => q.lrap !== undefined);
  t.true(one.length >= 6);
  for (const q of one) t.true(Math.abs(reciprocalRank(q.yTrue, q.yScore) - q.lrap!) < TOL, q.name);
  for (const q of ref.queries.filter((x) => x.mrr !== undefined)) t.true(Math.abs(reciprocalRank(q.yTrue, q.yScore) - q.mrr!) < TOL, q.name);
  t.true(Number.isNaN(reciprocalRank([0, 0], [1, 2])));
});

test('recall@k averages ties as ndcg_score does (sklearn _tie_averaged_dcg with a unit discount)', (t) => {
  let n = 0;
  for (const q of ref.queries) {
    for (const [key, want] of Object.entries(q.recall)) {
      t.true(Math.abs(recallAtK(q.yTrue, q.yScore, Number(key)) - want) < TOL, `${q.name} k=${key}`);
      n++;
    }
  }
  t.true(n > 80);
});

test('grouped evaluation averages per context: equal to ndcg_score over a multi-query array', (t) => {
  const rows = ref.multi.yTrue.flatMap((ys, g) => ys.map((label, i) => ({ group: `q${g}`, label, score: ref.multi.yScore[g][i] })));
  const m = evaluateRanking(rows, { ks: [1, 3, 5, 10] });
  for (const key of ['1', '3', '5', '10']) t.true(Math.abs(m[`ndcg@${Number(key)}`] - ref.multi.ndcg[key]) < TOL, `ndcg@${key}`);
  t.is(m.groups, 6);
  t.is(m.judgedGroups, 6);
  const mrr = ref.multi.yTrue.map((ys, g) => reciprocalRank(ys, ref.multi.yScore[g])).reduce((a, b) => a + b) / 6;
  t.true(Math.abs(m.mrr - mrr) < TOL);
  // A group without a relevant item is left out of the means but counted.
  const m2 = evaluateRanking([...rows, { group: 'none', label: 0, score: 1 }, { group: 'none', label: 0, score: 0 }], { ks: [3] });
  t.is(m2.groups, 7);
  t.is(m2.judgedGroups, 6);
  t.true(Math.abs(m2['ndcg@3'] - ref.multi.ndcg['3']) < TOL);
});

test('bad input is refused with messages that name it', (t) => {
  t.throws(() => ndcgScore([1, 0], [0.5]), { instanceOf: RangeError, message: /yScore/ });
  t.throws(() => ndcgScore([1, 0], [0.5, NaN]), { instanceOf: TypeError, message: /yScore\[1\]/ });
  t.throws(() => ndcgScore([1, 0], [0.5, 0.1], 0), { instanceOf: RangeError, message: /k/ });
  t.throws(() => rocAuc([2, 0], [0.5, 0.1]), { instanceOf: TypeError, message: /binary/ });
});
