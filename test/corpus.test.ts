// Corpus preparation tests on small files generated in a temporary folder:
// every reader (and its .gz twin), globs and folders, cleaning, exact and
// near deduplication, split determinism and stability, each kind of bad
// input (as an error naming file and line, and skipped and counted), and a
// 100 MB line that must not be held in memory.

import test from 'ava';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { cleanText, codePointLength, type CleanOptions } from '../lib/data/clean.js';
import { CorpusError, formatSummary, prepareCorpus, type BadRowReason, type PrepareCorpusOptions } from '../lib/data/corpus.js';
import { expandInput, globToRegExp } from '../lib/data/glob.js';
import { HashSet64 } from '../lib/data/hash-set.js';

let root = '';
let counter = 0;

test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'bertorch-corpus-test-'));
});

test.after.always(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

// A fresh folder per test, with the given files (string or bytes).
async function folder(files: Record<string, string | Buffer>): Promise<string> {
  const dir = join(root, `case-${++counter}`);
  await mkdir(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), content);
  }
  return dir;
}

// Everything goes to train unless a test asks for a split.
async function prepare(dir: string, options: Partial<PrepareCorpusOptions> & { inputs: PrepareCorpusOptions['inputs'] }) {
  const outDir = join(root, `out-${++counter}`);
  const summary = await prepareCorpus({ outDir, split: { validation: 0, test: 0 }, ...options });
  const lines = async (name: string) => (await readFile(join(outDir, `${name}.txt`), 'utf8')).split('\n').slice(0, -1);
  return { summary, outDir, train: await lines('train'), validation: await lines('validation'), test: await lines('test') };
}

const defaults: Required<CleanOptions> = { html: true, nfkc: true, controlChars: true, collapseWhitespace: true, minLength: 1, maxLength: Infinity };

test('txt files give a line per example, or a document per blank-line separated block', async (t) => {
  const text = 'first line\n\n  \nsecond line\r\nthird\nline\n';
  const dir = await folder({ 'a.txt': text, 'b.txt.gz': gzipSync(text) });
  const lines = await prepare(dir, { inputs: [join(dir, 'a.txt')] });
  t.deepEqual(lines.train, ['first line', 'second line', 'third', 'line']);
  t.is(lines.summary.read, 4);
  const docs = await prepare(dir, { inputs: [join(dir, 'b.txt.gz')], txtMode: 'document', dedup: false });
  t.deepEqual(docs.train, ['first line', 'second line third line']);
});

test('jsonl files give the text of a field, nested fields by dots, gzipped or not', async (t) => {
  const rows = [{ text: 'one', meta: { body: 'body one' } }, { text: 'two', meta: { body: 'body two' } }];
  const text = rows.map((row) => JSON.stringify(row)).join('\n') + '\n\n';
  const dir = await folder({ 'a.jsonl': text, 'b.ndjson.gz': gzipSync(text) });
  t.deepEqual((await prepare(dir, { inputs: [join(dir, 'a.jsonl')] })).train, ['one', 'two']);
  t.deepEqual((await prepare(dir, { inputs: [join(dir, 'b.ndjson.gz')], field: 'meta.body' })).train, ['body one', 'body two']);
});

test('csv files handle quoted commas, doubled quotes and fields over several lines', async (t) => {
  const csv = 'id,title,text\r\n1,T1,"a, b and ""c"""\r\n2,T2,"line one\nline two"\r\n3,T3,plain\r\n';
  const dir = await folder({ 'a.csv': csv, 'a.csv.gz': gzipSync(csv) });
  t.deepEqual((await prepare(dir, { inputs: [join(dir, 'a.csv')] })).train, ['a, b and "c"', 'line one line two', 'plain']);
  const joined = await prepare(dir, { inputs: [{ path: join(dir, 'a.csv.gz'), columns: ['title', 'text'] }] });
  t.deepEqual(joined.train, ['T1 a, b and "c"', 'T2 line one line two', 'T3 plain']);
  const byIndex = await prepare(dir, { inputs: [join(dir, 'a.csv')], column: 1 });
  t.deepEqual(byIndex.train, ['T1', 'T2', 'T3']);
});

