// Masked-LM masking tests: the BERT rates (15% of eligible tokens; 80%
// [MASK], 10% random, 10% kept) on a large sample, special and padding
// tokens never chosen, labels -100 elsewhere, the same mask for the same
// (seed, epoch, index) and a new one per epoch, whole words masked together,
// and MlmDataset over real shards.

import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '../lib/tokenizer.js';
import { IGNORE_INDEX, Rng, maskTokens, maskingVocabOf, type MaskingVocab } from '../lib/data/masking.js';
import { MlmDataset } from '../lib/data/datasets.js';
import { MlmSource } from '../lib/train/index.js';
import { ShardReader, writeShards } from '../lib/data/shards.js';

// Ids 0-4 are [PAD] [UNK] [CLS] [SEP] [MASK]; 5..999 ordinary; 500..999 are "##" pieces.
const VOCAB_SIZE = 1000;
const special = new Uint8Array(VOCAB_SIZE);
special.fill(1, 0, 5);
const continuation = new Uint8Array(VOCAB_SIZE);
continuation.fill(1, 500);
const vocab: MaskingVocab = { maskId: 4, vocabSize: VOCAB_SIZE, special, continuation };

// [CLS] words... [SEP] [PAD]...: a sequence with some special tokens and padding.
function sequence(rng: Rng, length: number, pad = 0): Int32Array {
  const ids = new Int32Array(length + pad);
  ids[0] = 2;
  for (let t = 1; t < length - 1; t++) ids[t] = 5 + rng.int(VOCAB_SIZE - 5);
  ids[length - 1] = 3;
  return ids;
}

test('about 15% of eligible tokens are targets, split 80/10/10 into [MASK], random and kept', (t) => {
  const rng = new Rng(123);
  let eligible = 0;
  let targets = 0;
  let masked = 0;
  let kept = 0;
  let replaced = 0;
  for (let index = 0; index < 4000; index++) {
    const ids = sequence(rng, 128, index % 3 === 0 ? 20 : 0);
    const out = maskTokens(ids, vocab, { seed: 7, epoch: 0, index });
    for (let k = 0; k < ids.length; k++) {
      if (special[ids[k]]) {
        t.is(out.labels[k], IGNORE_INDEX);
        if (out.inputIds[k] !== ids[k]) t.fail(`special token changed at ${index}:${k}`);
        continue;
      }
      eligible++;
      if (out.labels[k] === IGNORE_INDEX) {
        if (out.inputIds[k] !== ids[k]) t.fail(`non-target changed at ${index}:${k}`);
        continue;
      }
      if (out.labels[k] !== ids[k]) t.fail(`label is not the original id at ${index}:${k}`);
      targets++;
      if (out.inputIds[k] === 4) masked++;
      else if (out.inputIds[k] === ids[k]) kept++;
      else replaced++;
    }
  }
  const rate = targets / eligible;
  t.log(`eligible ${eligible}, targets ${(rate * 100).toFixed(2)}%, mask ${((masked / targets) * 100).toFixed(2)}%, ` +
    `random ${((replaced / targets) * 100).toFixed(2)}%, kept ${((kept / targets) * 100).toFixed(2)}%`);
  t.true(Math.abs(rate - 0.15) < 0.003, `target rate ${rate}`);
  t.true(Math.abs(masked / targets - 0.8) < 0.01);
  // A random replacement equal to the original (or to [MASK]) counts as kept (or masked): 0.1 x 1/1000.
  t.true(Math.abs(replaced / targets - 0.1) < 0.01);
  t.true(Math.abs(kept / targets - 0.1) < 0.01);
});

test('the same seed, epoch and index give the same mask; another epoch or index gives another', (t) => {
  const ids = sequence(new Rng(5), 256);
  const a = maskTokens(ids, vocab, { seed: 1, epoch: 2, index: 3 });
  t.deepEqual(maskTokens(ids, vocab, { seed: 1, epoch: 2, index: 3 }), a);
  t.notDeepEqual(maskTokens(ids, vocab, { seed: 1, epoch: 3, index: 3 }).labels, a.labels);
  t.notDeepEqual(maskTokens(ids, vocab, { seed: 1, epoch: 2, index: 4 }).labels, a.labels);
  t.notDeepEqual(maskTokens(ids, vocab, { seed: 2, epoch: 2, index: 3 }).labels, a.labels);
  t.deepEqual(ids, sequence(new Rng(5), 256), 'the input is not changed');
});

test('whole-word masking masks a word and its ## pieces together, about 15% of tokens', (t) => {
  const rng = new Rng(9);
  let eligible = 0;
  let targets = 0;
  for (let index = 0; index < 500; index++) {
    const ids = sequence(rng, 128);
    const out = maskTokens(ids, vocab, { wholeWord: true, seed: 3, index });
    // Words: a non-special token, then the ## pieces right after it.
    for (let k = 1; k < ids.length - 1; ) {
      let end = k + 1;
      while (end < ids.length - 1 && continuation[ids[end]]) end++;
      const chosen = Array.from({ length: end - k }, (_, j) => out.labels[k + j] !== IGNORE_INDEX);
      t.true(chosen.every((c) => c === chosen[0]), `word ${k}..${end} of example ${index} is partly masked`);
      eligible += end - k;
      targets += chosen.filter(Boolean).length;
      k = end;
    }
  }
  t.true(Math.abs(targets / eligible - 0.15) < 0.01, `rate ${targets / eligible}`);
});

