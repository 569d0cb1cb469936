/**
 * Fine-tuning a SentenceEncoder with in-batch negatives
 * (sentence-transformers' MultipleNegativesRankingLoss): (anchor, positive
 * [, hard negatives]) pairs become ranking batches (anchors first, then the
 * batch's distinct positives and negatives as candidates; native/embedding.h),
 * trained by the ordinary Trainer, so progress, evaluation each epoch, early
 * stopping, best checkpoint and report.html come with it. Evaluation ranks a
 * corpus for held-out queries and logs recall@k and MRR. Texts are tokenized
 * once; batches are plain typed arrays.
 */
import { collateIds } from './collate.js';
import type { Batch } from '../models/bert.js';
import { ArraySource } from '../train/array-source.js';
import type { EvalPrediction } from '../train/predictions.js';
import type { TrainerOptions } from '../train/options.js';
import { Trainer, type FitResult } from '../train/trainer.js';
import { rangeError, typeError } from '../validate.js';
import type { SentenceEncoder } from './encoder.js';

/** A training pair: the text a user writes and the text it should find, with optional hard negatives. */
export interface PairExample {
  anchor: string;
  positive: string;
  /** Texts close to the anchor that it must not find (hard negatives). */
  negatives?: readonly string[];
}

/** Held-out retrieval: each query's relevant row in `corpus`. */
export interface RetrievalEval {
  queries: readonly string[];
  corpus: readonly string[];
  /** relevant[i] is the index in corpus of queries[i]'s answer. */
  relevant: readonly number[];
}

/** Options of {@link fitSentenceEncoder}: the Trainer's, plus the loss's. */
export interface FitSentenceOptions extends Omit<TrainerOptions, 'computeMetrics' | 'metricForBestModel' | 'greaterIsBetter'> {
  /** Pairs per batch (each brings its positive and negatives as candidates). @default 16 */
  batchSize?: number;
  /** MultipleNegativesRankingLoss scale. @default 20 */
  scale?: number;
  /** Evaluated each epoch: recall@1/3/5/10 and MRR (eval_recall@1 picks the best checkpoint). */
  evalData?: RetrievalEval;
  /** Queries per evaluation batch (each batch also holds the whole corpus). @default 64 */
  evalBatchSize?: number;
  /** @default 42 */
  seed?: number;
}

/** recall@k and MRR of ranking batches (logits: anchors x candidates; labels: the relevant candidate, -100 on candidate rows). */
export function retrievalMetrics(p: EvalPrediction, ks: readonly number[] = [1, 3, 5, 10]): Record<string, number> {
  const hits = new Array(ks.length).fill(0);
  let rr = 0;
  let n = 0;
  for (const b of p.batches) {
    const [A, C] = b.shape;
    const targets = Array.from(b.labels ?? []).filter((l) => l !== -100);
    for (let a = 0; a < A; a++) {
      const row = b.logits.subarray(a * C, (a + 1) * C);
      const want = row[targets[a]];
      let rank = 1;
      for (let c = 0; c < C; c++) if (row[c] > want) rank++;
      ks.forEach((k, i) => { if (rank <= k) hits[i]++; });
      rr += 1 / rank;
      n++;
    }
  }
  const out: Record<string, number> = {};
  ks.forEach((k, i) => { out[`recall@${k}`] = n ? hits[i] / n : NaN; });
  out.mrr = n ? rr / n : NaN;
  return out;
}

function checkStrings(xs: unknown, name: string): string[] {
  if (!Array.isArray(xs)) throw typeError('an array of strings', name, xs);
  xs.forEach((x, i) => { if (typeof x !== 'string' || x === '') throw typeError('a non-empty string', `${name}[${i}]`, x); });
  return xs as string[];
}

interface Tokenized { anchor: Int32Array; positive: Int32Array; pkey: string; negatives: Array<{ ids: Int32Array; key: string }> }

/**
 * A ranking batch from tokenized pairs: anchors (label = their positive's
 * candidate index), then distinct candidates (label -100). A positive shared
 * by two anchors appears once, so it is never a false negative.
 */
function rankingBatch(items: readonly Tokenized[], padId: number): Batch {
  const candidates: Int32Array[] = [];
  const at = new Map<string, number>();
  const add = (key: string, ids: Int32Array) => {
    if (!at.has(key)) { at.set(key, candidates.length); candidates.push(ids); }
    return at.get(key)!;
  };
  const labels = items.map((x) => add(x.pkey, x.positive));
  for (const x of items) for (const n of x.negatives) add(n.key, n.ids);
  const rows = [...items.map((x) => x.anchor), ...candidates];
  return collateIds(rows, padId, [...labels, ...candidates.map(() => -100)]);
}

