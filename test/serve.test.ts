// Serving: micro-batched predict() gives the answers of one-by-one calls in far
// fewer forward passes; heads (single-label, multi-label, regression) and
// entity grouping; the batcher's scheduling, errors and close().
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BertForSequenceClassification, BertForTokenClassification, type BertConfig } from '../lib/index.js';
import { trainWordPiece, type Tokenizer } from '../lib/tokenizer.js';
import {
  createPredictor,
  groupEntities,
  headSpec,
  MicroBatcher,
  sequencePrediction,
  type LabelPrediction,
  type MultiLabelPrediction,
  type ServedEntity,
} from '../lib/serve/index.js';

const SENTENCES = [
  'the parcel did not arrive on time', 'please cancel my order today', 'where is my refund for the broken lamp',
  'i want to change my delivery address', 'the courier was late again this week', 'thank you for the quick help',
  'ada lovelace visited paris in june', 'my account was charged twice', 'can i return shoes after thirty days',
];
const TINY: Partial<BertConfig> = {
  hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 64,
  // Wide init so that answers differ clearly between texts and the 1e-5 comparisons mean something.
  initializer_range: 0.2,
};
const LABELS = { id2label: { 0: 'billing', 1: 'delivery', 2: 'other' }, label2id: { billing: 0, delivery: 1, other: 2 } };

let dir: string;
let tok: Tokenizer;

test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'bertorch-serve-'));
  tok = await trainWordPiece({ iterator: SENTENCES, vocabSize: 150, minFrequency: 1 });
  const model = BertForSequenceClassification.create({ ...TINY, vocab_size: tok.vocabSize, ...LABELS }, { seed: 3 });
  await model.savePretrained(dir);
  await tok.save(dir);
  model.dispose();
});

