// Parity with transformers on real HuggingFace folders, without Python: the
// reference (test/fixtures/hf-folders/reference.json.gz) was computed by
// transformers' AutoTokenizer with scripts/fixtures/make-hf-folder-reference.py.
// all-MiniLM-L6-v2's tokenizer.json sets padding Fixed(128) and truncation
// 128, which transformers ignores per call; every encode, collator and the
// shard writer must give transformers' ids, types, masks, offsets and word ids.
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classificationCollator, tokenClassificationCollator, type Batch } from '../lib/data/collate.js';
import { ShardReader, writeShards } from '../lib/data/shards.js';
import { Tokenizer, type Encoding } from '../lib/tokenizer.js';
import { FOLDERS, folder, firstDifference, loadReference, type FolderName, type RefRow } from './helpers/hf-folders.js';

const ref = loadReference();
const tokenizers = new Map<FolderName, Promise<Tokenizer>>(FOLDERS.map((name) => [name, Tokenizer.fromPretrained(folder(name))]));

// Collects mismatches so one failing text names itself, and a pass is one assertion.
class Diffs {
  readonly list: string[] = [];
  check(what: string, got: ArrayLike<unknown>, want: ArrayLike<unknown>): void {
    const at = firstDifference(got, want);
    if (at >= 0 && this.list.length < 8) {
      this.list.push(`${what} at ${at}: got ${JSON.stringify(Array.from(got).slice(at, at + 4))} want ${JSON.stringify(Array.from(want).slice(at, at + 4))}`);
    }
  }
}

function compareRow(d: Diffs, what: string, e: Encoding, want: RefRow, fields: Array<keyof RefRow & keyof EncodingFields>): void {
  const got: EncodingFields = {
    ids: e.inputIds, types: e.tokenTypeIds, mask: e.attentionMask, special: e.specialTokensMask,
    offsets: e.offsets, wordIds: e.wordIds, sequenceIds: e.sequenceIds,
  };
  for (const field of fields) d.check(`${what} ${field}`, got[field], want[field] as ArrayLike<unknown>);
}
interface EncodingFields {
  ids: ArrayLike<number>; types: ArrayLike<number>; mask: ArrayLike<number>; special: ArrayLike<number>;
  offsets: ArrayLike<[number, number]>; wordIds: ArrayLike<number | null>; sequenceIds: ArrayLike<number | null>;
}
const ALL: Array<keyof EncodingFields> = ['ids', 'types', 'mask', 'special', 'offsets', 'wordIds', 'sequenceIds'];

function batchRows(batch: Batch, field: 'inputIds' | 'attentionMask' | 'tokenTypeIds' | 'labels'): number[][] {
  const [B, T] = batch.shape;
  const data = batch[field]!;
  return Array.from({ length: B }, (_, b) => Array.from(data.subarray(b * T, (b + 1) * T), Number));
}

test('the MiniLM folder as shipped encodes "a gripping movie" as transformers does, [SEP] kept and no padding', async (t) => {
  const tok = await tokenizers.get('minilm')!;
  const [enc] = await tok.encodeBatch(['a gripping movie']);
  t.deepEqual(Array.from(enc.inputIds), [101, 1037, 13940, 3185, 102]);
  t.deepEqual(Array.from(enc.attentionMask), [1, 1, 1, 1, 1]);
  t.is(tok.modelMaxLength, 512);
  t.is(tok.maxSeqLength, 256);
  const batch = await classificationCollator(tok, { maxLength: 64 })([{ text: 'a gripping movie', label: 0 }, { text: 'dull', label: 1 }], { epoch: 0, indices: [0, 1] });
  t.deepEqual(batch.shape, [2, 5]);
  t.deepEqual(batchRows(batch, 'attentionMask'), [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]);
});

