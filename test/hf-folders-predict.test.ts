// predict() on a folder with all-MiniLM-L6-v2's tokenizer files as shipped
// (tokenizer.json padding Fixed(128), truncation 128): each text's answer must
// equal the model's forward pass on transformers' ids for that text alone,
// unpadded (test/fixtures/hf-folders/reference.json.gz). Batches mix lengths,
// so padding without a 0 attention mask, a lost [SEP] or a text cut at the
// backend's 128 would all move the probabilities far past 1e-5.
import test from 'ava';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BertForSequenceClassification, BertForTokenClassification } from '../lib/index.js';
import { createPredictor, type LabelPrediction, type ServedEntity } from '../lib/serve/index.js';
import { Tokenizer } from '../lib/tokenizer.js';
import { folder, loadReference } from './helpers/hf-folders.js';

const ref = loadReference();
const want = ref.folders.minilm;
const TINY = {
  vocab_size: 30522, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64,
  max_position_embeddings: 512, initializer_range: 0.2,
};
const LABELS = { id2label: { 0: 'neg', 1: 'neu', 2: 'pos' }, label2id: { neg: 0, neu: 1, pos: 2 } };

function softmax(row: Float32Array): number[] {
  const m = Math.max(...row);
  const e = Array.from(row, (x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

test('predict() answers each text as the model does on transformers\' ids alone (MiniLM tokenizer as shipped)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bertorch-hf-predict-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await cp(folder('minilm'), dir, { recursive: true });
  const model = BertForSequenceClassification.create({ ...TINY, ...LABELS }, { seed: 5 });
  await model.savePretrained(dir);
  model.eval();
  const predictor = await createPredictor<LabelPrediction>({ model, tokenizer: await Tokenizer.fromPretrained(dir) }, { maxLength: 16, maxBatchSize: 16 });
  t.teardown(() => predictor.close().then(() => model.dispose()));
  const n = 120;
  const answers = await Promise.all(ref.texts.slice(0, n).map((text) => predictor.predict(text)));
  t.true(predictor.stats().forwardPasses < n, 'texts were batched together');
  let worst = 0;
  for (let i = 0; i < n; i++) {
    const ids = want.truncated16[i].ids;
    const T = ids.length;
    const out = await model.forward({
      inputIds: BigInt64Array.from(ids, BigInt), attentionMask: new BigInt64Array(T).fill(1n),
      tokenTypeIds: new BigInt64Array(T), shape: [1, T],
    });
    const p = softmax((await out.logits.data()) as Float32Array);
    out.logits.dispose();
    p.forEach((x, k) => (worst = Math.max(worst, Math.abs(x - answers[i].probabilities[LABELS.id2label[k as 0 | 1 | 2]]))));
  }
  t.log(`largest probability difference over ${n} texts: ${worst.toExponential(2)}`);
  t.true(worst < 1e-5);
});

test('token-classification predict() takes word ids from the tokenizer: no entity on padding, offsets inside the text', async (t) => {
  const model = BertForTokenClassification.create({
    ...TINY, id2label: { 0: 'O', 1: 'B-PER', 2: 'I-PER' }, label2id: { O: 0, 'B-PER': 1, 'I-PER': 2 },
  }, { seed: 9 });
  const predictor = await createPredictor<ServedEntity[]>({ model, tokenizer: await Tokenizer.fromPretrained(folder('minilm')) }, { maxLength: 32 });
  t.teardown(() => predictor.close().then(() => model.dispose()));
  const texts = ref.texts.slice(0, 60);
  const answers = await Promise.all(texts.map((text) => predictor.predict(text)));
  answers.forEach((entities, i) => {
    for (const e of entities) {
      t.true(e.start >= 0 && e.end <= texts[i].length && e.start < e.end, `${JSON.stringify(texts[i])}: ${JSON.stringify(e)}`);
      t.is(texts[i].slice(e.start, e.end), e.text);
    }
  });
});
