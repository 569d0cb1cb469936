// Dataset and collator tests on small generated files: CSV/TSV/JSONL
// classification (single, multi-label, regression, pairs, fixed label
// lists), CoNLL with IOB1 -> IOB2, each kind of bad row (an error naming
// file and line, or skipped and counted, a 100 MB line included), and the
// collators' padding and word-piece label alignment.

import test from 'ava';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Tokenizer } from '../lib/tokenizer.js';
import { CorpusError } from '../lib/data/corpus.js';
import {
  ClassificationDataset,
  TokenClassificationDataset,
  iob1ToIob2,
  type ClassificationFileOptions,
  type DatasetBadRowReason,
} from '../lib/data/datasets.js';
import { classificationCollator, mlmCollator, tokenClassificationCollator } from '../lib/data/collate.js';
import type { MaskingVocab } from '../lib/data/masking.js';

let root = '';
let counter = 0;
let tokenizer: Tokenizer;

const letters = 'abcdefghijklmnopqrstuvwxyz'.split('');
const testVocab = [
  '[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', '.', ',', '!',
  ...letters, ...letters.map((c) => `##${c}`), 'the', 'cat', 'sat', 'john', 'lives', 'in', 'new', 'york', 'play', '##ing', 'good', 'bad',
];

test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'bertorch-datasets-test-'));
  await writeFile(join(root, 'vocab.txt'), testVocab.join('\n') + '\n');
  tokenizer = await Tokenizer.fromVocab(join(root, 'vocab.txt'));
});