test('tsv files split on tabs and take quotes literally', async (t) => {
  const tsv = 'label\ttext\npos\tHe said "hi" twice\nneg\tplain, with comma\n';
  const dir = await folder({ 'a.tsv': tsv, 'b.tsv.gz': gzipSync('x\ty\nno header\there\n') });
  t.deepEqual((await prepare(dir, { inputs: [join(dir, 'a.tsv')] })).train, ['He said "hi" twice', 'plain, with comma']);
  const headless = await prepare(dir, { inputs: [{ path: join(dir, 'b.tsv.gz'), header: false, column: 1 }] });
  t.deepEqual(headless.train, ['y', 'here']);
});

test('directories and globs expand to sorted files, skipping hidden and unknown ones', async (t) => {
  const dir = await folder({
    'b.txt': 'b\n',
    'a.jsonl': '{"text":"a"}\n',
    'notes.bin': 'x',
    '.hidden.txt': 'hidden\n',
    'sub/c.csv.gz': gzipSync('text\nc\n'),
    'sub/deeper/d.txt': 'd\n',
  });
  const all = await expandInput(dir, 'inputs[0]');
  t.deepEqual(all.map((p) => p.slice(dir.length + 1)), ['a.jsonl', 'b.txt', 'sub/c.csv.gz', 'sub/deeper/d.txt']);
  const txt = await expandInput(join(dir, '**/*.txt'), 'inputs[0]');
  t.deepEqual(txt.map((p) => p.slice(dir.length + 1)), ['b.txt', 'sub/deeper/d.txt']);
  const some = await expandInput(join(dir, '*.{txt,jsonl}'), 'inputs[0]');
  t.deepEqual(some.map((p) => p.slice(dir.length + 1)), ['a.jsonl', 'b.txt']);
  t.true(globToRegExp('data/[!x]?.txt').test('data/ab.txt'));
  t.false(globToRegExp('data/*.txt').test('data/sub/a.txt'));
  const out = await prepare(dir, { inputs: [dir] });
  t.deepEqual(out.train, ['a', 'b', 'c', 'd']);
});

test('cleaning applies NFKC, strips HTML and control characters, collapses whitespace', (t) => {
  t.deepEqual(cleanText('<p>Caf&eacute;\u00A0 ＡＢＣ&nbsp;ﬁ</p>', defaults), { text: 'Café ABC fi' });
  t.deepEqual(cleanText('<script>var x = "<b>";</script>a<br/>b<!-- c -->&lt;d&gt; &#x1F600; &#65;', defaults), { text: 'a b <d> 😀 A' });
  t.deepEqual(cleanText('a < b and c > d', defaults), { text: 'a < b and c > d' });
  t.deepEqual(cleanText('x\u0000y\u0007z\u200b\ufeff e\u200dmoji', defaults), { text: 'xyz e\u200dmoji' });
  t.deepEqual(cleanText(' \t tabs\n\nand\r\nlines  ', defaults), { text: 'tabs and lines' });
  t.deepEqual(cleanText('keep\nline\tbreaks', { ...defaults, collapseWhitespace: false }), { text: 'keep line\tbreaks' });
  t.deepEqual(cleanText('<br> &nbsp; ', defaults), { dropped: 'empty' });
  t.deepEqual(cleanText('abc', { ...defaults, minLength: 4 }), { dropped: 'too_short' });
  t.deepEqual(cleanText('😀😀😀', { ...defaults, maxLength: 3 }), { text: '😀😀😀' });
  t.deepEqual(cleanText('😀😀😀😀', { ...defaults, maxLength: 3 }), { dropped: 'too_long' });
  t.is(codePointLength('a😀b'), 3);
});

test('length limits and empty results are counted by reason', async (t) => {
  const dir = await folder({ 'a.txt': 'ok text\nab\n<p></p>\n' + 'long '.repeat(20) + '\n' });
  const out = await prepare(dir, { inputs: [join(dir, 'a.txt')], clean: { minLength: 3, maxLength: 50 } });
  t.deepEqual(out.train, ['ok text']);
  t.like(out.summary.dropped, { empty: 1, tooShort: 1, tooLong: 1 });
});