test('a sequence of special tokens only has no targets, and probability 0 masks nothing', (t) => {
  const out = maskTokens([2, 3, 0, 0], vocab, { seed: 1 });
  t.deepEqual([...out.labels], [-100, -100, -100, -100]);
  t.deepEqual([...maskTokens([2, 5, 6, 3], vocab, { probability: 0 }).labels], [-100, -100, -100, -100]);
  t.deepEqual(maskTokens([2, 3], vocab, { wholeWord: true }).labels.length, 2);
  t.throws(() => maskTokens([5], { ...vocab, continuation: undefined }, { wholeWord: true }), { instanceOf: TypeError });
  t.throws(() => maskTokens([5], vocab, { probability: 2 }), { instanceOf: RangeError, message: /for probability/ });
});

// A sequence (and so a batch) with no target has a NaN loss, which stops training:
// at least one eligible token is a target, as in BERT's own data script.
test('a short sequence always gets at least one target, and only the zero-target draws change', (t) => {
  let forced = 0;
  for (let index = 0; index < 400; index++) {
    const ids = [2, 5 + (index % 50), 6, 3];  // two eligible tokens: no target in 72% of Bernoulli draws at 0.15
    const out = maskTokens(ids, vocab, { seed: 7, index });
    const targets = [...out.labels].filter((l) => l !== IGNORE_INDEX).length;
    t.true(targets >= 1, `index ${index}`);
    t.is(out.labels[0], IGNORE_INDEX);
    t.is(out.labels[3], IGNORE_INDEX);
    if (targets === 1) forced++;
  }
  t.true(forced > 200, `${forced} of 400 had exactly one target`);
  // Long sequences: masks as before (the extra draw never happens), about 15%.
  const rng = new Rng(3);
  let chosen = 0, eligibleTokens = 0;
  for (let index = 0; index < 50; index++) {
    const ids = sequence(rng, 128);
    chosen += [...maskTokens(ids, vocab, { seed: 7, index }).labels].filter((l) => l !== IGNORE_INDEX).length;
    eligibleTokens += 126;
  }
  t.true(Math.abs(chosen / eligibleTokens - 0.15) < 0.015, `${chosen / eligibleTokens}`);
});

test('MlmSource batches of short sequences always have a target', (t) => {
  const seqs = Array.from({ length: 64 }, (_, i) => [2, 5 + (i % 30), 3]);  // one eligible token each
  const source = new MlmSource(seqs, { batchSize: 1, shuffle: false, seed: 1, maskTokenId: 4, vocabSize: 40, specialIds: [0, 2, 3] });
  for (let i = 0; i < source.length; i++) {
    const labels = source.batch(0, i).labels as BigInt64Array;
    t.is([...labels].filter((l) => l !== -100n).length, 1, `batch ${i}`);
    t.is(labels[1], BigInt(5 + (i % 30)));
  }
});

test('the generator is uniform enough and its shuffle is a permutation', (t) => {
  const rng = new Rng(42, 0);
  const counts = new Array(10).fill(0);
  for (let i = 0; i < 100000; i++) counts[rng.int(10)]++;
  for (const c of counts) t.true(Math.abs(c - 10000) < 400, `bucket ${c}`);
  const perm = new Rng(1).shuffle(Array.from({ length: 100 }, (_, i) => i));
  t.deepEqual([...perm].sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i));
  t.notDeepEqual(perm, Array.from({ length: 100 }, (_, i) => i));
  t.not(new Rng(1, 0).nextU32(), new Rng(0, 1).nextU32());
});

test('MlmDataset masks blocks of shards per epoch, deterministically, with the tokenizer special tokens', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'bertorch-masking-test-'));
  try {
    const tokens = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'the', 'fox', 'jump', '##s', '##ed', 'over', 'dog', 'lazy'];
    await writeFile(join(root, 'vocab.txt'), tokens.join('\n') + '\n');
    const tokenizer = await Tokenizer.fromVocab(join(root, 'vocab.txt'));
    const mv = maskingVocabOf(tokenizer);
    t.deepEqual([...mv.special.subarray(0, 6)], [1, 1, 1, 1, 1, 0]);
    t.deepEqual([...mv.continuation!].map((c, id) => (c ? tokens[id] : '')).filter(Boolean), ['##s', '##ed']);
    const texts = Array.from({ length: 200 }, (_, i) => ['the fox jumps over the lazy dog', 'the dog jumped', 'lazy fox'][i % 3]);
    await writeShards({ texts, tokenizer, outDir: join(root, 'shards'), workers: 1, progress: false });
    const reader = await ShardReader.open(join(root, 'shards'), { tokenizer });
    const data = new MlmDataset(reader, { blockSize: 32, tokenizer, seed: 5 });
    t.is(data.length, Math.floor(reader.numTokens / 32));
    const first = data.get(3, 0);
    t.deepEqual(data.get(3, 0), first);
    t.notDeepEqual(data.get(3, 1).labels, first.labels);
    const block = reader.blocks(32).get(3);
    for (let k = 0; k < 32; k++) {
      if (first.labels[k] !== IGNORE_INDEX) t.is(first.labels[k], block[k]);
      else t.is(first.inputIds[k], block[k]);
      if (block[k] === 2 || block[k] === 3) t.is(first.labels[k], IGNORE_INDEX);
    }
    const whole = new MlmDataset(reader, { tokenizer, wholeWord: true });
    t.is(whole.length, 200);
    t.is(whole.get(0).inputIds.length, reader.get(0).length);
    t.is(whole.lengthOf(1), reader.get(1).length);
    reader.close();
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