test.after.always(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

async function file(name: string, content: string | Buffer): Promise<string> {
  const dir = join(root, `case-${++counter}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, name), content);
  return join(dir, name);
}

test('a CSV file gives texts and class ids in sorted label order', async (t) => {
  const path = await file('a.csv', 'id,text,label\n1,"good, very",pos\n2,bad,neg\n3,"the cat\nsat",pos\n');
  const data = await ClassificationDataset.fromFile(path);
  t.deepEqual(data.labels, ['neg', 'pos']);
  t.deepEqual(data.label2id, { neg: 0, pos: 1 });
  t.is(data.problemType, 'single_label_classification');
  t.is(data.length, 3);
  t.deepEqual(data.get(0), { text: 'good, very', label: 1 });
  t.deepEqual(data.get(2), { text: 'the cat\nsat', label: 1 });
  t.is(data.numLabels, 2);
  t.throws(() => data.get(3), { instanceOf: RangeError });
});

test('TSV, gzipped JSONL with nested fields and pairs, and numeric labels are read', async (t) => {
  const tsv = await file('a.tsv', 'sentence\tlabel\nHe said "hi"\t10\nplain\t2\n');
  const data = await ClassificationDataset.fromFile(tsv, { textColumn: 'sentence' });
  t.deepEqual(data.labels, ['2', '10']); // numeric order, as HF sorts int labels
  t.deepEqual(data.get(0), { text: 'He said "hi"', label: 1 });
  const rows = [{ a: { p: 'the cat', h: 'a cat' }, y: true }, { a: { p: 'john', h: 'new york' }, y: false }];
  const jsonl = await file('b.jsonl.gz', gzipSync(rows.map((r) => JSON.stringify(r)).join('\n')));
  const pairs = await ClassificationDataset.fromFile(jsonl, { textColumn: 'a.p', textPairColumn: 'a.h', labelColumn: 'y' });
  t.deepEqual(pairs.labels, ['false', 'true']);
  t.deepEqual(pairs.get(1), { text: 'john', pair: 'new york', label: 0 });
  const headless = await file('c.csv', 'x,1\ny,0\n');
  const byIndex = await ClassificationDataset.fromFile(headless, { header: false, textColumn: 0, labelColumn: 1 });
  t.deepEqual([byIndex.get(0).label, byIndex.labels], [1, ['0', '1']]);
});

test('multi-label rows become multi-hot vectors, from a delimited column or a JSON array', async (t) => {
  const csv = await file('a.csv', 'text,tags\nthe cat,animal|pet\njohn,person\nnothing,\n');
  const data = await ClassificationDataset.fromFile(csv, { labelColumn: 'tags', multiLabel: { delimiter: '|' } });
  t.is(data.problemType, 'multi_label_classification');
  t.deepEqual(data.labels, ['animal', 'person', 'pet']);
  t.deepEqual(data.get(0).label, Float32Array.from([1, 0, 1]));
  t.deepEqual(data.get(2).label, Float32Array.from([0, 0, 0]));
  const jsonl = await file('b.jsonl', '{"text":"x","label":["b","a"]}\n{"text":"y","label":[]}\n');
  const fromJson = await ClassificationDataset.fromFile(jsonl, { multiLabel: true, labels: ['a', 'b', 'c'] });
  t.deepEqual(fromJson.get(0).label, Float32Array.from([1, 1, 0]));
});

test('regression labels are numbers', async (t) => {
  const csv = await file('a.csv', 'text,score\nthe cat,0.25\njohn,-3\n');
  const data = await ClassificationDataset.fromFile(csv, { labelColumn: 'score', regression: true });
  t.is(data.problemType, 'regression');
  t.deepEqual(data.labels, []);
  t.is(data.numLabels, 1);
  t.deepEqual([data.get(0).label, data.get(1).label], [0.25, -3]);
});

test('a fixed label list keeps its order, and a label outside it is an error naming file:line', async (t) => {
  const csv = await file('a.csv', 'text,label\nx,b\ny,a\nz,c\nw,a\n');
  const error = await t.throwsAsync(ClassificationDataset.fromFile(csv, { labels: ['b', 'a'] }), { instanceOf: CorpusError });
  t.true(error!.message.startsWith(`${csv}:4: label "c" is not one of ["b","a"]`));
  t.is(error?.reason as string, 'unknown_label');
  const skipped = await ClassificationDataset.fromFile(csv, { labels: ['b', 'a'], onBadRow: 'skip' });
  t.deepEqual(skipped.labels, ['b', 'a']);
  t.deepEqual([0, 1, 2].map((i) => skipped.get(i).label), [0, 1, 1]);
  t.deepEqual(skipped.badRows, { unknown_label: 1 });
});

// Each bad row: the file, the reason, the line reported, the good rows around it.
const badRows: Array<{ title: string; name: string; content: string | Buffer; reason: DatasetBadRowReason; line: number; good: number; options?: ClassificationFileOptions }> = [
  { title: 'an unbalanced quote', name: 'a.csv', content: 'text,label\ngood,a\n"never closed,b\nfine,a\nalso,b\n', reason: 'unbalanced_quote', line: 3, good: 3 },
  { title: 'a row short of a field', name: 'a.csv', content: 'text,label\ngood,a\nshort\nfine,b\n', reason: 'field_count', line: 3, good: 2 },
  { title: 'a row with a field too many', name: 'a.csv', content: 'text,label\ngood,a\nshort,b,c\nfine,b\n', reason: 'field_count', line: 3, good: 2 },
  { title: 'a JSONL text that is a number', name: 'a.jsonl', content: '{"text":"a","label":"x"}\n{"text":42,"label":"x"}\n', reason: 'wrong_type', line: 2, good: 1 },
  { title: 'a JSONL label that is an object', name: 'a.jsonl', content: '{"text":"a","label":{"y":1}}\n{"text":"b","label":"x"}\n', reason: 'wrong_type', line: 1, good: 1 },
  { title: 'a NUL byte', name: 'a.tsv', content: 'text\tlabel\ngood\ta\nb\u0000d\tb\n', reason: 'nul_byte', line: 3, good: 1 },
  { title: 'a hexadecimal regression label', name: 'a.csv', content: 'text,label\ngood,1.5\nbad,0x10\n', reason: 'invalid_label', line: 3, good: 1, options: { regression: true } },
  { title: 'an empty name among several labels', name: 'a.csv', content: 'text,label\ngood,a|b\nbad,a||b\n', reason: 'invalid_label', line: 3, good: 1, options: { multiLabel: { delimiter: '|' } } },
  { title: 'a missing JSONL field', name: 'a.jsonl', content: '{"text":"a","label":"x"}\n{"label":"x"}\n{"text":"b","label":"y"}\n', reason: 'missing_field', line: 2, good: 2 },
  { title: 'malformed JSON', name: 'a.jsonl', content: '{"text":"a","label":"x"}\n{"text":\n', reason: 'malformed_json', line: 2, good: 1 },
  {
    title: 'invalid UTF-8',
    name: 'a.tsv',
    content: Buffer.concat([Buffer.from('text\tlabel\ngood\ta\n'), Buffer.from([0x62, 0xc3, 0x28, 0x09, 0x61, 0x0a]), Buffer.from('fine\tb\n')]),
    reason: 'invalid_utf8',
    line: 3,
    good: 2,
  },
  { title: 'empty text', name: 'a.csv', content: 'text,label\ngood,a\n  ,b\nfine,b\n', reason: 'empty_text', line: 3, good: 2 },
  { title: 'an empty label', name: 'a.csv', content: 'text,label\ngood,a\nno label,\nfine,b\n', reason: 'invalid_label', line: 3, good: 2 },
  {
    title: 'a regression label that is not a number',
    name: 'a.csv',
    content: 'text,label\ngood,1.5\nbad,high\n',
    reason: 'invalid_label',
    line: 3,
    good: 1,
    options: { regression: true },
  },
  { title: 'a line over maxLineBytes', name: 'a.csv', content: `text,label\ngood,a\n${'x'.repeat(3000)},b\nfine,a\n`, reason: 'line_too_long', line: 3, good: 2, options: { maxLineBytes: 1000 } },
];

for (const bad of badRows) {
  test(`${bad.title} is an error naming file and line, or skipped and counted`, async (t) => {
    const path = await file(bad.name, bad.content);
    const error = await t.throwsAsync(ClassificationDataset.fromFile(path, bad.options), { instanceOf: CorpusError });
    t.is(error?.code, 'ERR_CORPUS_BAD_ROW');
    t.is(error?.reason as string, bad.reason);
    t.is(error?.file, path);
    t.is(error?.line, bad.line);
    t.true(error!.message.startsWith(`${path}:${bad.line}: `), error!.message);
    const skipped = await ClassificationDataset.fromFile(path, { ...bad.options, onBadRow: 'skip' });
    t.is(skipped.length, bad.good);
    t.is(skipped.badRows[bad.reason], 1);
  });
}

test('a 100 MB line is an error naming file and line, or skipped, without holding it in memory', async (t) => {
  const path = join(root, `huge-${++counter}.csv`);
  const out = createWriteStream(path);
  out.write('text,label\ngood,a\n');
  const block = Buffer.alloc(1 << 20, 'y');
  for (let i = 0; i < 100; i++) if (!out.write(block)) await once(out, 'drain');
  out.end(',b\nfine,b\n');
  await once(out, 'finish');
  global.gc?.();
  const before = process.memoryUsage();
  const error = await t.throwsAsync(ClassificationDataset.fromFile(path), { instanceOf: CorpusError });
  t.regex(error!.message, new RegExp(`^${path}:3: line of 104857602 bytes, over maxLineBytes`));
  const skipped = await ClassificationDataset.fromFile(path, { onBadRow: 'skip' });
  t.deepEqual([skipped.length, skipped.badRows.line_too_long], [2, 1]);
  const after = process.memoryUsage();
  t.true(after.heapUsed - before.heapUsed < 80 * 2 ** 20, `heap grew by ${((after.heapUsed - before.heapUsed) / 2 ** 20).toFixed(0)} MiB`);
});

test('a header without a needed column is an input error even when skipping rows', async (t) => {
  const path = await file('a.csv', 'sentence,label\nx,a\n');
  const error = await t.throwsAsync(ClassificationDataset.fromFile(path, { onBadRow: 'skip' }), { instanceOf: CorpusError });
  t.is(error?.code, 'ERR_CORPUS_INPUT');
  t.regex(error!.message, /a\.csv:1: column "text" not found: the header has "sentence", "label"/);
});

test('bad options throw TypeError or RangeError naming the option', async (t) => {
  const path = await file('a.csv', 'text,label\nx,a\n');
  await t.throwsAsync(ClassificationDataset.fromFile(join(root, 'a.xml')), { instanceOf: TypeError, message: /for path/ });
  await t.throwsAsync(ClassificationDataset.fromFile(path, { labels: [] }), { instanceOf: TypeError, message: /for labels/ });
  await t.throwsAsync(ClassificationDataset.fromFile(path, { labels: ['a', 'a'] }), { instanceOf: TypeError, message: /for labels/ });
  await t.throwsAsync(ClassificationDataset.fromFile(path, { multiLabel: true, regression: true }), { instanceOf: TypeError });
  await t.throwsAsync(ClassificationDataset.fromFile(path, { onBadRow: 'drop' as never }), { instanceOf: RangeError, message: /for onBadRow/ });
  await t.throwsAsync(ClassificationDataset.fromFile(path, { header: false, textColumn: 'text' }), { instanceOf: TypeError, message: /column index when header is false/ });
});

const conll = [
  '-DOCSTART- -X- -X- O',
  '',
  'John NNP B-NP I-PER',
  'Smith NNP I-NP I-PER',
  'lives VBZ B-VP O',
  'in IN B-PP O',
  'New NNP B-NP I-LOC',
  'York NNP I-NP I-LOC',
  'Paris NNP B-NP B-LOC',
  '',
  '',
  'playing VBG B-VP O',
  '',
].join('\n');

test('CoNLL files give words and tags; IOB1 is converted to IOB2 and -DOCSTART- skipped', async (t) => {
  const path = await file('a.conll', conll);
  const data = await TokenClassificationDataset.fromConll(path, { scheme: 'IOB1', tagColumn: 3 });
  t.is(data.length, 2);
  t.deepEqual(data.labels, ['B-LOC', 'B-PER', 'I-LOC', 'I-PER', 'O']);
  const first = data.get(0);
  t.deepEqual(first.words, ['John', 'Smith', 'lives', 'in', 'New', 'York', 'Paris']);
  t.deepEqual([...first.labels].map((id) => data.labels[id]), ['B-PER', 'I-PER', 'O', 'O', 'B-LOC', 'I-LOC', 'B-LOC']);
  t.deepEqual((await TokenClassificationDataset.fromConll(path, { scheme: 'IOB1', tagColumn: -1 })).get(0), first);
  t.deepEqual(iob1ToIob2(['I-A', 'I-B', 'I-B', 'O', 'I-B', 'B-B', 'I-B']), ['B-A', 'B-B', 'I-B', 'O', 'B-B', 'B-B', 'I-B']);
});

test('CoNLL bad lines and unknown tags are errors naming file and line, or skip their sentence', async (t) => {
  const path = await file('a.conll', 'a O\nb B-X\n\nc\nd O\n\ne B-Y\n\nf Z\n\ng O\n');
  const missing = await t.throwsAsync(TokenClassificationDataset.fromConll(path), { instanceOf: CorpusError });
  t.true(missing!.message.startsWith(`${path}:4: the line has no tag column`));
  const skipped = await TokenClassificationDataset.fromConll(path, { onBadRow: 'skip' });
  t.deepEqual(skipped.badRows, { missing_column: 1, invalid_label: 1 });
  t.deepEqual([0, 1, 2].map((i) => skipped.get(i).words), [['a', 'b'], ['e'], ['g']]);
  const fixed = await t.throwsAsync(TokenClassificationDataset.fromConll(path, { labels: ['O', 'B-X'], onBadRow: 'error' }), { instanceOf: CorpusError });
  t.true(fixed!.message.startsWith(`${path}:4:`));
  const clean = await file('b.conll', 'a O\nb B-X\n\ne B-Y\n');
  const unknown = await t.throwsAsync(TokenClassificationDataset.fromConll(clean, { labels: ['O', 'B-X'] }), { instanceOf: CorpusError });
  t.true(unknown!.message.startsWith(`${clean}:4: tag "B-Y" is not one of`));
  const utf = await file('c.conll', Buffer.concat([Buffer.from('a O\n\n'), Buffer.from([0xff, 0x20, 0x4f, 0x0a]), Buffer.from('\nb O\n')]));
  t.is((await t.throwsAsync(TokenClassificationDataset.fromConll(utf), { instanceOf: CorpusError }))?.line, 3);
  t.is((await TokenClassificationDataset.fromConll(utf, { onBadRow: 'skip' })).length, 2);
});

test('the classification collator truncates, pads to the longest or a multiple of 8, and lays out labels', async (t) => {
  const collate = classificationCollator(tokenizer, { maxLength: 6 });
  const examples = [
    { text: 'the cat sat', label: 1 },
    { text: 'john', pair: 'new york', label: 0 },
    { text: 'the cat sat in new york', label: 1 },
  ];
  const batch = await collate(examples, { epoch: 0, indices: [0, 1, 2] });
  t.deepEqual(batch.shape, [3, 6]);
  const id = (token: string) => BigInt(tokenizer.tokenToId(token)!);
  t.deepEqual([...batch.inputIds.subarray(0, 6)], [id('[CLS]'), id('the'), id('cat'), id('sat'), id('[SEP]'), 0n]);
  t.deepEqual([...batch.attentionMask.subarray(0, 6)], [1n, 1n, 1n, 1n, 1n, 0n]);
  t.deepEqual([...batch.tokenTypeIds.subarray(6, 12)], [0n, 0n, 0n, 1n, 1n, 1n]);
  t.deepEqual([...batch.inputIds.subarray(12, 18)], [id('[CLS]'), id('the'), id('cat'), id('sat'), id('in'), id('[SEP]')]);
  t.deepEqual(batch.labels, BigInt64Array.from([1n, 0n, 1n]));
  const padded = await classificationCollator(tokenizer, { padToMultipleOf: 8 })(examples.slice(0, 1), { epoch: 0, indices: [0] });
  t.deepEqual(padded.shape, [1, 8]);
  const multi = await classificationCollator(tokenizer, { problemType: 'multi_label_classification' })(
    [{ text: 'x', label: Float32Array.from([1, 0]) }, { text: 'y', label: Float32Array.from([0, 1]) }],
    { epoch: 0, indices: [0, 1] },
  );
  t.deepEqual(multi.labels, Float32Array.from([1, 0, 0, 1]));
  const regression = await classificationCollator(tokenizer, { problemType: 'regression' })([{ text: 'x', label: 0.5 }], { epoch: 0, indices: [0] });
  t.deepEqual(regression.labels, Float32Array.from([0.5]));
  await t.throwsAsync(async () => collate([{ text: 'x', label: 0.5 }], { epoch: 0, indices: [0] }), { instanceOf: TypeError, message: /examples\[0\]\.label/ });
});

test('token classification labels the first piece of each word and -100 the rest, or all pieces with B- to I-', async (t) => {
  const labels = ['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC'];
  const words = ['johnny', 'playing', 'in', 'U.S.'];
  const wordLabels = Int32Array.from([1, 0, 0, 3]);
  const encoding = await tokenizer.encode(words.join(' '));
  t.deepEqual(encoding.tokens, ['[CLS]', 'john', '##n', '##y', 'play', '##ing', 'in', 'u', '.', 's', '.', '[SEP]']);
  const collate = tokenClassificationCollator(tokenizer, { labels });
  const batch = await collate([{ words, labels: wordLabels }], { epoch: 0, indices: [0] });
  t.deepEqual([...batch.labels!].map(Number), [-100, 1, -100, -100, 0, -100, 0, 3, -100, -100, -100, -100]);
  const all = await tokenClassificationCollator(tokenizer, { labels, labelAllSubwords: true })([{ words, labels: wordLabels }], { epoch: 0, indices: [0] });
  t.deepEqual([...all.labels!].map(Number), [-100, 1, 2, 2, 0, 0, 0, 3, 4, 4, 4, -100]);
  const short = await tokenClassificationCollator(tokenizer, { maxLength: 4, padToMultipleOf: 8 })(
    [{ words, labels: wordLabels }, { words: ['in'], labels: Int32Array.from([0]) }],
    { epoch: 0, indices: [0, 1] },
  );
  t.deepEqual(short.shape, [2, 8]);
  t.deepEqual([...short.labels!.subarray(0, 8)].map(Number), [-100, 1, -100, -100, -100, -100, -100, -100]);
  t.deepEqual([...short.labels!.subarray(8, 11)].map(Number), [-100, 0, -100]);
});

test('the MLM collator stacks masked examples, or masks plain ids itself by epoch and index', async (t) => {
  const collate = mlmCollator({ padToMultipleOf: 4 });
  const batch = await collate(
    [{ inputIds: Int32Array.from([2, 4, 7, 3]), labels: Int32Array.from([-100, 6, -100, -100]) }, { inputIds: Int32Array.from([2, 3]), labels: Int32Array.from([-100, -100]) }],
    { epoch: 0, indices: [0, 1] },
  );
  t.deepEqual(batch.shape, [2, 4]);
  t.deepEqual([...batch.labels!].map(Number), [-100, 6, -100, -100, -100, -100, -100, -100]);
  t.deepEqual([...batch.attentionMask].map(Number), [1, 1, 1, 1, 1, 1, 0, 0]);
  const special = new Uint8Array(50).fill(1, 0, 5);
  const vocab: MaskingVocab = { maskId: 4, vocabSize: 50, special };
  const masking = mlmCollator({ masking: { vocab, seed: 3, probability: 0.5 } });
  const ids = Int32Array.from({ length: 64 }, (_, k) => 5 + (k % 40));
  const a = await masking([ids, ids], { epoch: 1, indices: [10, 11] });
  t.deepEqual(await masking([ids, ids], { epoch: 1, indices: [10, 11] }), a);
  t.notDeepEqual(a.labels!.subarray(0, 64), a.labels!.subarray(64));
  t.throws(() => mlmCollator()([ids], { epoch: 0, indices: [0] }), { instanceOf: TypeError, message: /masking option/ });
});