test.after.always(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Texts of 1 to 60 words (some truncated at maxLength), so batches pad heavily. */
function texts(n: number): string[] {
  const words = SENTENCES.join(' ').split(' ');
  return Array.from({ length: n }, (_, i) => {
    const start = (i * 13) % words.length;
    const len = 1 + ((i * 7) % 60);
    return Array.from({ length: len }, (_, k) => words[(start + k) % words.length]).join(' ');
  });
}

function maxProbabilityDiff(a: LabelPrediction, b: LabelPrediction): number {
  return Math.max(...Object.keys(a.probabilities).map((k) => Math.abs(a.probabilities[k] - b.probabilities[k])));
}

test.serial('1,000 concurrent predict calls answer as one-by-one calls do, in far fewer forward passes', async (t) => {
  const distinct = texts(200);
  const single = await createPredictor<LabelPrediction>(dir, { maxWaitMs: 0, maxBatchSize: 1, maxLength: 48 });
  const reference: LabelPrediction[] = [];
  for (const text of distinct) reference.push(await single.predict(text));
  t.is(single.stats().forwardPasses, 200);
  await single.close();

  const spread = Math.max(...reference.map((r) => r.probabilities.billing)) - Math.min(...reference.map((r) => r.probabilities.billing));
  t.true(spread > 0.05, `answers barely differ between texts (spread ${spread})`);

  const predictor = await createPredictor<LabelPrediction>(dir, { maxBatchSize: 32, maxWaitMs: 5, maxLength: 48 });
  const calls = Array.from({ length: 1000 }, (_, i) => predictor.predict(distinct[i % distinct.length]));
  const answers = await Promise.all(calls);
  let worst = 0;
  answers.forEach((a, i) => {
    const r = reference[i % distinct.length];
    t.is(a.label, r.label);
    worst = Math.max(worst, maxProbabilityDiff(a, r), Math.abs(a.score - r.score));
  });
  const stats = predictor.stats();
  t.log(`largest probability difference ${worst.toExponential(2)}; ${stats.forwardPasses} forward passes, mean batch ${stats.meanBatchSize.toFixed(1)}`);
  t.true(worst <= 1e-5, `largest difference ${worst}`);
  t.is(stats.requests, 1000);
  t.is(stats.items, 1000);
  t.true(stats.forwardPasses <= 40, `${stats.forwardPasses} forward passes`);
  t.is(stats.largestBatch, 32);
  t.is(stats.queued, 0);
  t.is(stats.inFlight, 0);
  await predictor.close();
});

test.serial('an array of texts is answered in order and padding inside a batch changes nothing', async (t) => {
  const predictor = await createPredictor<LabelPrediction>(dir, { maxLength: 48 });
  const some = texts(40);
  const together = await predictor.predict(some);
  t.is(together.length, 40);
  for (const i of [0, 7, 39]) {
    const alone = await predictor.predict(some[i]);
    t.true(maxProbabilityDiff(alone, together[i]) <= 1e-5);
  }
  t.deepEqual(await predictor.predict([]), []);
  const sum = Object.values(together[3].probabilities).reduce((a, b) => a + b, 0);
  t.true(Math.abs(sum - 1) < 1e-9);
  t.deepEqual(Object.keys(together[3].probabilities), ['billing', 'delivery', 'other']);
  await predictor.close();
});

test.serial('bad input is refused and close() answers what was asked, then refuses with ERR_CLOSED', async (t) => {
  const predictor = await createPredictor<LabelPrediction>(dir, { maxWaitMs: 50 });
  await t.throwsAsync(predictor.predict(42 as unknown as string), { instanceOf: TypeError, message: /Expected a string or an array of strings for text/ });
  await t.throwsAsync(predictor.predict(['ok', null as unknown as string]), { instanceOf: TypeError, message: /texts\[1\]/ });
  const pending = [predictor.predict('where is my refund'), predictor.predict('cancel it')];
  await predictor.close();
  t.is((await Promise.all(pending)).length, 2);
  await t.throwsAsync(predictor.predict('late'), { code: 'ERR_CLOSED' });
  t.throws(() => predictor.model.numParameters, { code: 'ERR_DISPOSED' }, 'a predictor made from a folder frees its model');
  await predictor.close();
});

test.serial('a model passed in stays the caller\'s, and options are checked', async (t) => {
  const model = await BertForSequenceClassification.fromPretrained(dir);
  const predictor = await createPredictor({ model, tokenizer: tok }, { maxLength: 16 });
  t.is(predictor.task, 'sequence-classification');
  t.is(predictor.maxLength, 16);
  await predictor.predict('hello');
  await predictor.close();
  t.true(model.numParameters > 0);
  await t.throwsAsync(createPredictor({ model, tokenizer: tok }, { maxBatchSize: 0 }), { instanceOf: RangeError, message: /maxBatchSize/ });
  await t.throwsAsync(createPredictor({ model, tokenizer: tok }, { maxWaitMs: -1 }), { instanceOf: RangeError, message: /maxWaitMs/ });
  await t.throwsAsync(createPredictor({ model: {} as never, tokenizer: tok }), { instanceOf: TypeError, message: /model folder or \{ model, tokenizer \}/ });
  model.dispose();
});

test.serial('multi-label and regression heads answer with sigmoid labels and raw values', async (t) => {
  const multi = BertForSequenceClassification.create({ ...TINY, vocab_size: tok.vocabSize, ...LABELS, problem_type: 'multi_label_classification' }, { seed: 4 });
  const p = await createPredictor<MultiLabelPrediction>({ model: multi, tokenizer: tok }, { threshold: 0.5 });
  const a = await p.predict('my account was charged twice');
  t.true(Array.isArray(a.labels));
  t.deepEqual(a.labels, Object.keys(a.probabilities).filter((k) => a.probabilities[k] > 0.5).sort((x, y) => a.probabilities[y] - a.probabilities[x]));
  await p.close();
  multi.dispose();

  const head = headSpec(['a', 'b', 'c'], 'multi_label_classification', 0.5);
  const m = sequencePrediction([2, -2, 0.5], head) as MultiLabelPrediction;
  t.deepEqual(m.labels, ['a', 'c']);
  t.is(m.label, 'a');
  t.true(Math.abs(m.probabilities.b - 1 / (1 + Math.exp(2))) < 1e-12);
  t.deepEqual(sequencePrediction([1.25], headSpec(['score'], 'regression')), { value: 1.25 });
  t.deepEqual(sequencePrediction([1, 2], headSpec(['x', 'y'], 'regression')), { value: [1, 2] });
  const single = sequencePrediction([0, Math.log(3)], headSpec(['neg', 'pos'], 'single_label_classification')) as LabelPrediction;
  t.is(single.label, 'pos');
  t.true(Math.abs(single.score - 0.75) < 1e-12);
  // One logit without a problem type: a sigmoid, as HF's text-classification pipeline.
  t.true(Math.abs((sequencePrediction([0], headSpec(['LABEL_0'], null)) as LabelPrediction).score - 0.5) < 1e-12);
});

// ---- token classification ----

const TAGS = ['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC'];

/** (T, C) logits that put 5 on the chosen tag of each token, 0 elsewhere. */
function logitsFor(tags: string[]): Float32Array {
  const out = new Float32Array(tags.length * TAGS.length);
  tags.forEach((tag, t) => { out[t * TAGS.length + TAGS.indexOf(tag)] = 5; });
  return out;
}

test('entities come from each word\'s first word piece, grouped by IOB2, with character offsets', async (t) => {
  const text = 'Ada Lovelace visited Paris, France.';
  const enc = await tok.encode(text);
  const words = enc.wordIds;
  // Tag by word index; every later piece of a word gets a contradicting tag, which must be ignored.
  const byWord = ['B-PER', 'I-PER', 'O', 'B-LOC', 'O', 'B-LOC', 'O'];
  const tags = words.map((w, k) => (w === null ? 'O' : k > 0 && words[k - 1] === w ? 'B-LOC' : byWord[w]));
  t.true(words.some((w, k) => w !== null && k > 0 && words[k - 1] === w), 'some word is split into pieces');
  const entities = groupEntities({ text, logits: logitsFor(tags), numLabels: TAGS.length, wordIds: words, offsets: enc.offsets, labels: TAGS });
  t.deepEqual(entities.map(({ score, ...e }) => e), [
    { type: 'PER', start: 0, end: 12, text: 'Ada Lovelace' },
    { type: 'LOC', start: 21, end: 26, text: 'Paris' },
    { type: 'LOC', start: 28, end: 34, text: 'France' },
  ]);
  const p = Math.exp(5) / (Math.exp(5) + 4);
  for (const e of entities) t.true(Math.abs(e.score - p) < 1e-6);
});

test('I- without B- opens an entity, B- after B- splits, another type closes, padding rows are ignored', (t) => {
  const text = 'a b c d e';
  const offsets: Array<[number, number]> = [[0, 0], [0, 1], [2, 3], [4, 5], [6, 7], [8, 9], [0, 0]];
  const wordIds = [null, 0, 1, 2, 3, 4, null];
  const tags = ['O', 'I-PER', 'I-PER', 'B-PER', 'I-LOC', 'PER', 'O'];
  const labels = [...TAGS, 'PER'];
  const logits = new Float32Array((tags.length + 3) * labels.length); // 3 rows of padding, all zero
  tags.forEach((tag, k) => { logits[k * labels.length + labels.indexOf(tag)] = 4; });
  const entities: ServedEntity[] = groupEntities({ text, logits, numLabels: labels.length, wordIds, offsets, labels });
  t.deepEqual(entities.map((e) => [e.type, e.text]), [['PER', 'a b'], ['PER', 'c'], ['LOC', 'd'], ['PER', 'e']]);
});

test.serial('a token-classification predictor returns entities whose text is the slice they name, batched or not', async (t) => {
  const id2label = Object.fromEntries(TAGS.map((l, i) => [String(i), l]));
  const label2id = Object.fromEntries(TAGS.map((l, i) => [l, i]));
  const model = BertForTokenClassification.create({ ...TINY, initializer_range: 0.5, vocab_size: tok.vocabSize, id2label, label2id }, { seed: 5 });
  const predictor = await createPredictor<ServedEntity[]>({ model, tokenizer: tok }, { maxLength: 32 });
  t.is(predictor.task, 'token-classification');
  const some = texts(30);
  const batched = await Promise.all(some.map((s) => predictor.predict(s)));
  let found = 0;
  for (let i = 0; i < some.length; i++) {
    const alone = await predictor.predict(some[i]);
    t.deepEqual(alone.map(({ score, ...e }) => e), batched[i].map(({ score, ...e }) => e));
    alone.forEach((e, k) => t.true(Math.abs(e.score - batched[i][k].score) <= 1e-5));
    for (const e of batched[i]) {
      t.is(some[i].slice(e.start, e.end), e.text);
      t.true(TAGS.includes(`B-${e.type}`));
      found++;
    }
  }
  t.true(found > 0, 'a random model with a wide init tags something');
  await predictor.close();
  model.dispose();
});

// ---- the batcher alone ----

test('the batcher sends a full batch at once and the rest after maxWaitMs', async (t) => {
  const sizes: number[] = [];
  const b = new MicroBatcher(async (xs: number[]) => { sizes.push(xs.length); return xs.map((x) => x * 2); }, { maxBatchSize: 4, maxWaitMs: 20 });
  const out = await Promise.all([1, 2, 3, 4, 5, 6].map((x) => b.push(x)));
  t.deepEqual(out, [2, 4, 6, 8, 10, 12]);
  t.deepEqual(sizes, [4, 2]);
  t.like(b.stats(), { items: 6, batches: 2, largestBatch: 4, meanBatchSize: 3, queued: 0, inFlight: 0 });
});

test('the batcher keeps queueing while maxInFlight batches run, then sends full batches', async (t) => {
  const sizes: number[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const b = new MicroBatcher(async (xs: number[]) => { sizes.push(xs.length); await gate; return xs; }, { maxBatchSize: 8, maxWaitMs: 0, maxInFlight: 1 });
  const first = b.push(0);
  await new Promise((r) => setTimeout(r, 5));
  const rest = Array.from({ length: 10 }, (_, i) => b.push(i + 1));
  await new Promise((r) => setTimeout(r, 5));
  t.is(b.stats().queued, 10);
  release();
  await Promise.all([first, ...rest]);
  t.deepEqual(sizes, [1, 8, 2]);
});

test('with nothing running an item is sent at once; while a batch runs, items wait up to maxWaitMs for company', async (t) => {
  const sizes: number[] = [];
  let release!: () => void;
  let gate: Promise<void> | undefined;
  const b = new MicroBatcher(async (xs: number[]) => { sizes.push(xs.length); await gate; return xs; }, { maxBatchSize: 8, maxWaitMs: 60_000, maxInFlight: 2 });
  // Idle: not held back by the minute-long maxWaitMs.
  t.is(await b.push(1), 1);
  gate = new Promise<void>((r) => { release = r; });
  const running = b.push(2);
  await new Promise((r) => setTimeout(r, 5));
  t.like(b.stats(), { inFlight: 1, queued: 0 });
  // A second slot is free, but a batch is running: these wait to be joined.
  const waiting = [b.push(3), b.push(4)];
  await new Promise((r) => setTimeout(r, 20));
  t.like(b.stats(), { inFlight: 1, queued: 2 });
  const closing = b.close();  // sends what is queued at once
  release();
  await closing;
  t.deepEqual(await Promise.all([running, ...waiting]), [2, 3, 4]);
  t.deepEqual(sizes, [1, 1, 2]);
});

test('a failing batch rejects each of its callers and the batcher goes on', async (t) => {
  let calls = 0;
  const b = new MicroBatcher(async (xs: string[]) => {
    if (calls++ === 0) throw new Error('boom');
    return xs.map((x) => x.toUpperCase());
  }, { maxWaitMs: 1 });
  const failed = await Promise.allSettled([b.push('a'), b.push('b')]);
  t.deepEqual(failed.map((r) => r.status), ['rejected', 'rejected']);
  t.is(await b.push('c'), 'C');
  t.is(b.stats().failedBatches, 1);
  const wrong = new MicroBatcher(async () => [], { maxWaitMs: 0 });
  await t.throwsAsync(wrong.push(1), { instanceOf: TypeError, message: /Expected 1 outputs/ });
  await b.close();
  await t.throwsAsync(b.push('d'), { code: 'ERR_CLOSED' });
});

// ---- the HTTP example ----

test.serial('the HTTP example answers /classify for one text and many, and refuses bad requests', async (t) => {
  const { startService } = await import('../examples/http-service/server.js');
  const service = await startService({ model: dir, port: 0, maxLength: 32 });
  const call = async (method: string, route: string, body?: string) => {
    const res = await fetch(service.url + route, { method, body });
    return { status: res.status, json: await res.json() as any };
  };
  try {
    const one = await call('POST', '/classify', JSON.stringify({ text: 'where is my refund' }));
    t.is(one.status, 200);
    t.true(['billing', 'delivery', 'other'].includes(one.json.prediction.label));
    const many = await Promise.all(Array.from({ length: 20 }, () => call('POST', '/classify', JSON.stringify({ texts: ['cancel it', 'late again'] }))));
    t.true(many.every((r) => r.status === 200 && r.json.predictions.length === 2));
    t.is((await call('POST', '/classify', '{not json')).status, 400);
    t.is((await call('POST', '/classify', JSON.stringify({ txt: 'x' }))).status, 400);
    t.is((await call('GET', '/classify')).status, 405);
    t.is((await call('GET', '/nowhere')).status, 404);
    const health = await call('GET', '/health');
    t.like(health.json, { status: 'ok', task: 'sequence-classification', labels: ['billing', 'delivery', 'other'] });
    const stats = await call('GET', '/stats');
    t.is(stats.json.items, 41);
    t.true(stats.json.forwardPasses < 41);
  } finally {
    await service.close();
  }
});
