// Pretraining recipes as options (issue 23 item 2), each checked for doing
// what it says: the masking rate, whole-word masking, packing into full
// blocks without padding, dropout off while pretraining (and back for
// fine-tuning), gradient accumulation through the CLI, and the one-cycle
// schedule.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MlmDataset, type MaskingVocab } from '../lib/data/index.js';
import { BertForMaskedLM } from '../lib/index.js';
import { MlmSource, Trainer } from '../lib/train/index.js';
import { cli } from './helpers/cli.js';

// ids: 0 pad, 1 unk, 2 cls, 3 sep, 4 mask; 5..49 word starts; 50..99 '##' continuations.
const VOCAB: MaskingVocab = {
  maskId: 4, vocabSize: 100,
  special: Uint8Array.from({ length: 100 }, (_, id) => (id <= 4 ? 1 : 0)),
  continuation: Uint8Array.from({ length: 100 }, (_, id) => (id >= 50 ? 1 : 0)),
};

/** A reader over sequences (the ShardReader surface MlmDataset uses). */
function reader(seqs: number[][]) {
  const flat = seqs.flat();
  return {
    length: seqs.length,
    get: (i: number) => Int32Array.from(seqs[i]),
    lengthOf: (i: number) => seqs[i].length,
    blocks: (size: number) => ({
      length: Math.floor(flat.length / size),
      get: (j: number) => Int32Array.from(flat.slice(j * size, (j + 1) * size)),
    }),
  };
}

let s = 11;
const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
/** Sentences of words of 1-3 pieces, each wrapped in [CLS] ... [SEP]. */
const sentences = Array.from({ length: 200 }, () => {
  const ids = [2];
  for (let w = 0; w < 10; w++) {
    ids.push(5 + Math.floor(rand() * 45));
    for (let k = Math.floor(rand() * 3); k > 0; k--) ids.push(50 + Math.floor(rand() * 50));
  }
  return [...ids, 3];
});

test('--mlm-probability 0.4 makes 40% of the non-special tokens targets', (t) => {
  for (const p of [0.15, 0.4]) {
    const ds = new MlmDataset(reader(sentences), { tokenizer: VOCAB, probability: p, seed: 1 });
    let targets = 0, candidates = 0;
    for (let i = 0; i < ds.length; i++) {
      const ex = ds.get(i);
      const orig = sentences[i];
      orig.forEach((id, k) => { if (id > 4) { candidates++; if (ex.labels[k] !== -100) targets++; } });
    }
    const rate = targets / candidates;
    t.log(`probability ${p}: ${(rate * 100).toFixed(1)}% of ${candidates} tokens are targets`);
    t.true(Math.abs(rate - p) < 0.03, `rate ${rate}`);
  }
});

test('--whole-word-mask masks every piece of a chosen word, and no piece alone', (t) => {
  const ds = new MlmDataset(reader(sentences), { tokenizer: VOCAB, probability: 0.3, wholeWord: true, seed: 2 });
  let words = 0, split = 0;
  for (let i = 0; i < ds.length; i++) {
    const { labels } = ds.get(i);
    const ids = sentences[i];
    for (let k = 1; k < ids.length - 1; k++) {
      if (ids[k] >= 50) continue;
      let end = k + 1;
      while (ids[end] >= 50) end++;
      const marked = Array.from(labels.subarray(k, end), (l) => l !== -100);
      if (marked.some(Boolean)) words++;
      if (marked.some(Boolean) && !marked.every(Boolean)) split++;
    }
  }
  t.true(words > 100);
  t.is(split, 0, 'a word is a target as a whole or not at all');
});

test('with a block size, examples are packed: every block is full, with no padding', (t) => {
  const ds = new MlmDataset(reader(sentences), { tokenizer: VOCAB, blockSize: 64, seed: 3, probability: 0 });
  const total = sentences.flat().length;
  t.is(ds.length, Math.floor(total / 64));
  for (let i = 0; i < ds.length; i++) {
    const ex = ds.get(i);
    t.is(ex.inputIds.length, 64);
    if (ex.inputIds.includes(0)) t.fail(`block ${i} holds padding`);
  }
  // Blocks cross sentence boundaries: a [SEP] is followed by the next [CLS] inside one block.
  t.true(Array.from({ length: ds.length }, (_, i) => ds.get(i).inputIds).some((b) => b.findIndex((x, k) => x === 3 && b[k + 1] === 2) >= 0));
});