/**
 * Fine-tunes `encoder.model` on pairs; afterwards the encoder encodes with the
 * trained weights (dropout off). Save it with `encoder.save(dir)`.
 * @throws {TypeError} / {RangeError} for bad pairs or options; the Trainer's errors.
 * @example
 * const enc = await SentenceEncoder.fromPretrained('models/all-MiniLM-L6-v2');
 * const r = await fitSentenceEncoder(enc, pairs, { epochs: 2, lr: 2e-5, evalData: { queries, corpus, relevant } });
 * await enc.save('out/faq-encoder');
 */
export async function fitSentenceEncoder(encoder: SentenceEncoder, pairs: readonly PairExample[], options: FitSentenceOptions = {}): Promise<FitResult> {
  if (!Array.isArray(pairs) || pairs.length === 0) throw typeError('a non-empty array of { anchor, positive } pairs', 'pairs', pairs);
  pairs.forEach((p, i) => {
    if (p === null || typeof p !== 'object') throw typeError('an { anchor, positive } object', `pairs[${i}]`, p);
    checkStrings([p.anchor], `pairs[${i}].anchor`);
    checkStrings([p.positive], `pairs[${i}].positive`);
    if (p.negatives !== undefined) checkStrings(p.negatives, `pairs[${i}].negatives`);
  });
  const { batchSize = 16, scale = 20, evalData, evalBatchSize = 64, ...trainerOptions } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw rangeError('an integer >= 1', 'batchSize', batchSize);
  if (!Number.isInteger(evalBatchSize) || evalBatchSize < 1) throw rangeError('an integer >= 1', 'evalBatchSize', evalBatchSize);
  const tok = encoder.tokenizer;
  const padId = tok.specialTokenIds.pad;
  const ids = async (texts: readonly string[]) =>
    (await tok.encodeBatch(texts as string[], { truncation: true, maxLength: encoder.maxSeqLength })).map((e) => e.inputIds);

  const flat = pairs.flatMap((p) => [p.anchor, p.positive, ...(p.negatives ?? [])]);
  const enc = await ids(flat);
  let j = 0;
  const items: Tokenized[] = pairs.map((p) => {
    const anchor = enc[j++];
    const positive = enc[j++];
    const negatives = (p.negatives ?? []).map((n: string) => ({ ids: enc[j++], key: n }));
    return { anchor, positive, pkey: p.positive, negatives };
  });
  const train = new ArraySource(items, { batchSize, shuffle: true, seed: options.seed ?? 42, collate: (xs) => rankingBatch(xs, padId) });

  let evalBatches: Batch[] | undefined;
  if (evalData) {
    const queries = checkStrings(evalData.queries, 'evalData.queries');
    const corpus = checkStrings(evalData.corpus, 'evalData.corpus');
    const rel = evalData.relevant;
    if (!Array.isArray(rel) || rel.length !== queries.length) throw rangeError(`${queries.length} indices (one per query)`, 'evalData.relevant', rel);
    rel.forEach((r, i) => { if (!Number.isInteger(r) || r < 0 || r >= corpus.length) throw rangeError(`an index in [0, ${corpus.length})`, `evalData.relevant[${i}]`, r); });
    const [q, c] = [await ids(queries), await ids(corpus)];
    evalBatches = [];
    for (let s = 0; s < q.length; s += evalBatchSize) {
      const part = q.slice(s, s + evalBatchSize);
      evalBatches.push(collateIds([...part, ...c], padId, [...rel.slice(s, s + evalBatchSize), ...c.map(() => -100)]));
    }
  }

  const model = encoder.model;
  model.sentenceObjective({ pooling: encoder.pooling, scale });
  try {
    const trainer = new Trainer(model, {
      ...trainerOptions,
      tokenizer: trainerOptions.tokenizer ?? tok,
      computeMetrics: (p) => retrievalMetrics(p),
      metricForBestModel: 'recall@1',
      greaterIsBetter: true,
      reportConfig: { loss: 'MultipleNegativesRankingLoss', scale, pooling: encoder.pooling, pairs: pairs.length, ...trainerOptions.reportConfig },
    });
    return await trainer.fit(train, evalBatches ? { evalData: evalBatches } : {});
  } finally {
    model.sentenceObjective(null);
    model.eval();
  }
}