for (const name of FOLDERS) {
  const want = ref.folders[name];

  test(`${name}: ${ref.texts.length} texts encode as transformers' default call (ids, types, masks, offsets, word and sequence ids)`, async (t) => {
    const tok = await tokenizers.get(name)!;
    t.is(tok.modelMaxLength, want.modelMaxLength ?? Infinity);
    const d = new Diffs();
    (await tok.encodeBatch(ref.texts)).forEach((e, i) => compareRow(d, `text ${i} ${JSON.stringify(ref.texts[i])}`, e, want.single[i], ALL));
    const single = await Promise.all(ref.texts.slice(0, 40).map((text) => tok.encode(text)));
    single.forEach((e, i) => compareRow(d, `encode ${i}`, e, want.single[i], ['ids', 'offsets']));
    (await tok.encodeBatch(ref.texts, { addSpecialTokens: false })).forEach((e, i) => d.check(`no special ${i}`, e.inputIds, want.noSpecial[i]));
    t.deepEqual(d.list, []);
  });

  test(`${name}: truncation to 16 and to modelMaxLength, and pairs truncated longest-first, match transformers`, async (t) => {
    const tok = await tokenizers.get(name)!;
    const d = new Diffs();
    (await tok.encodeBatch(ref.texts, { truncation: true, maxLength: 16 })).forEach((e, i) => compareRow(d, `truncated ${i}`, e, want.truncated16[i], ALL));
    (await tok.encodeBatch(ref.texts, { truncation: true })).forEach((e, i) => d.check(`default length ${i}`, e.inputIds, want.truncatedDefault[i]));
    const pairs = await tok.encodeBatch(ref.pairs, { truncation: 'longest_first', maxLength: 24 });
    pairs.forEach((e, i) => compareRow(d, `pair ${i}`, e, want.pairs[i], ALL));
    t.deepEqual(d.list, []);
  });

  test(`${name}: classificationCollator batches (longest, multiple of 8, max_length; texts and pairs) equal transformers' padded calls`, async (t) => {
    const tok = await tokenizers.get(name)!;
    const d = new Diffs();
    for (const b of want.batches) {
      const opts = b.options!;
      const collate = classificationCollator(tok, { maxLength: 32, padding: opts.padding, padToMultipleOf: opts.pad_to_multiple_of ?? undefined });
      const examples = ref.texts.slice(b.start, b.start + b.count).map((text) => ({ text, label: 0 }));
      const batch = await collate(examples, { epoch: 0, indices: [] });
      d.check(`batch ${b.start} ids`, batchRows(batch, 'inputIds'), b.rows.map((r) => r.ids));
      d.check(`batch ${b.start} mask`, batchRows(batch, 'attentionMask'), b.rows.map((r) => r.mask));
      d.check(`batch ${b.start} types`, batchRows(batch, 'tokenTypeIds'), b.rows.map((r) => r.types));
    }
    const collate = classificationCollator(tok, { maxLength: 40 });
    for (const b of want.pairBatches) {
      const examples = ref.pairs.slice(b.start, b.start + b.count).map(([text, pair]) => ({ text, pair, label: 0 }));
      const batch = await collate(examples, { epoch: 0, indices: [] });
      d.check(`pair batch ${b.start} ids`, batchRows(batch, 'inputIds'), b.rows.map((r) => r.ids));
      d.check(`pair batch ${b.start} mask`, batchRows(batch, 'attentionMask'), b.rows.map((r) => r.mask));
      d.check(`pair batch ${b.start} types`, batchRows(batch, 'tokenTypeIds'), b.rows.map((r) => r.types));
    }
    t.deepEqual(d.list, []);
  });

  test(`${name}: pre-split words give transformers' word ids and offsets, and tokenClassificationCollator run_ner's labels`, async (t) => {
    const tok = await tokenizers.get(name)!;
    const d = new Diffs();
    const names = ref.nerLabelNames;
    for (const [labelAll, field] of [[false, 'labels'], [true, 'labelsAll']] as const) {
      const collate = tokenClassificationCollator(tok, { maxLength: 24, labels: names, labelAllSubwords: labelAll });
      for (const b of want.words) {
        const examples = ref.words.slice(b.start, b.start + b.count).map((words, k) => ({ words, labels: Int32Array.from(ref.nerLabels[b.start + k]) }));
        const batch = await collate(examples, { epoch: 0, indices: [] });
        d.check(`words ${b.start} ids`, batchRows(batch, 'inputIds'), b.rows.map((r) => r.ids));
        d.check(`words ${b.start} mask`, batchRows(batch, 'attentionMask'), b.rows.map((r) => r.mask));
        d.check(`words ${b.start} ${field}`, batchRows(batch, 'labels'), b.rows.map((r) => r[field]!));
        // No label ever lands where there is no word: special tokens and padding.
        batchRows(batch, 'labels').forEach((row, k) =>
          row.forEach((label, at) => b.rows[k].wordIds[at] === null && label !== -100 && d.list.push(`words ${b.start + k}: label ${label} at ${at}, not a word`)));
      }
    }
    for (const b of want.words) {
      const encodings = await tok.encodeBatch(ref.words.slice(b.start, b.start + b.count), { isSplitIntoWords: true, truncation: true, maxLength: 24, padding: 'longest' });
      encodings.forEach((e, k) => compareRow(d, `words ${b.start + k}`, e, b.rows[k], ALL));
    }
    t.deepEqual(d.list, []);
  });

  test(`${name}: writeShards (masked-LM pretraining input) stores transformers' ids for every text`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'bertorch-hf-shards-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const texts = ref.texts.filter((text) => text.trim() !== '');
    await writeShards({ texts, tokenizer: await tokenizers.get(name)!, outDir: dir, workers: 1, progress: false });
    const reader = await ShardReader.open(dir);
    const d = new Diffs();
    const wantIds = ref.texts.map((text, i) => [text, want.single[i].ids] as const).filter(([text]) => text.trim() !== '');
    t.is(reader.length, wantIds.length);
    wantIds.forEach(([, ids], i) => d.check(`shard example ${i}`, reader.get(i), ids));
    t.deepEqual(d.list, []);
  });
}

test('a tokenizer saved from the MiniLM folder keeps its tokenizer.json settings and encodes the same', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bertorch-hf-save-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const tok = await tokenizers.get('minilm')!;
  await tok.save(dir);
  const again = await Tokenizer.fromPretrained(dir);
  const d = new Diffs();
  (await again.encodeBatch(ref.texts)).forEach((e, i) => d.check(`text ${i}`, e.inputIds, ref.folders.minilm.single[i].ids));
  t.deepEqual(d.list, []);
});