test.serial('schedule one_cycle rises linearly to the peak at the middle and falls to 0 at the last step', async (t) => {
  const model = BertForMaskedLM.create({ vocab_size: 100, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 64 }, { seed: 1 });
  t.teardown(() => model.dispose());
  const lrs: number[] = [];
  const src = new MlmSource(sentences.slice(0, 40), { batchSize: 4, seed: 1, maskTokenId: 4, vocabSize: 100, specialIds: [0, 2, 3], mlmProbability: 0.3 });
  await new Trainer(model, { progress: 'none', lr: 1e-3, schedule: 'one_cycle', maxSteps: 10, callbacks: [{ onStepEnd: (e) => { lrs.push(e.step.lr); } }] }).fit(src);
  // Step k (0-based) runs at progress k / 10: up over [0, 0.5], down over [0.5, 1].
  t.deepEqual(lrs.map((x) => Math.round(x * 1e5) / 1e2), [0, 0.2, 0.4, 0.6, 0.8, 1, 0.8, 0.6, 0.4, 0.2]);
});


/** `n` random lowercase words of 3-7 letters, and a line of `k` of them. */
const randomWords = (n: number) => Array.from({ length: n }, () => Array.from({ length: 3 + Math.floor(rand() * 5) }, () => 'abcdefghijklmnopqrstuvwxyz'[Math.floor(rand() * 26)]).join(''));
const randomLine = (words: string[], k: number) => Array.from({ length: k }, () => words[Math.floor(rand() * words.length)]).join(' ');

test.serial('pretrain --no-dropout trains without dropout and saves the fine-tuning dropout; --gradient-accumulation-steps 2 halves the optimizer steps', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'bertorch-recipes-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const words = randomWords(300);
  await writeFile(path.join(dir, 'c.txt'), Array.from({ length: 80 }, () => randomLine(words, 12)).join('\n') + '\n');
  const run = (out: string, extra: string[]) => cli(['pretrain', '--corpus', path.join(dir, 'c.txt'), '--out', path.join(dir, out), '--preset', 'tiny', '--vocab-size', '200',
    '--max-length', '32', '--batch-size', '8', '--epochs', '1', '--validation', '0', '--save-steps', '1000', '--quiet', ...extra]);
  const [plain, accum] = [await run('plain', ['--no-dropout', '--whole-word-mask', '--mlm-probability', '0.4']), await run('accum', ['--gradient-accumulation-steps', '2'])];
  t.is(plain.code, 0, plain.stderr);
  t.is(accum.code, 0, accum.stderr);
  const steps = [JSON.parse(plain.stdout).steps, JSON.parse(accum.stdout).steps];
  t.is(steps[1], Math.ceil(steps[0] / 2), `${steps}`);
  // The checkpoint is what was trained (dropout 0); the saved folder is for fine-tuning (0.1).
  const ckpt = JSON.parse(readFileSync(path.join(dir, 'plain', 'checkpoints', `checkpoint-${steps[0]}`, 'config.json'), 'utf8'));
  const saved = JSON.parse(readFileSync(path.join(dir, 'plain', 'config.json'), 'utf8'));
  t.deepEqual([ckpt.hidden_dropout_prob, ckpt.attention_probs_dropout_prob], [0, 0]);
  t.deepEqual([saved.hidden_dropout_prob, saved.attention_probs_dropout_prob], [0.1, 0.1]);
});

test.serial('--bf16 trains pretrain and finetune under bf16 autocast, the summary says so, and the losses differ from float32 at the same seed', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'bertorch-bf16-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const words = randomWords(200);
  const line = () => randomLine(words, 10);
  await writeFile(path.join(dir, 'c.txt'), Array.from({ length: 64 }, line).join('\n') + '\n');
  await writeFile(path.join(dir, 'l.csv'), 'text,label\n' + Array.from({ length: 32 }, (_, k) => `${line()},${k % 2 ? 'pos' : 'neg'}`).join('\n') + '\n');
  const pretrain = (out: string, extra: string[]) => cli(['pretrain', '--corpus', path.join(dir, 'c.txt'), '--out', path.join(dir, out), '--preset', 'tiny',
    '--vocab-size', '200', '--max-length', '32', '--batch-size', '8', '--max-steps', '4', '--validation', '0', '--quiet', ...extra]);
  const runs = [await pretrain('fp32', []), await pretrain('bf16', ['--bf16']), await pretrain('off', ['--no-bf16'])];
  for (const r of runs) t.is(r.code, 0, r.stderr);
  const [fp32, bf16, off] = runs.map((r) => JSON.parse(r.stdout));
  t.deepEqual([fp32.bf16, bf16.bf16, off.bf16], [false, true, false]);
  t.is(off.trainLoss, fp32.trainLoss);  // --no-bf16 is the CPU default
  t.not(bf16.trainLoss, fp32.trainLoss, 'bf16 rounding must move the loss');
  const ft = await cli(['finetune', '--model', path.join(dir, 'bf16'), '--train', path.join(dir, 'l.csv'), '--out', path.join(dir, 'ft'),
    '--max-steps', '2', '--batch-size', '8', '--max-length', '32', '--no-baseline', '--quiet', '--bf16']);
  t.is(ft.code, 0, ft.stderr);
  t.true(JSON.parse(ft.stdout).bf16);
});
