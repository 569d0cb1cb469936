// Time-budgeted pretraining (issue 23 item 1): the schedule runs on elapsed /
// maxTime and ends exactly at the budget; a run stopped at the budget, or
// aborted, leaves a checkpoint that loads and resumes; the CLI's --max-time.
// The Trainer reads the clock through performance.now(); the in-process tests
// replace it with a clock that each step advances by one second, so the
// budget is counted in steps and nothing depends on the machine's speed.
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BertForMaskedLM } from '../lib/index.js';
import { MlmSource, Trainer, readTrainerState, type StepRecord } from '../lib/train/index.js';
import { parseDuration, scheduleFactor } from '../lib/train/schedule.js';

const TINY = { vocab_size: 40, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 32 };
const BIN = fileURLToPath(new URL('../bin/bertorch.js', import.meta.url));

function source(n = 24) {
  let s = 3;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  const texts = Array.from({ length: n }, () => [2, ...Array.from({ length: 10 }, () => 8 + Math.floor(rand() * 32)), 3]);
  return new MlmSource(texts, { batchSize: 4, shuffle: true, seed: 3, maskTokenId: 4, vocabSize: 40, specialIds: [0, 2, 3], mlmProbability: 0.3 });
}

async function tmp(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bertorch-maxtime-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** performance.now() under the test's control: `tick()` advances it by 1 s. */
function fakeClock(t: { teardown: (fn: () => void) => void }) {
  const real = performance.now.bind(performance);
  let ms = 1e6;
  performance.now = () => ms;
  t.teardown(() => { performance.now = real; });
  return { tick: () => { ms += 1000; } };
}

test('scheduleFactor: linear and cosine reach 0 at the end, warmup rises linearly, one_cycle peaks at its warmup share', (t) => {
  t.is(scheduleFactor('linear', 0, 0), 1);
  t.is(scheduleFactor('linear', 1, 0), 0);
  t.is(scheduleFactor('linear', 0.75, 0), 0.25);
  t.is(scheduleFactor('linear', 0.05, 0.1), 0.5);
  t.true(Math.abs(scheduleFactor('cosine', 1, 0.1)) < 1e-12);
  t.is(scheduleFactor('one_cycle', 0.5, 0), 1);
  t.is(scheduleFactor('one_cycle', 0.25, 0), 0.5);
  t.is(scheduleFactor('one_cycle', 1, 0), 0);
  t.is(scheduleFactor('one_cycle', 0.3, 0.3), 1);
  t.is(scheduleFactor('constant', 1, 0), 1);
  t.is(scheduleFactor('linear', 2, 0), 0, 'progress past the end is clamped');
});

test('parseDuration reads seconds, 90s, 30m, 1.5h and 1h30m, and refuses the rest', (t) => {
  t.is(parseDuration('45'), 45);
  t.is(parseDuration('90s'), 90);
  t.is(parseDuration('30m'), 1800);
  t.is(parseDuration('1.5h'), 5400);
  t.is(parseDuration('1h30m'), 5400);
  for (const bad of ['', '0', '-5m', '30 minutes', 'm', 'abc']) t.throws(() => parseDuration(bad), { instanceOf: RangeError }, bad);
});

test.serial('with maxTime the learning rate follows elapsed / budget and reaches the schedule\'s end when the budget runs out', async (t) => {
  const clock = fakeClock(t);
  const model = BertForMaskedLM.create(TINY, { seed: 1 });
  t.teardown(() => model.dispose());
  const steps: StepRecord[] = [];
  // Each step "takes" one second: the 10 s budget is 10 steps, over more than one epoch (6 batches).
  const trainer = new Trainer(model, {
    progress: 'none', lr: 1e-3, schedule: 'linear', warmupRatio: 0.2, maxTime: 10, epochs: 1,
    callbacks: [{ onStepEnd: (e) => { steps.push(e.step); clock.tick(); } }],
  });
  const r = await trainer.fit(source());
  t.is(r.stopReason, 'max_time');
  t.is(r.globalStep, 10, 'it stops at the first step that ends at or past the budget; epochs is ignored');
  t.true(r.epoch > 1);
  // Step k starts at k - 1 seconds: progress (k - 1) / 10; warmup over the first 20% of the time.
  const expected = [0, 0.5, 1, 7 / 8, 6 / 8, 5 / 8, 4 / 8, 3 / 8, 2 / 8, 1 / 8].map((f) => 1e-3 * f);
  const largest = Math.max(...steps.map((s, k) => Math.abs(s.lr - expected[k])));
  t.log(`largest lr difference ${largest.toExponential(2)}`);
  t.true(largest < 1e-12, `lrs ${steps.map((s) => s.lr).join(', ')}`);
  // At the moment the budget runs out, the schedule is at its end.
  t.is(scheduleFactor('linear', r.runtime / 10, 0.2), 0);
  t.true(Math.abs(r.runtime - 10) < 1e-9);
});

test.serial('maxSteps still bounds a budgeted run, and the schedule stays on time', async (t) => {
  const clock = fakeClock(t);
  const model = BertForMaskedLM.create(TINY, { seed: 1 });
  t.teardown(() => model.dispose());
  const lrs: number[] = [];
  const trainer = new Trainer(model, { progress: 'none', lr: 1e-3, maxTime: 100, maxSteps: 4, callbacks: [{ onStepEnd: (e) => { lrs.push(e.step.lr); clock.tick(); } }] });
  const r = await trainer.fit(source());
  t.is(r.stopReason, 'completed');
  t.deepEqual(lrs.map((x) => Math.round(x * 1e6)), [1000, 990, 980, 970]);
});

test.serial('a run stopped at the budget and an aborted run both leave a checkpoint that loads and resumes', async (t) => {
  const dir = await tmp(t);
  const clock = fakeClock(t);
  for (const how of ['budget', 'abort'] as const) {
    const model = BertForMaskedLM.create(TINY, { seed: 1 });
    const out = path.join(dir, how);
    const ac = new AbortController();
    const trainer = new Trainer(model, {
      progress: 'none', lr: 1e-3, maxTime: 6, outputDir: out, saveAtEnd: how === 'budget',
      callbacks: [{ onStepEnd: (e) => { clock.tick(); if (how === 'abort' && e.step.step === 3) ac.abort(); } }],
    });
    const r = await trainer.fit(source(), { signal: ac.signal });
    model.dispose();
    const step = how === 'budget' ? 6 : 3;
    t.is(r.stopReason, how === 'budget' ? 'max_time' : 'aborted');
    t.is(r.lastCheckpoint, path.join(out, `checkpoint-${step}`));
    const state = await readTrainerState(r.lastCheckpoint!);
    t.is(state.global_step, step);
    t.true(Math.abs(state.train_runtime - step) < 1e-9, 'the checkpoint records the time spent');
    const loaded = await BertForMaskedLM.fromPretrained(r.lastCheckpoint!);
    t.deepEqual(loaded.loadReport?.missing ?? [], []);
    // Resuming counts the time already spent: the aborted run finishes its budget in 3 more steps, the spent one takes none.
    const more: number[] = [];
    const resumed = new Trainer(loaded, { progress: 'none', lr: 1e-3, maxTime: 6, outputDir: out, callbacks: [{ onStepEnd: (e) => { more.push(e.step.step); clock.tick(); } }] });
    const r2 = await resumed.fit(source(), { resume: true });
    loaded.dispose();
    t.is(r2.stopReason, 'max_time');
    t.deepEqual(more, how === 'abort' ? [4, 5, 6] : [], how);
  }
});

test.serial('bertorch pretrain --max-time stops at the budget, shows the time left and saves a model folder that loads', async (t) => {
  const dir = await tmp(t);
  // Words of random letters, so that no two lines are near-duplicates (the corpus step drops those).
  let s = 9;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  const words = Array.from({ length: 300 }, () => Array.from({ length: 3 + Math.floor(rand() * 5) }, () => 'abcdefghijklmnopqrstuvwxyz'[Math.floor(rand() * 26)]).join(''));
  const lines = Array.from({ length: 400 }, () => Array.from({ length: 8 + Math.floor(rand() * 8) }, () => words[Math.floor(rand() * words.length)]).join(' '));
  await writeFile(path.join(dir, 'corpus.txt'), lines.join('\n') + '\n');
  const out = path.join(dir, 'out');
  const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'pretrain', '--corpus', path.join(dir, 'corpus.txt'), '--out', out, '--preset', 'tiny',
      '--vocab-size', '200', '--max-length', '32', '--batch-size', '8', '--max-time', '4s', '--logging-steps', '5', '--validation', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  t.is(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  t.is(summary.stopReason, 'max_time');
  t.true(summary.steps > 0);
  t.regex(r.stderr, /\d+:\d\d left/);
  t.regex(r.stderr, /time budget of 4 s reached/);
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json']) t.true(existsSync(path.join(out, f)), f);
  const state = JSON.parse(readFileSync(path.join(out, 'checkpoints', `checkpoint-${summary.steps}`, 'trainer_state.json'), 'utf8'));
  t.true(state.train_runtime >= 4);
  const model = await BertForMaskedLM.fromPretrained(out);
  t.true(model.config.vocab_size <= 200);
  model.dispose();
});
