// Retrieve-then-rank: all-MiniLM-L6-v2 (the bi-encoder) finds candidates in
// an exact vector index, a cross-encoder re-scores only those. Checked
// against each stage run alone: the candidates are the index's nearest, the
// order is the ranker's order over them, and with every item a candidate the
// two stages give what the ranker gives over the whole catalogue.
import { Tokenizer } from '../lib/index.js';
import { SentenceEncoder } from '../lib/embeddings/index.js';
import { ExactIndex } from '../lib/search/index.js';
import { CrossEncoderRanker, RetrieveThenRank } from '../lib/rank/index.js';
import { CustomerServiceGenerator } from '../lib/synth/index.js';
import { miniLMGate } from './helpers/minilm.js';

const { dir, test } = miniLMGate();
const SMALL = { hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 128 };

test('the index retrieves, the cross-encoder re-ranks what it retrieved, and full recall equals ranking everything', async (t) => {
  const encoder = await SentenceEncoder.fromPretrained(dir!);
  const ranker = await CrossEncoderRanker.create(await Tokenizer.fromPretrained(dir!), { config: SMALL, seed: 4 });
  const index = new ExactIndex(384, 'cosine');
  t.teardown(async () => { index.dispose(); ranker.dispose(); await encoder.close(); });
  const gen = new CustomerServiceGenerator({ seed: 9 });
  const items = [...new Set(gen.labeled({ perIntent: 6, split: 'all' }).map((m) => m.text))];
  const vectors = await encoder.encode(items);
  await index.add(items.map((_, i) => i), vectors);
  const stages = new RetrieveThenRank({ encoder, index, items, ranker });
  const context = items[5];

  const got = await stages.rank(context, { candidates: 12, topK: 5 });
  const nearest = (await index.search(await encoder.encode([context]), 12)).hits(0);
  t.is(nearest[0].id, 5, 'an item is its own nearest neighbour');
  t.true(got.every((r) => nearest.some((h) => h.id === r.id && Math.abs(h.score - r.retrievalScore) < 1e-6)), 'only retrieved items, with their retrieval scores');
  const byRanker = await ranker.rank(context, nearest.map((h) => items[h.id]), { topK: 5 });
  t.deepEqual(got.map((r) => r.item), byRanker.map((r) => r.item));
  t.true(got.every((r, k) => k === 0 || got[k - 1].score >= r.score), 'best first');

  const everything = await stages.rank(context, { candidates: items.length, topK: 5 });
  const direct = await ranker.rank(context, items, { topK: 5 });
  t.deepEqual(everything.map((r) => r.score), direct.map((r) => r.score));
  await t.throwsAsync(stages.rank(''), { instanceOf: TypeError, message: /context/ });
});
