// Trainer: accumulation equivalence, checkpoint rotation, exact resume,
// early stopping, abort, non-finite losses, evaluate / predict.
import test from 'ava';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BertForSequenceClassification, BertForMaskedLM, full, manualSeed, type Batch } from '../lib/index.js';
import { ArraySource, NonFiniteLossError, Trainer, collateExamples, MlmSource, type Example, type StepRecord } from '../lib/train/index.js';

const TINY = {
  vocab_size: 40, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64,
  max_position_embeddings: 32, labels: undefined,
};

function makeModel(opts: { dropout?: number; labels?: number; seed?: number } = {}) {
  const p = opts.dropout ?? 0.1;
  const n = opts.labels ?? 3;
  const id2label = Object.fromEntries(Array.from({ length: n }, (_, i) => [String(i), `c${i}`]));
  const label2id = Object.fromEntries(Array.from({ length: n }, (_, i) => [`c${i}`, i]));
  return BertForSequenceClassification.create(
    { ...TINY, hidden_dropout_prob: p, attention_probs_dropout_prob: p, id2label, label2id },
    { seed: opts.seed ?? 7 },
  );
}

/** Examples of class c hold the marker token 5 + c somewhere among random tokens 8..39. */
function makeExamples(n: number, seed = 1): Example[] {
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  return Array.from({ length: n }, () => {
    const len = 4 + Math.floor(rand() * 8);
    const label = Math.floor(rand() * 3);
    const ids = Array.from({ length: len }, () => 8 + Math.floor(rand() * 32));
    ids[Math.floor(rand() * len)] = 5 + label;
    return { inputIds: [2, ...ids, 3], label };
  });
}

