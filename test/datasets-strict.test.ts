// Strict reading (issue 22): a row with another number of fields than its
// header, a value of the wrong type, a line break or a CR that would be lost,
// an unreadable header, a CoNLL file of several columns or with a tag
// sequence its scheme forbids: each is an error naming file and line, or a
// counted skip (or repair) listed with its line, never a silent change.

import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { CorpusError, prepareCorpus, formatSummary } from '../lib/data/corpus.js';
import { ClassificationDataset, TokenClassificationDataset } from '../lib/data/datasets.js';

let root = '';
let counter = 0;

test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'bertorch-strict-test-'));
});

test.after.always(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

async function file(name: string, content: string | Buffer): Promise<string> {
  const path = join(root, `${++counter}-${name}`);
  await writeFile(path, content);
  return path;
}

test('a TSV row with a stray tab or an extra column is a file:line error, or a skip listed by line', async (t) => {
  const path = await file('t.tsv', 'text\tlabel\ngood movie\tpositive\nbad\tmovie\tnegative\nfine film\tpositive\tEXTRA\n');
  const error = await t.throwsAsync(ClassificationDataset.fromFile(path), { instanceOf: CorpusError });
  t.true(error!.message.startsWith(`${path}:3: 3 fields, header has 2`), error!.message);
  t.is(error!.reason, 'field_count');
  const skipped = await ClassificationDataset.fromFile(path, { onBadRow: 'skip' });
  t.deepEqual(skipped.labels, ['positive']);
  t.is(skipped.length, 1);
  t.deepEqual(skipped.badRows, { field_count: 2 });
  t.deepEqual(
    skipped.skippedRows.map((row) => [row.line, row.reason, row.message]),
    [
      [3, 'field_count', '3 fields, header has 2'],
      [4, 'field_count', '3 fields, header has 2'],
    ],
  );
});

test('without a header the first record sets the number of fields', async (t) => {
  const path = await file('a.csv', 'x,1\ny,0,extra\nz,1\n');
  const error = await t.throwsAsync(ClassificationDataset.fromFile(path, { header: false, textColumn: 0, labelColumn: 1 }), { instanceOf: CorpusError });
  t.true(error!.message.startsWith(`${path}:2: 3 fields, line 1 has 2`), error!.message);
});

test('a CR at the end of a field and a CRLF inside a quoted field are kept as written', async (t) => {
  const path = await file('a.csv', 'text,label\r\n"two\r\nlines",a\r\nends in CR\r,b\n');
  const data = await ClassificationDataset.fromFile(path);
  t.deepEqual([data.get(0).text, data.get(1).text], ['two\r\nlines', 'ends in CR\r']);
});

test('an unreadable header, a duplicated or missing column, a corrupt gzip stream are input errors naming the file', async (t) => {
  const cases: Array<[string, string | Buffer, RegExp]> = [
    ['a.csv', Buffer.concat([Buffer.from('te'), Buffer.from([0xff]), Buffer.from('xt,label\nx,a\n')]), /:1: the header cannot be read: invalid UTF-8/],
    ['b.csv', 'text,text,label\nx,y,a\n', /:1: column "text" is ambiguous: the header has it 2 times \(fields 0, 1\)/],
    ['c.csv', 'text\nx\n', /:1: column "label" not found/],
    ['d.tsv.gz', gzipSync('text\tlabel\nx\ta\n'.repeat(3)).subarray(0, 30), /d\.tsv\.gz: unexpected end of file/],
  ];
  for (const [name, content, message] of cases) {
    const path = await file(name, content);
    const error = await t.throwsAsync(ClassificationDataset.fromFile(path, { onBadRow: 'skip' }), { instanceOf: CorpusError });
    t.is(error!.code, 'ERR_CORPUS_INPUT', name);
    t.regex(error!.message, message);
    t.true(error!.message.startsWith(path));
  }
});

test('the corpus reader is strict too, and its summary lists skipped rows with file and line', async (t) => {
  const path = await file('a.tsv', 'id\ttext\n1\tgood one\n2\tstray\ttab\n3\tgood two\n');
  const outDir = join(root, `out-${++counter}`);
  const error = await t.throwsAsync(prepareCorpus({ inputs: [path], outDir }), { instanceOf: CorpusError });
  t.true(error!.message.startsWith(`${path}:3: 3 fields, header has 2`));
  const summary = await prepareCorpus({ inputs: [path], outDir, onBadRow: 'skip', split: { validation: 0, test: 0 } });
  t.is(summary.written, 2);
  t.deepEqual(summary.skippedRows, [{ file: path, line: 3, reason: 'field_count', message: '3 fields, header has 2' }]);
  t.regex(formatSummary(summary), /skipped .*a\.tsv:3: 3 fields, header has 2 \(field_count\)/);
  const jsonl = await file('a.jsonl', '{"text":"ok"}\n{"text":{"a":1}}\n[1]\n');
  const bad = await prepareCorpus({ inputs: [jsonl], outDir, onBadRow: 'skip' });
  t.deepEqual(
    bad.skippedRows.map((row) => [row.line, row.reason]),
    [
      [2, 'wrong_type'],
      [3, 'malformed_json'],
    ],
  );
});

test('a CoNLL file of more than two columns needs tagColumn, and then every line needs as many columns', async (t) => {
  const path = await file('a.conll', 'EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\nPeter NNP B-PER\n');
  const error = await t.throwsAsync(TokenClassificationDataset.fromConll(path), { instanceOf: CorpusError });
  t.is(error!.code, 'ERR_CORPUS_INPUT');
  t.regex(error!.message, /:1: the line has 4 columns: name the tag column with tagColumn/);
  const short = await t.throwsAsync(TokenClassificationDataset.fromConll(path, { tagColumn: -1 }), { instanceOf: CorpusError });
  t.true(short!.message.startsWith(`${path}:4: 3 columns, line 1 has 4`), short!.message);
  const skipped = await TokenClassificationDataset.fromConll(path, { tagColumn: 3, onBadRow: 'skip' });
  t.is(skipped.length, 1);
  t.deepEqual(skipped.skippedRows.map((row) => [row.line, row.reason]), [[4, 'field_count']]);
  const tabs = await file('b.conll', 'New\tB-LOC\nYork\tI-LOC\n');
  t.deepEqual((await TokenClassificationDataset.fromConll(tabs)).labels, ['B-LOC', 'I-LOC']);
});

test('a tag sequence its scheme forbids is an error, a skip, or a listed repair', async (t) => {
  const path = await file('a.conll', 'John I-PER\nlives O\n\nin O\nParis I-LOC\nnow O\n');
  const error = await t.throwsAsync(TokenClassificationDataset.fromConll(path, { scheme: 'IOB2' }), { instanceOf: CorpusError });
  t.true(error!.message.startsWith(`${path}:1: tag "I-PER" at the start of a sentence breaks IOB2`), error!.message);
  t.is(error!.reason as string, 'invalid_tags');
  const skipped = await TokenClassificationDataset.fromConll(path, { onBadRow: 'skip' });
  t.is(skipped.length, 0);
  t.deepEqual(skipped.skippedRows.map((row) => row.line), [1, 5]);
  const repaired = await TokenClassificationDataset.fromConll(path, { invalidTags: 'repair' });
  t.deepEqual(repaired.labels, ['B-LOC', 'B-PER', 'O']);
  t.deepEqual(repaired.repairs, [
    { line: 1, from: 'I-PER', to: 'B-PER' },
    { line: 5, from: 'I-LOC', to: 'B-LOC' },
  ]);
  const iob1 = await file('b.conll', 'New B-LOC\nYork I-LOC\n');
  const wrongScheme = await t.throwsAsync(TokenClassificationDataset.fromConll(iob1, { scheme: 'IOB1' }), { instanceOf: CorpusError });
  t.regex(wrongScheme!.message, /:1: tag "B-LOC" at the start of a sentence breaks IOB1 .*for an IOB2 file pass scheme 'IOB2'/);
  const ok = await TokenClassificationDataset.fromConll(await file('c.conll', 'New I-LOC\nYork I-LOC\nParis B-LOC\n'), { scheme: 'IOB1' });
  t.deepEqual([...ok.get(0).labels].map((id) => ok.labels[id]), ['B-LOC', 'I-LOC', 'B-LOC']);
});