test('exact duplicates are found after cleaning and only the first is kept', async (t) => {
  const dir = await folder({
    'a.txt': 'Hello  world\n<b>Hello</b> world\nHello world\nanother\n',
    'b.jsonl': '{"text":"Hello world"}\n{"text":"another"}\n{"text":"new"}\n',
  });
  const out = await prepare(dir, { inputs: [dir] });
  t.deepEqual(out.train, ['Hello world', 'another', 'new']);
  t.is(out.summary.dropped.duplicates, 4);
  const kept = await prepare(dir, { inputs: [dir], dedup: false });
  t.is(kept.train.length, 7);
});

test('near duplicates are dropped by MinHash when asked for', async (t) => {
  const base = 'The quick brown fox jumps over the lazy dog while the cat watches from the warm windowsill all afternoon long.';
  const lines = [base, base.replace('lazy', 'sleepy'), base.toUpperCase(), 'A completely different sentence about tokenizers and corpora.'];
  const dir = await folder({ 'a.txt': lines.join('\n') + '\n' });
  const near = await prepare(dir, { inputs: [join(dir, 'a.txt')], nearDuplicates: true });
  t.deepEqual(near.train, [base, lines[3]]);
  t.is(near.summary.dropped.nearDuplicates, 2);
  const strict = await prepare(dir, { inputs: [join(dir, 'a.txt')], nearDuplicates: { threshold: 0.99 } });
  t.is(strict.summary.dropped.nearDuplicates, 1); // only the case-folded copy is identical
  const off = await prepare(dir, { inputs: [join(dir, 'a.txt')] });
  t.is(off.train.length, 4);
});

test('the split is deterministic, close to the fractions, and stable when data is added', async (t) => {
  const first = Array.from({ length: 3000 }, (_, i) => `example number ${i}`);
  const more = Array.from({ length: 1000 }, (_, i) => `added example ${i}`);
  const dir = await folder({ 'a.txt': first.join('\n'), 'b.txt': more.join('\n') });
  const split = { validation: 0.1, test: 0.05 };
  const once1 = await prepare(dir, { inputs: [join(dir, 'a.txt')], split });
  const once2 = await prepare(dir, { inputs: [join(dir, 'a.txt')], split });
  t.deepEqual(once2.validation, once1.validation);
  t.deepEqual(once2.test, once1.test);
  t.true(Math.abs(once1.validation.length - 300) < 60, `validation has ${once1.validation.length}`);
  t.true(Math.abs(once1.test.length - 150) < 45, `test has ${once1.test.length}`);
  const grown = await prepare(dir, { inputs: [join(dir, 'b.txt'), join(dir, 'a.txt')], split });
  const where = new Map<string, string>();
  for (const name of ['train', 'validation', 'test'] as const) for (const line of grown[name]) where.set(line, name);
  for (const name of ['train', 'validation', 'test'] as const) {
    for (const line of once1[name]) t.is(where.get(line), name, line);
  }
  const reseeded = await prepare(dir, { inputs: [join(dir, 'a.txt')], split, seed: 'another' });
  t.notDeepEqual(reseeded.validation, once1.validation);
});

// Each bad input, its reason, the line reported, and the good rows around it.
const badInputs: Array<{ title: string; name: string; content: string | Buffer; reason: BadRowReason; line: number; good: string[]; options?: Partial<PrepareCorpusOptions> }> = [
  {
    title: 'invalid UTF-8',
    name: 'a.txt',
    content: Buffer.concat([Buffer.from('good one\n'), Buffer.from([0x62, 0x61, 0xff, 0x64, 0x0a]), Buffer.from('good two\n')]),
    reason: 'invalid_utf8',
    line: 2,
    good: ['good one', 'good two'],
  },
  {
    title: 'a malformed JSON line',
    name: 'a.jsonl',
    content: '{"text":"good one"}\n{"text": "oops",\n{"text":"good two"}\n',
    reason: 'malformed_json',
    line: 2,
    good: ['good one', 'good two'],
  },
  {
    title: 'a missing JSON field',
    name: 'a.jsonl',
    content: '{"text":"good one"}\n{"body":"no text"}\n{"text":42}\n{"text":"good two"}\n',
    reason: 'missing_field',
    line: 2,
    good: ['good one', 'good two'],
  },
  {
    title: 'an unbalanced CSV quote',
    name: 'a.csv',
    content: 'id,text\n1,good one\n2,"never closed\n3,good two\n4,good three\n',
    reason: 'unbalanced_quote',
    line: 3,
    good: ['good one', 'good two', 'good three'],
  },
  {
    title: 'a malformed CSV quote',
    name: 'a.csv',
    content: 'id,text\n1,good one\n2,"closed" then text\n3,good two\n',
    reason: 'malformed_csv',
    line: 3,
    good: ['good one', 'good two'],
  },
  {
    title: 'a CSV row short of a field',
    name: 'a.csv',
    content: 'id,text\n1,good one\n2\n3,good two\n',
    reason: 'field_count',
    line: 3,
    good: ['good one', 'good two'],
  },
  {
    title: 'empty text',
    name: 'a.jsonl',
    content: '{"text":"good one"}\n{"text":"   "}\n{"text":"good two"}\n',
    reason: 'empty_text',
    line: 2,
    good: ['good one', 'good two'],
  },
  {
    title: 'a line over maxLineBytes',
    name: 'a.txt.gz',
    content: gzipSync('good one\n' + 'x'.repeat(5000) + '\ngood two\n'),
    reason: 'line_too_long',
    line: 2,
    good: ['good one', 'good two'],
    options: { maxLineBytes: 1000 },
  },
];

