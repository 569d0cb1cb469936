// CrossEncoderRanker: (context, item) pairs encoded exactly as transformers
// encodes text pairs (the hf-folders parity fixture), scores independent of
// batching and order, a save/load round trip, and fine-tuning on generated
// click logs with a hidden preference beating random init and BM25 on nDCG@10.
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BertForSequenceClassification, setNumThreads, Tokenizer, trainWordPiece, type Batch } from '../lib/index.js';
import { bm25Scores, CrossEncoderRanker, evaluateRanking, wordOverlapScores, type Click } from '../lib/rank/index.js';
import { clickLog, clickTexts } from '../examples/recommend/clicks.js';
import { firstDifference, folder, loadReference } from './helpers/hf-folders.js';

setNumThreads(1); // a shared machine: one intra-op thread
const SMALL = { hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 128 };

let dir: string;
test.before(async () => { dir = await mkdtemp(path.join(tmpdir(), 'bertorch-rank-')); });
test.after.always(async () => { if (dir) await rm(dir, { recursive: true, force: true }); });

function rows(batch: Batch, key: 'inputIds' | 'attentionMask' | 'tokenTypeIds'): number[][] {
  const [B, T] = batch.shape!;
  const data = batch[key] as BigInt64Array;
  return Array.from({ length: B }, (_, b) => Array.from(data.subarray(b * T, (b + 1) * T), Number));
}

test('pairs are encoded as transformers encodes text pairs (ids, token types, masks; truncation and padding)', async (t) => {
  const ref = loadReference();
  for (const name of ['bert-plain', 'minilm', 'bert-cased'] as const) {
    const tokenizer = await Tokenizer.fromPretrained(folder(name));
    const model = BertForSequenceClassification.create({ ...SMALL, vocab_size: tokenizer.vocabSize, id2label: { 0: 'not_clicked', 1: 'clicked' }, label2id: { not_clicked: 0, clicked: 1 } });
    // The fixture's pair batches were made with truncation=True, max_length=40, padding='longest'.
    const ranker = new CrossEncoderRanker(model, tokenizer, { maxLength: 40 });
    let checked = 0;
    for (const b of ref.folders[name].pairBatches) {
      const batch = await ranker.encode(ref.pairs.slice(b.start, b.start + b.count));
      for (const [key, field] of [['inputIds', 'ids'], ['attentionMask', 'mask'], ['tokenTypeIds', 'types']] as const) {
        const got = rows(batch, key);
        const want = b.rows.map((r) => r[field]);
        const at = firstDifference(got, want);
        t.is(at, -1, `${name} pair batch ${b.start} ${key} row ${at}: got ${JSON.stringify(got[at])} want ${JSON.stringify(want[at])}`);
      }
      checked += b.count;
    }
    t.true(checked >= 20, `${name}: ${checked} pairs`);
    // Token types: 0 up to and including the first [SEP], 1 after it.
    const one = await ranker.encode([['where is my order', 'it ships tomorrow']]);
    const ids = rows(one, 'inputIds')[0];
    const sep = ids.indexOf(tokenizer.specialTokenIds.sep);
    t.deepEqual(rows(one, 'tokenTypeIds')[0], ids.map((_, i) => (i <= sep ? 0 : 1)));
    ranker.dispose();
  }
});