async function tmp(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bertorch-trainer-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const quiet = { progress: 'none' as const };

function stepLosses(into: StepRecord[]) {
  return { onStepEnd: (e: { step: StepRecord }) => { into.push(e.step); } };
}

test.serial('two accumulated batches of B give the same update as one batch of 2B (token-weighted mean losses)', async (t) => {
  // Uneven lengths: each half pads differently, and the MLM halves score different token counts,
  // so equal weights would not match; weights proportional to each batch's loss terms do.
  const examples = makeExamples(16, 3);
  for (const [kind, build] of [
    ['sequence classification', () => makeModel({ dropout: 0 })],
    ['masked LM', () => BertForMaskedLM.create({ ...TINY, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 }, { seed: 7 })],
  ] as const) {
    const mlm = kind === 'masked LM';
    const src = mlm
      ? new MlmSource(examples.map((e) => e.inputIds), { batchSize: 8, shuffle: false, seed: 3, maskTokenId: 4, vocabSize: 40, specialIds: [0, 2, 3], mlmProbability: 0.3 })
      : null;
    const half = (i: number): Batch => (src ? src.batch(0, i) : collateExamples(examples.slice(i * 8, i * 8 + 8)));
    const full: Batch = src
      ? new MlmSource(examples.map((e) => e.inputIds), { batchSize: 16, shuffle: false, seed: 3, maskTokenId: 4, vocabSize: 40, specialIds: [0, 2, 3], mlmProbability: 0.3 }).batch(0, 0)
      : collateExamples(examples);
    if (src) {
      // The 16-batch masks the same positions only if drawn from the same stream: rebuild it from the halves.
      const a = half(0), b = half(1);
      const T = Math.max(a.shape![1], b.shape![1]);
      const join = (x: BigInt64Array, y: BigInt64Array, fill: bigint, tx: number, ty: number) => {
        const out = new BigInt64Array(16 * T).fill(fill);
        for (let r = 0; r < 8; r++) out.set(x.subarray(r * tx, (r + 1) * tx), r * T);
        for (let r = 0; r < 8; r++) out.set(y.subarray(r * ty, (r + 1) * ty), (8 + r) * T);
        return out;
      };
      const [ta, tb] = [a.shape![1], b.shape![1]];
      full.inputIds = join(a.inputIds as BigInt64Array, b.inputIds as BigInt64Array, 0n, ta, tb);
      full.attentionMask = join(a.attentionMask as BigInt64Array, b.attentionMask as BigInt64Array, 0n, ta, tb);
      full.tokenTypeIds = new BigInt64Array(16 * T);
      full.labels = join(a.labels as BigInt64Array, b.labels as BigInt64Array, -100n, ta, tb);
      full.shape = [16, T];
    }
    const run = async (batches: Batch[], accum: number) => {
      const model = build();
      const steps: StepRecord[] = [];
      const trainer = new Trainer(model, { ...quiet, lr: 1e-2, maxSteps: 1, gradientAccumulationSteps: accum, schedule: 'constant', maxGradNorm: 0, callbacks: [stepLosses(steps)] });
      await trainer.fit(ArraySource.fromBatches(batches));
      const state = model.stateDict();
      const flat = [...state.values()].map((x) => x.toArray() as Float32Array);
      for (const x of state.values()) x.dispose();
      model.dispose();
      return { flat, loss: steps[0].loss };
    };
    const big = await run([full], 1);
    const acc = await run([half(0), half(1)], 2);
    let maxDiff = 0;
    big.flat.forEach((a, i) => a.forEach((v, j) => { maxDiff = Math.max(maxDiff, Math.abs(v - acc.flat[i][j])); }));
    t.log(`${kind}: max |param diff| ${maxDiff.toExponential(2)}, loss ${big.loss} vs ${acc.loss}`);
    t.true(maxDiff < 1e-5, `${kind}: parameters differ by ${maxDiff}`);
    t.true(Math.abs(big.loss - acc.loss) < 1e-5, `${kind}: loss ${big.loss} vs ${acc.loss}`);
  }
});

test.serial('checkpoints keep the last K plus the best, with model, optimizer and trainer state', async (t) => {
  const dir = await tmp(t);
  const model = makeModel();
  const train = new ArraySource(makeExamples(32), { batchSize: 8, shuffle: true, seed: 1 });
  const evalData = new ArraySource(makeExamples(16, 9), { batchSize: 8 });
  // Rank by a metric that is best at step 2 and worse afterwards, so the best is an old checkpoint.
  let evals = 0;
  const trainer = new Trainer(model, {
    ...quiet, lr: 1e-3, maxSteps: 12, outputDir: dir, saveSteps: 2, evalSteps: 2, saveTotalLimit: 2,
    metricForBestModel: 'fake', greaterIsBetter: false,
    computeMetrics: () => ({ fake: [5, 1, 3, 4, 6, 7][evals++] }),
  });
  const r = await trainer.fit(train, { evalData });
  const kept = readdirSync(dir).sort();
  t.deepEqual(kept, ['checkpoint-10', 'checkpoint-12', 'checkpoint-4']);
  t.is(r.bestCheckpoint, path.join(dir, 'checkpoint-4'));
  t.is(r.bestMetric, 1);
  const ck = path.join(dir, 'checkpoint-12');
  for (const f of ['config.json', 'model.safetensors', 'optimizer.safetensors', 'trainer_state.json']) t.true(existsSync(path.join(ck, f)), f);
  const state = JSON.parse(readFileSync(path.join(ck, 'trainer_state.json'), 'utf8'));
  t.is(state.global_step, 12);
  t.deepEqual(state.data_position, { epoch: 2, index: 4 });
  t.is(state.seed, 42);
  t.is(state.best_model_checkpoint, path.join(dir, 'checkpoint-4'));
  t.true(state.log_history.some((h: Record<string, number>) => h.eval_fake === 1));
  model.dispose();
});

test('resuming from a damaged trainer_state.json is an error naming the file, and the checkpoint is left as it was', async (t) => {
  const dir = await tmp(t);
  const ck = path.join(dir, 'checkpoint-3');
  mkdirSync(ck, { recursive: true });
  const file = path.join(ck, 'trainer_state.json');
  const cases: Array<[string, RegExp]> = [
    ['{"global_step": 3, "data_po', /trainer_state\.json: not valid JSON/],
    ['null', /trainer_state\.json: missing or malformed global_step or data_position/],
    ['{"global_step": 3, "data_position": {"epoch": "x", "index": 0}}', /malformed global_step or data_position \{epoch, index\}/],
    ['{"global_step": 3, "data_position": {"epoch": 0, "index": 0}, "log_history": 5}', /log_history is not an array of records/],
  ];
  for (const [text, message] of cases) {
    writeFileSync(file, text);
    const m = makeModel();
    const err = await t.throwsAsync(new Trainer(m, { ...quiet, maxSteps: 2, outputDir: dir }).fit(new ArraySource(makeExamples(8), { batchSize: 4 }), { resume: ck }), { message });
    t.true(err!.message.startsWith(file), err!.message);
    t.is(readFileSync(file, 'utf8'), text);
    m.dispose();
  }
});

test.serial('a run resumed from a checkpoint repeats the uninterrupted loss curve exactly', async (t) => {
  const dir = await tmp(t);
  const opts = {
    ...quiet, lr: 2e-3, epochs: 3, warmupRatio: 0.2, weightDecay: 0.01, gradientAccumulationSteps: 2,
    outputDir: dir, loggingSteps: 1,
  };
  const source = () => new ArraySource(makeExamples(40), { batchSize: 4, shuffle: true, seed: 5 });
  // Uninterrupted: 3 epochs of 5 steps, dropout on.
  const full: StepRecord[] = [];
  const m1 = makeModel();
  await new Trainer(m1, { ...opts, outputDir: path.join(dir, 'a'), callbacks: [stepLosses(full)] }).fit(source());
  // Interrupted at step 7 (mid-epoch), then resumed by a fresh model and a fresh source.
  const ac = new AbortController();
  const first: StepRecord[] = [];
  const m2 = makeModel();
  const r2 = await new Trainer(m2, {
    ...opts, outputDir: path.join(dir, 'b'),
    callbacks: [stepLosses(first), { onStepEnd: (e) => { if (e.step.step === 7) ac.abort(); } }],
  }).fit(source(), { signal: ac.signal });
  t.is(r2.stopReason, 'aborted');
  t.is(r2.lastCheckpoint, path.join(dir, 'b', 'checkpoint-7'));
  manualSeed(12345);  // disturb the global generator: resume must not depend on it
  const rest: StepRecord[] = [];
  const m3 = makeModel({ seed: 99 });
  const r3 = await new Trainer(m3, { ...opts, outputDir: path.join(dir, 'b'), callbacks: [stepLosses(rest)] })
    .fit(source(), { resume: r2.lastCheckpoint! });
  t.is(r3.globalStep, 15);
  const resumed = [...first, ...rest].map((s) => s.loss);
  t.deepEqual(resumed, full.map((s) => s.loss));
  t.deepEqual([...first, ...rest].map((s) => s.lr), full.map((s) => s.lr));
  t.deepEqual(r3.state.log_history, JSON.parse(readFileSync(path.join(dir, 'a', 'checkpoint-15', 'trainer_state.json'), 'utf8')).log_history);
  for (const m of [m1, m2, m3]) m.dispose();
});

test.serial('early stopping ends training after `patience` evaluations without improvement', async (t) => {
  const model = makeModel();
  const values = [0.5, 0.6, 0.6, 0.55, 0.9, 0.9];
  let i = 0;
  const trainer = new Trainer(model, {
    ...quiet, lr: 1e-3, maxSteps: 50, evalSteps: 1, metricForBestModel: 'accuracy', earlyStoppingPatience: 2,
    computeMetrics: () => ({ accuracy: values[i++] }),
  });
  const r = await trainer.fit(new ArraySource(makeExamples(16), { batchSize: 4 }), { evalData: new ArraySource(makeExamples(4), { batchSize: 4 }) });
  t.is(r.stopReason, 'early_stopping');
  t.is(r.globalStep, 4);
  t.is(r.bestMetric, 0.6);
  t.is(r.state.best_step, 2);
  model.dispose();
});

test.serial('aborting stops after the current step and saves a checkpoint', async (t) => {
  const dir = await tmp(t);
  const model = makeModel();
  const ac = new AbortController();
  const trainer = new Trainer(model, {
    ...quiet, lr: 1e-3, epochs: 5, outputDir: dir, saveStrategy: 'no',
    callbacks: [{ onStepEnd: (e) => { if (e.step.step === 3) ac.abort(); } }],
  });
  const r = await trainer.fit(new ArraySource(makeExamples(32), { batchSize: 4 }), { signal: ac.signal });
  t.is(r.stopReason, 'aborted');
  t.is(r.globalStep, 3);
  t.deepEqual(readdirSync(dir), ['checkpoint-3']);
  t.deepEqual(r.state.data_position, { epoch: 0, index: 3 });
  model.dispose();
});

test.serial('a non-finite loss throws NonFiniteLossError naming the step', async (t) => {
  // lr 1e30: the first update blows the weights up, so step 2's loss is NaN.
  const model = makeModel();
  const trainer = new Trainer(model, { ...quiet, lr: 1e30, maxSteps: 5, maxGradNorm: 0 });
  const err = await t.throwsAsync(trainer.fit(new ArraySource(makeExamples(32), { batchSize: 4 })), { instanceOf: NonFiniteLossError, code: 'ERR_NON_FINITE_LOSS' });
  t.is(err!.step, 2);
  t.regex(err!.message, /non-finite loss \(.*\) at training step 2/);
  // The same with gradient accumulation (forwardBackward + optimizerStep path).
  const m2 = makeModel();
  const e2 = await t.throwsAsync(new Trainer(m2, { ...quiet, lr: 1e30, maxSteps: 5, gradientAccumulationSteps: 2 })
    .fit(new ArraySource(makeExamples(32), { batchSize: 4 })), { instanceOf: NonFiniteLossError });
  t.is(e2!.step, 2);
  model.dispose();
  m2.dispose();
});

for (const accum of [1, 2]) {
  test.serial(`a finite loss with a non-finite gradient norm stops or skips the step (accumulation ${accum})`, async (t) => {
    // After step 1 a callback plants an inf gradient: step 2's backward adds to it.
    const plant = (model: BertForSequenceClassification) => ({
      onStepEnd({ step }: { step: StepRecord }) {
        if (step.step === 1) model.setGrads(new Map([['classifier.weight', full(model.stateDict().get('classifier.weight')!.shape, Infinity)]]));
      },
    });
    const data = () => new ArraySource(makeExamples(32), { batchSize: 4 });
    const model = makeModel();
    const err = await t.throwsAsync(new Trainer(model, { ...quiet, lr: 1e-3, maxSteps: 4, gradientAccumulationSteps: accum, callbacks: [plant(model)] }).fit(data()),
      { instanceOf: NonFiniteLossError, message: /non-finite gradient norm \(Infinity; loss [0-9.]+\) at training step 2/ });
    t.is(err!.step, 2);
    t.is(err!.gradNorm, Infinity);
    t.true(Number.isFinite(err!.loss));
    const m2 = makeModel();
    const steps: StepRecord[] = [];
    const r = await new Trainer(m2, { ...quiet, lr: 1e-3, maxSteps: 4, gradientAccumulationSteps: accum, onNonFinite: 'skip', callbacks: [plant(m2), stepLosses(steps)] }).fit(data());
    t.deepEqual(steps.map((s) => s.skipped), [false, true, false, false]);
    t.is(r.state.skipped_steps, 1);
    for (const [k, p] of m2.stateDict()) t.true((p.toArray() as Float32Array).every(Number.isFinite), `${k} stays finite`);
    model.dispose();
    m2.dispose();
  });
}

test.serial("onNonFinite: 'skip' skips an overflowing batch and keeps training", async (t) => {
  // Regression targets of 3e38 overflow the squared error to inf without touching the weights.
  const model = BertForSequenceClassification.create({ ...TINY, problem_type: 'regression', id2label: { 0: 'y' }, label2id: { y: 0 } }, { seed: 3 });
  const batch = (y: number): Batch => {
    const b = collateExamples(makeExamples(4, y + 2).map((e) => ({ inputIds: e.inputIds })));
    return { ...b, labels: new Float32Array(4).fill(y) };
  };
  const batches = [batch(1), batch(3e38), batch(0.5), batch(2)];
  const steps: StepRecord[] = [];
  const r = await new Trainer(model, { ...quiet, lr: 1e-3, epochs: 1, onNonFinite: 'skip', callbacks: [stepLosses(steps)] }).fit(ArraySource.fromBatches(batches));
  t.is(r.globalStep, 4);
  t.is(r.state.skipped_steps, 1);
  t.deepEqual(steps.map((s) => s.skipped), [false, true, false, false]);
  t.true(Number.isFinite(r.trainLoss));
  t.is(model.optimizerStepCount, 3);
  await t.throwsAsync(new Trainer(model, { ...quiet, lr: 1e-3, epochs: 1 }).fit(ArraySource.fromBatches(batches)), { instanceOf: NonFiniteLossError, message: /training step 2/ });
  model.dispose();
});

test.serial('fine-tuning learns the task; evaluate and predict report it', async (t) => {
  const dir = await tmp(t);
  const model = makeModel({ dropout: 0 });
  const train = new ArraySource(makeExamples(96), { batchSize: 16, shuffle: true });
  const test_ = new ArraySource(makeExamples(48, 77), { batchSize: 16 });
  const trainer = new Trainer(model, { ...quiet, lr: 3e-3, epochs: 30, warmupSteps: 10, runName: 'learn', runsDir: dir, loggingSteps: 5 });
  const before = await trainer.evaluate(test_);
  const r = await trainer.fit(train, { evalData: test_ });
  const after = await trainer.evaluate(test_);
  t.log(before, after, r.trainLoss);
  t.true(after.eval_loss < before.eval_loss);
  t.true(after.eval_accuracy > 0.6, `accuracy ${after.eval_accuracy}`);
  for (const k of ['eval_loss', 'eval_accuracy', 'eval_f1', 'eval_precision', 'eval_recall']) t.is(typeof after[k], 'number', k);
  const p = await trainer.predict(test_);
  t.is(p.predictions.length, 48);
  t.is(p.labels!.length, 48);
  t.is(p.metrics.test_accuracy, after.eval_accuracy);
  // metrics.jsonl holds every logged record; report.html exists.
  const lines = readFileSync(path.join(dir, 'learn', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.deepEqual(lines, r.state.log_history);
  t.true(lines.some((l) => 'eval_accuracy' in l) && lines.some((l) => 'learning_rate' in l));
  t.true(existsSync(path.join(dir, 'learn', 'report.html')));
  model.dispose();
});

test.serial('bad options are refused with the argument named', (t) => {
  const model = makeModel();
  t.throws(() => new Trainer(model, { epochs: 0 }), { instanceOf: RangeError, message: /for epochs/ });
  t.throws(() => new Trainer(model, { saveSteps: 5 }), { instanceOf: TypeError, message: /for outputDir/ });
  t.throws(() => new Trainer(model, { schedule: 'exp' as never }), { instanceOf: RangeError, message: /for schedule/ });
  t.throws(() => new Trainer({} as never), { instanceOf: TypeError, message: /for model/ });
  model.dispose();
});

test('the device and bf16 options place and cast the training; bad values are refused', async (t) => {
  const model = makeModel({ dropout: 0 });
  const train = new ArraySource(makeExamples(16), { batchSize: 8, seed: 1 });
  const trainer = new Trainer(model, { ...quiet, device: 'cpu', bf16: true, epochs: 1, lr: 1e-3 });
  const r = await trainer.fit(train);
  t.is(r.globalStep, 2);
  t.true(Number.isFinite(r.trainLoss));
  t.is(model.device, 'cpu');
  t.throws(() => new Trainer(model, { device: 'tpu' as never }), { instanceOf: RangeError, message: /for device/ });
  t.throws(() => new Trainer(model, { bf16: 'yes' as never }), { instanceOf: TypeError, message: /for bf16/ });
  model.dispose();
});