for (const bad of badInputs) {
  test(`${bad.title} is an error naming file and line, or skipped and counted`, async (t) => {
    const dir = await folder({ [bad.name]: bad.content });
    const file = join(dir, bad.name);
    const error = await t.throwsAsync(prepare(dir, { inputs: [file], ...bad.options }), { instanceOf: CorpusError });
    t.is(error?.code, 'ERR_CORPUS_BAD_ROW');
    t.is(error?.reason, bad.reason);
    t.is(error?.file, file);
    t.is(error?.line, bad.line);
    t.true(error?.message.startsWith(`${file}:${bad.line}: `));
    const skipped = await prepare(dir, { inputs: [file], onBadRow: 'skip', ...bad.options });
    t.deepEqual(skipped.train, bad.good);
    t.true(skipped.summary.badRows[bad.reason] >= 1);
    t.is(skipped.summary.dropped.badRows, skipped.summary.read - bad.good.length);
  });
}

test('a 100 MB line is skipped without holding it in memory', async (t) => {
  const dir = await folder({});
  const file = join(dir, 'huge.txt');
  const out = createWriteStream(file);
  out.write('before\n');
  const block = Buffer.alloc(1 << 20, 'y');
  for (let i = 0; i < 100; i++) if (!out.write(block)) await once(out, 'drain');
  out.end('\nafter\n');
  await once(out, 'finish');
  t.is((await stat(file)).size, 100 * (1 << 20) + 14);
  global.gc?.();
  const before = process.memoryUsage();
  let peak = 0;
  const sampler = setInterval(() => {
    const now = process.memoryUsage();
    peak = Math.max(peak, now.heapUsed + now.arrayBuffers - before.heapUsed - before.arrayBuffers);
  }, 2);
  try {
    await t.throwsAsync(prepare(dir, { inputs: [file] }), { instanceOf: CorpusError, message: new RegExp(`^${file}:2: line of 104857600 bytes`) });
    const skipped = await prepare(dir, { inputs: [file], onBadRow: 'skip' });
    t.deepEqual(skipped.train, ['before', 'after']);
    t.is(skipped.summary.badRows.line_too_long, 1);
  } finally {
    clearInterval(sampler);
  }
  t.log(`peak growth of heap + array buffers: ${(peak / 2 ** 20).toFixed(1)} MiB`);
  // Read buffers awaiting GC account for some growth; holding the line would be over 100 MiB.
  t.true(peak < 80 * 2 ** 20, `memory grew by ${(peak / 2 ** 20).toFixed(1)} MiB`);
});

test('a CSV header without the text column is an input error even when skipping rows', async (t) => {
  const dir = await folder({ 'a.csv': 'id,body\n1,x\n' });
  const error = await t.throwsAsync(prepare(dir, { inputs: [join(dir, 'a.csv')], onBadRow: 'skip' }), { instanceOf: CorpusError });
  t.is(error?.code, 'ERR_CORPUS_INPUT');
  t.regex(error!.message, /a\.csv:1: column "text" not found: the header has "id", "body"/);
});