test('scores do not depend on batch size or order, rank() sorts them, and save/fromPretrained keeps them', async (t) => {
  const clicks = clickLog({ contexts: 6, seed: 3 });
  const tokenizer = await trainWordPiece({ iterator: clickTexts(clicks), vocabSize: 200, minFrequency: 1 });
  const ranker = await CrossEncoderRanker.create(tokenizer, { config: SMALL, seed: 2, batchSize: 64 });
  const pairs = clicks.map((c) => [c.context, c.item] as const);
  const all = await ranker.score(pairs);
  const small = await new CrossEncoderRanker(ranker.model, tokenizer, { batchSize: 3 }).score(pairs);
  const one = await Promise.all(pairs.slice(0, 10).map(async (p) => (await ranker.score([p]))[0]));
  const diff = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.max(...Array.from(a, (x, i) => Math.abs(x - b[i])));
  t.true(diff(all, small) < 1e-5, `batch 64 vs 3: ${diff(all, small)}`);
  t.true(diff(all.subarray(0, 10), one) < 1e-5, `batched vs one at a time: ${diff(all.subarray(0, 10), one)}`);
  // A score is the click log-odds: logit[1] - logit[0] of the model's own forward pass.
  const out = await ranker.model.forward(await ranker.encode([pairs[0]]));
  const logits = (await out.logits.data()) as Float32Array;
  out.logits.dispose();
  t.true(Math.abs(all[0] - (logits[1] - logits[0])) < 1e-5);
  const context = clicks[0].context;
  const candidates = clicks.slice(0, 20).map((c) => c.item);
  const ranked = await ranker.rank(context, candidates, { topK: 5 });
  t.is(ranked.length, 5);
  t.deepEqual(ranked.map((r) => r.score), [...ranked.map((r) => r.score)].sort((a, b) => b - a));
  t.is(ranked[0].item, candidates[ranked[0].index]);
  await ranker.save(path.join(dir, 'saved'));
  const loaded = await CrossEncoderRanker.fromPretrained(path.join(dir, 'saved'));
  t.true(diff(await loaded.score(pairs), all) < 1e-5, 'the saved folder scores the same');
  loaded.dispose();
  ranker.dispose();
  await t.throwsAsync(ranker.score(pairs), { code: 'ERR_DISPOSED' });
});

test('fine-tuned on click logs with a hidden preference, the ranker beats random init and BM25 on nDCG@10', async (t) => {
  const train = clickLog({ contexts: 200, seed: 1 });
  const heldOut = clickLog({ contexts: 60, seed: 2 });
  const tokenizer = await trainWordPiece({ iterator: clickTexts(train), vocabSize: 300, minFrequency: 1 });
  const config = { ...SMALL, hidden_size: 64, num_hidden_layers: 2, intermediate_size: 128, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 };
  const ranker = await CrossEncoderRanker.create(tokenizer, { config, seed: 1, maxLength: 32 });
  const before = await ranker.evaluate(heldOut, { ks: [10] });
  const result = await ranker.train(train, { epochs: 8, lr: 1e-3, batchSize: 32, warmupRatio: 0.1, seed: 1, progress: 'none' });
  const after = await ranker.evaluate(heldOut, { ks: [10] });
  const pairs = heldOut.map((c) => [c.context, c.item] as const);
  const baseline = (scores: Float64Array) => evaluateRanking(heldOut.map((c: Click, i) => ({ group: c.context, label: Number(c.clicked), score: scores[i] })), { ks: [10] });
  const bm25 = baseline(bm25Scores(pairs));
  const overlap = baseline(wordOverlapScores(pairs));
  t.log(`nDCG@10: fine-tuned ${after['ndcg@10'].toFixed(3)}, random init ${before['ndcg@10'].toFixed(3)}, BM25 ${bm25['ndcg@10'].toFixed(3)}, word overlap ${overlap['ndcg@10'].toFixed(3)} (train loss ${result.trainLoss.toFixed(3)}, ${result.globalStep} steps)`);
  t.true(after['ndcg@10'] > before['ndcg@10'] + 0.1, 'beats random init');
  t.true(after['ndcg@10'] > bm25['ndcg@10'] + 0.1, 'beats BM25');
  t.true(after.groupAuc > 0.6, `group AUC ${after.groupAuc}`);
  t.is(after.groups, 60);
  ranker.dispose();
});

test('click logs are checked with messages that name the row', async (t) => {
  const tokenizer = await trainWordPiece({ iterator: ['a b c'], vocabSize: 50, minFrequency: 1 });
  const ranker = await CrossEncoderRanker.create(tokenizer, { config: SMALL });
  await t.throwsAsync(ranker.evaluate([{ context: 'a', item: 'b', clicked: 2 }]), { instanceOf: TypeError, message: /clicks\[0\]\.clicked/ });
  await t.throwsAsync(ranker.score([['a'] as never]), { instanceOf: TypeError, message: /pairs\[0\]/ });
  t.throws(() => new CrossEncoderRanker(BertForSequenceClassification.create({ ...SMALL, vocab_size: 50, id2label: { 0: 'a', 1: 'b', 2: 'c' } }), tokenizer), { instanceOf: TypeError, message: /1 or 2 labels/ });
  ranker.dispose();
});
