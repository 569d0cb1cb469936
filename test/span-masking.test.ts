// SpanBERT span masking (maskTokens({ span: true })) on real text: this
// repository's README, tokenized by the MiniLM (bert-base-uncased) WordPiece
// vocabulary of the hf-folders fixture. Checked: the share of targets, whole
// words only, span lengths drawn from Geo(0.2) clipped at 10, one 80/10/10
// decision per span, and the same spans for the same (seed, epoch, index).
import test from 'ava';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { IGNORE_INDEX, Rng, SPAN_LENGTH_PROBABILITIES, maskTokens, maskingVocabOf, spanTargets } from '../lib/data/masking.js';
import { MlmDataset } from '../lib/data/datasets.js';
import { Tokenizer } from '../lib/tokenizer.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

/** 128-token blocks ([CLS] ... [SEP]) of the README, and the tokenizer's masking vocabulary. */
async function blocks() {
  const tok = await Tokenizer.fromPretrained(path.join(root, 'test', 'fixtures', 'hf-folders', 'minilm'));
  const text = (await readFile(path.join(root, 'README.md'), 'utf8')).split(/\n\s*\n/).filter((p) => p.trim().length > 0);
  const ids: number[] = [];
  for (const p of text) {
    const e = await tok.encode(p, { addSpecialTokens: false });
    ids.push(...Array.from(e.inputIds, Number));
  }
  const { cls, sep } = tok.specialTokenIds;
  const out: Int32Array[] = [];
  for (let i = 0; i + 126 <= ids.length; i += 126) out.push(Int32Array.from([cls, ...ids.slice(i, i + 126), sep]));
  return { out, vocab: maskingVocabOf(tok) };
}

test('span masking of real text: 15% of the tokens, whole words, lengths from Geo(0.2) clipped at 10', async (t) => {
  const { out, vocab } = await blocks();
  t.true(out.length >= 50, `only ${out.length} blocks of README text`);
  const cont = vocab.continuation!;
  let eligible = 0, targets = 0, brokenWords = 0;
  const lengths = new Array(11).fill(0);  // words per span
  for (let seed = 0; seed < 4; seed++) {
    for (let i = 0; i < out.length; i++) {
      const ids = out[i];
      const { labels } = maskTokens(ids, vocab, { probability: 0.15, span: true, seed, index: i });
      for (let k = 0; k < ids.length; k++) {
        if (!vocab.special[ids[k]]) eligible++;
        if (labels[k] !== IGNORE_INDEX) targets++;
        // A target next to a non-target piece of the same word is a broken word.
        if (k + 1 < ids.length && !vocab.special[ids[k]] && cont[ids[k + 1]] && (labels[k] === IGNORE_INDEX) !== (labels[k + 1] === IGNORE_INDEX)) brokenWords++;
      }
      for (const [s, e] of spanTargets(ids, vocab, 0.15, new Rng(seed, 0, i))) {
        // A span starts at a word's start, which is a '##' piece only where a block cut a word.
        let words = 1;
        for (let k = s + 1; k < e; k++) if (!cont[ids[k]]) words++;
        lengths[Math.min(words, 10)]++;
        t.true(words >= 1 && words <= 10, `a span of ${words} words`);
      }
    }
  }
  const rate = targets / eligible;
  const spans = lengths.reduce((a, b) => a + b, 0);
  const mean = lengths.reduce((a, n, w) => a + n * w, 0) / spans;
  const theory = SPAN_LENGTH_PROBABILITIES.reduce((a, p, i) => a + p * (i + 1), 0);
  t.log(`${targets} of ${eligible} tokens are targets (${(rate * 100).toFixed(2)}%), ${spans} spans`);
  t.log(`words per span: ${lengths.slice(1).map((n, i) => `${i + 1}: ${(n / spans).toFixed(3)}`).join(', ')}; mean ${mean.toFixed(2)} (Geo(0.2) clipped at 10: ${theory.toFixed(2)} before the budget cuts the last span)`);
  t.true(Math.abs(rate - 0.15) < 0.01, `rate ${rate}`);
  t.is(brokenWords, 0, 'a span holds whole words');
  // The budget and masked neighbours cut spans short, so the mean is below the
  // distribution's 3.77 but far above whole-word masking's 1.
  t.true(mean > 2.8 && mean < theory, `mean span ${mean} words`);
  // Geometric: each length at least as likely as the next, up to the noise of a few thousand spans.
  for (let w = 1; w < 6; w++) t.true(lengths[w] > lengths[w + 1] * 0.95, `P(${w}) = ${lengths[w]} vs P(${w + 1}) = ${lengths[w + 1]}`);
  t.true(lengths[1] / spans > 0.15 && lengths[1] / spans < 0.35, `P(1 word) ${lengths[1] / spans}`);
});

test('a span is masked, replaced or kept as a whole, and the same (seed, epoch, index) gives the same spans', async (t) => {
  const { out, vocab } = await blocks();
  let mixed = 0, spans = 0, masked = 0;
  for (let i = 0; i < out.length; i++) {
    const ids = out[i];
    const a = maskTokens(ids, vocab, { probability: 0.15, span: true, seed: 9, epoch: 1, index: i });
    const b = maskTokens(ids, vocab, { probability: 0.15, span: true, seed: 9, epoch: 1, index: i });
    t.deepEqual(a, b);
    for (const [s, e] of spanTargets(ids, vocab, 0.15, new Rng(9, 1, i))) {
      spans++;
      const isMask = Array.from(a.inputIds.subarray(s, e), (x) => x === vocab.maskId);
      if (isMask.every(Boolean)) masked++;
      else if (isMask.some(Boolean)) mixed++;
      for (let k = s; k < e; k++) t.is(a.labels[k], ids[k]);
    }
  }
  t.is(mixed, 0, 'no span is part [MASK], part not');
  t.true(Math.abs(masked / spans - 0.8) < 0.05, `${masked} of ${spans} spans are [MASK]`);
  const other = maskTokens(out[0], vocab, { probability: 0.15, span: true, seed: 9, epoch: 2, index: 0 });
  t.notDeepEqual(other.labels, maskTokens(out[0], vocab, { probability: 0.15, span: true, seed: 9, epoch: 1, index: 0 }).labels, 'a new epoch, new spans');
});

test('MlmDataset({ span: true }) masks its examples with spans', async (t) => {
  const { out, vocab } = await blocks();
  const reader = { length: out.length, get: (i: number) => out[i], blocks: () => { throw new Error('no blocks here'); } };
  const ds = new MlmDataset(reader as never, { tokenizer: vocab, span: true, seed: 3 });
  t.true(ds.span);
  for (const i of [0, 7, out.length - 1])
    t.deepEqual(ds.get(i, 2), maskTokens(out[i], vocab, { probability: 0.15, span: true, seed: 3, epoch: 2, index: i }));
  t.throws(() => new MlmDataset(reader as never, { tokenizer: { ...vocab, continuation: undefined }, span: true }), { instanceOf: TypeError, message: /continuation for span/ });
});

test('span masking needs the vocabulary\'s word pieces', (t) => {
  const vocab = { maskId: 4, vocabSize: 10, special: new Uint8Array(10) };
  t.throws(() => maskTokens([5, 6, 7], vocab, { span: true }), { instanceOf: TypeError, message: /continuation.*span/ });
});
