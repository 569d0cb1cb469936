// lib/data's DataLoader is a BatchSource: the Trainer trains on it and resumes
// it exactly (its prefetching and end-of-epoch reset included).
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DataLoader, type Batch as DataBatch } from '../lib/data/index.js';
import { BertForSequenceClassification } from '../lib/index.js';
import { collateExamples, isBatchSource, Trainer, type Example, type StepRecord } from '../lib/train/index.js';

const examples: Example[] = Array.from({ length: 30 }, (_, i) => {
  const label = (i * 7) % 3;
  return { inputIds: [2, 8 + ((i * 5) % 20), 5 + label, 8 + ((i * 11) % 20), ...(i % 2 ? [9] : []), 3], label };
});
const dataset = { length: examples.length, get: (i: number) => examples[i] };
const loader = () => new DataLoader(dataset, { batchSize: 4, shuffle: true, seed: 3, collate: (xs) => collateExamples(xs) as DataBatch });

const model = () => BertForSequenceClassification.create({
  vocab_size: 32, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32, max_position_embeddings: 16,
  id2label: { 0: 'a', 1: 'b', 2: 'c' }, label2id: { a: 0, b: 1, c: 2 },
}, { seed: 5 });

test.serial('a DataLoader is a BatchSource', (t) => {
  t.true(isBatchSource(loader()));
});

test.serial('training on a DataLoader resumes mid-epoch to the same losses', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'bertorch-dl-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const opts = { progress: 'none' as const, epochs: 3, lr: 3e-3, gradientAccumulationSteps: 2 };
  const rec = (into: StepRecord[]) => ({ onStepEnd: (e: { step: StepRecord }) => { into.push(e.step); } });
  const full: StepRecord[] = [];
  const m1 = model();
  const r1 = await new Trainer(m1, { ...opts, callbacks: [rec(full)] }).fit(loader());
  t.is(r1.globalStep, 12);  // 8 batches an epoch, 4 steps an epoch
  const ac = new AbortController();
  const first: StepRecord[] = [];
  const m2 = model();
  const r2 = await new Trainer(m2, { ...opts, outputDir: dir, callbacks: [rec(first), { onStepEnd: (e) => { if (e.step.step === 6) ac.abort(); } }] })
    .fit(loader(), { signal: ac.signal });
  t.deepEqual(r2.state.data_position, { epoch: 1, index: 4 });
  const rest: StepRecord[] = [];
  const m3 = model();
  await new Trainer(m3, { ...opts, outputDir: dir, callbacks: [rec(rest)] }).fit(loader(), { resume: true });
  t.deepEqual([...first, ...rest].map((s) => s.loss), full.map((s) => s.loss));
  for (const m of [m1, m2, m3]) m.dispose();
});
