/**
 * Where a fine-tuning step's time goes on real, variable-length batches
 * (issue 18), bertorch beside HF (peer_phases.py) on the same batches: the
 * first --batches batches of train.csv in file order, batch --batch-size,
 * padded to each batch's longest (DataCollatorWithPadding's rule on both sides).
 * Per batch: tokenize + collate, forward (with autograd), backward, AdamW step
 * (clipping at 1.0, as Trainer), and an evaluation forward (no autograd)
 * with and without skipping padding; once: writing a checkpoint.
 *
 *   npx tsx scripts/bench/e2e/phases.ts --model DIR --train train.csv [--batches 30] [--batch-size 32]
 *       [--max-length 64] [--threads N] [--no-peer]
 *
 * stdout: JSON lines, one per side (medians in ms, first-use costs) and a ratio line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BertForSequenceClassification, info } from '../../../lib/index.js';
import { classificationCollator, ClassificationDataset } from '../../../lib/data/index.js';
import { Tokenizer } from '../../../lib/tokenizer.js';
import { emit, intFlag, log, median, now, parseFlags, round, runPeer, type Json } from '../common.js';

const flags = parseFlags(process.argv.slice(2));
const model = flags.get('model');
const trainFile = flags.get('train');
if (!model || !trainFile) throw new RangeError('phases: --model DIR and --train train.csv are required');
const batches = intFlag(flags, 'batches', 30);
const batchSize = intFlag(flags, 'batch-size', 32);
const maxLength = intFlag(flags, 'max-length', 64);
const threads = intFlag(flags, 'threads', info().intraOpThreads);

const tokenizer = await Tokenizer.fromPretrained(model);
const data = await ClassificationDataset.fromFile(trainFile);
const collate = classificationCollator(tokenizer, { maxLength, problemType: data.problemType });
const m = (await BertForSequenceClassification.fromPretrained(model, { labels: [...data.labels] })).train();
m.configureOptimizer({ lr: 5e-5, weightDecay: 0.01 });

const t: Record<string, number[]> = { collate: [], forward: [], backward: [], optimizer: [], eval_forward_padded: [], eval_forward_skip: [] };
let real = 0, padded = 0;
const lengths: number[] = [];
for (let i = 0; i < batches; i++) {
  const rows = Array.from({ length: batchSize }, (_, k) => data.get((i * batchSize + k) % data.length));
  let t0 = now();
  const batch = await collate(rows as never);
  t.collate.push(now() - t0);
  const [B, T] = batch.shape as [number, number];
  lengths.push(T);
  padded += B * T;
  for (const v of batch.attentionMask as BigInt64Array) real += Number(v);
  m.train();
  t0 = now();
  const out = await m.forward(batch, { grad: true, skipPadding: true });
  t.forward.push(now() - t0);
  t0 = now();
  out.loss!.backward();
  t.backward.push(now() - t0);
  out.logits.dispose();
  out.loss!.dispose();
  t0 = now();
  await m.optimizerStep({ maxGradNorm: 1 });
  t.optimizer.push(now() - t0);
  m.eval();
  for (const [k, skipPadding] of [['eval_forward_padded', false], ['eval_forward_skip', true]] as const) {
    t0 = now();
    const e = await m.forward(batch, { skipPadding });
    t[k].push(now() - t0);
    e.logits.dispose();
  }
}
const dir = mkdtempSync(path.join(os.tmpdir(), 'bertorch-phases-'));
let t0 = now();
await m.savePretrained(dir);
const saveS = now() - t0;
rmSync(dir, { recursive: true, force: true });
m.dispose();

/** Medians over the repeat steps (the first use of a length pays for what is built per shape). */
function summarize(times: Record<string, number[]>, lens: number[]): Json {
  const seen = new Set<number>();
  const repeat = lens.map((len) => { const r = seen.has(len); seen.add(len); return r; });
  const out: Json = {};
  for (const [k, v] of Object.entries(times)) {
    out[`${k}_ms`] = round(median(v.filter((_, i) => repeat[i]).map((s) => s * 1e3)), 1);
    out[`${k}_first_use_ms`] = round(median(v.filter((_, i) => !repeat[i]).map((s) => s * 1e3)), 1);
  }
  return out;
}

const ours: Json = {
  bench: 'e2e-phases', impl: 'bertorch', threads, batches, batch_size: batchSize, shapes: new Set(lengths).size,
  padding_share: round(1 - real / padded, 3), ...summarize(t, lengths), save_s: round(saveS, 2),
};
ours.step_ms = round((ours.collate_ms as number) + (ours.forward_ms as number) + (ours.backward_ms as number) + (ours.optimizer_ms as number), 1);
emit(ours);
if (!flags.has('no-peer')) {
  log('HF peer (peer_phases.py) on the same batches...');
  const [peer] = await runPeer('e2e/peer_phases.py', ['--model', model, '--train', trainFile,
    '--batches', String(batches), '--batch-size', String(batchSize), '--max-length', String(maxLength), '--threads', String(threads)]);
  emit(peer);
  const ratio: Json = { bench: 'e2e-phases', kind: 'ratio' };
  for (const k of ['collate_ms', 'forward_ms', 'backward_ms', 'optimizer_ms', 'eval_forward_skip_ms', 'step_ms', 'save_s']) {
    const a = ours[k] as number, b = (k === 'eval_forward_skip_ms' ? peer.eval_forward_ms : peer[k]) as number;
    if (typeof a === 'number' && typeof b === 'number') ratio[`ahead_${k}`] = round(b / a, 2);
  }
  emit(ratio);
}