test('a corrupt gzip file is an input error that names the file', async (t) => {
  const dir = await folder({ 'a.txt.gz': Buffer.concat([gzipSync('one\ntwo\n').subarray(0, 12), Buffer.from('garbage')]) });
  const error = await t.throwsAsync(prepare(dir, { inputs: [join(dir, 'a.txt.gz')] }), { instanceOf: CorpusError });
  t.is(error?.code, 'ERR_CORPUS_INPUT');
  t.true(error?.message.startsWith(join(dir, 'a.txt.gz')));
});

test('a failed run leaves no split files behind', async (t) => {
  const dir = await folder({ 'a.jsonl': '{"text":"fine"}\n'.repeat(5000) + 'not json\n' });
  const outDir = join(dir, 'out');
  await t.throwsAsync(prepareCorpus({ inputs: [join(dir, 'a.jsonl')], outDir, dedup: false }), { instanceOf: CorpusError });
  t.deepEqual(await readdir(outDir), []);
});

test('the summary counts bytes and characters per split and is saved as summary.json', async (t) => {
  const dir = await folder({ 'a.txt': 'héllo 😀\nplain\nplain\n' });
  const out = await prepare(dir, { inputs: [join(dir, 'a.txt')] });
  const train = out.summary.splits.train;
  t.like(train, { examples: 2, characters: 7 + 5 });
  t.is(train.bytes, (await stat(join(out.outDir, 'train.txt'))).size);
  t.like(out.summary, { read: 3, written: 2, dropped: { duplicates: 1 } });
  t.deepEqual(JSON.parse(await readFile(join(out.outDir, 'summary.json'), 'utf8')), out.summary);
  const text = formatSummary(out.summary);
  t.regex(text, /1 file, 3 records read, 2 examples written/);
  t.regex(text, /1 duplicates/);
  t.regex(text, /train\s+2 examples\s+18 B\s+12 characters/);
});

test('bad options throw TypeError or RangeError naming the option', async (t) => {
  const dir = await folder({ 'a.txt': 'x\n', 'a.dat': 'x\n' });
  const outDir = join(dir, 'out');
  const file = join(dir, 'a.txt');
  await t.throwsAsync(prepareCorpus({ inputs: [], outDir }), { instanceOf: TypeError, message: /non-empty array of inputs for inputs/ });
  await t.throwsAsync(prepareCorpus({ inputs: [file], outDir: '' }), { instanceOf: TypeError, message: /for outDir/ });
  await t.throwsAsync(prepareCorpus({ inputs: [join(dir, 'nope*.txt')], outDir }), { instanceOf: TypeError, message: /for inputs\[0\]/ });
  await t.throwsAsync(prepareCorpus({ inputs: [join(dir, 'a.dat')], outDir }), { instanceOf: TypeError, message: /known extension .* for inputs\[0\]/ });
  await t.throwsAsync(prepareCorpus({ inputs: [file], outDir, split: { validation: 0.6, test: 0.6 } }), { instanceOf: RangeError, message: /for split/ });
  await t.throwsAsync(prepareCorpus({ inputs: [file], outDir, onBadRow: 'ignore' as never }), { instanceOf: RangeError, message: /for onBadRow but received "ignore"/ });
  await t.throwsAsync(prepareCorpus({ inputs: [file], outDir, clean: { minLength: -1 } }), { instanceOf: RangeError, message: /for clean.minLength/ });
  await t.throwsAsync(prepareCorpus({ inputs: [{ path: file, format: 'xml' as never }], outDir }), { instanceOf: RangeError, message: /for inputs\[0\].format/ });
  await t.throwsAsync(prepareCorpus({ inputs: [{ path: file, header: false, column: 'text' }], outDir }), { instanceOf: TypeError, message: /column index when header is false/ });
});

test('the compact hash set keeps every distinct 64-bit key through growth', (t) => {
  const set = new HashSet64();
  let state = 1;
  const next = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0);
  const keys: Array<[number, number]> = Array.from({ length: 50000 }, () => [next(), next()]);
  keys.push([0, 0], [0, 1]);
  for (const [hi, lo] of keys) t.true(set.add(hi, lo) || (hi === 0 && lo === 1));
  t.is(set.size, 50001); // (0, 0) and (0, 1) share a slot by design
  for (const [hi, lo] of keys.slice(0, 1000)) t.false(set.add(hi, lo));
  t.true(set.has(keys[123][0], keys[123][1]));
  t.false(set.has(7, 7));
  t.true(set.byteLength <= 50001 * 32);
});
