// Parquet and Arrow readers against what pyarrow and HF `datasets` write:
// every compression (snappy, zstd, gzip), dictionary-encoded strings, small
// row groups, struct fields, nulls; Arrow IPC files and streams; HF save
// folders with ClassLabel columns; the corpus and labeled datasets on them;
// and the bad inputs (truncated file, wrong column name, a text column that
// is not a string, an Arrow file of another schema) as errors naming the file.

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CorpusError, prepareCorpus } from '../lib/data/corpus.js';
import { ClassificationDataset } from '../lib/data/datasets.js';
import { readRecords, type ReaderSpec } from '../lib/data/readers.js';
import { pythonGate, runPython } from './helpers/python.js';

const { available, test } = pythonGate(['pyarrow', 'datasets']);

let root = '';
let expected: { texts: Array<string | null>; bodies: string[]; labels: string[] };

// Python writes the fixtures: 53 rows, a null text at row 5 (1-based 6), a blank one at row 9 (1-based 10).
const MAKE = String.raw`
import pyarrow as pa, pyarrow.parquet as pq, datasets, random, os
root = sys.argv[1]
random.seed(7)
words = ['alpha', 'beta', 'gamma', 'délta', '東京', 'emoji 🙂', 'x']
n = 53
texts = [' '.join(random.choice(words) for _ in range(random.randint(1, 12))) for _ in range(n)]
texts[5] = None
texts[9] = '   '
labels = [random.choice(['neg', 'pos', 'neutral']) for _ in range(n)]
bodies = ['body %d %s' % (i, random.choice(words)) for i in range(n)]
t = pa.table({'id': pa.array(range(n), pa.int64()), 'text': texts, 'meta': [{'body': b, 'n': i} for i, b in enumerate(bodies)], 'label': labels})
for codec in ['snappy', 'zstd', 'gzip', 'none']:
    pq.write_table(t, os.path.join(root, codec + '.parquet'), compression=codec, row_group_size=7, use_dictionary=True)
os.makedirs(os.path.join(root, 'folder'))
for k in range(3):
    pq.write_table(t.slice(k * 20, 20), os.path.join(root, 'folder', 'part-%05d.parquet' % k), row_group_size=6)
with pa.OSFile(os.path.join(root, 'file.arrow'), 'wb') as f:
    w = pa.ipc.new_file(f, t.schema); w.write_table(t, max_chunksize=10); w.close()
with pa.OSFile(os.path.join(root, 'stream.arrow'), 'wb') as f:
    w = pa.ipc.new_stream(f, t.schema); w.write_table(t, max_chunksize=10); w.close()
with pa.OSFile(os.path.join(root, 'other.arrow'), 'wb') as f:
    o = pa.table({'sentence': ['a', 'b'], 'score': [1.0, 2.0]})
    w = pa.ipc.new_file(f, o.schema); w.write_table(o); w.close()
pq.write_table(pa.table({'text': pa.array(range(5), pa.int32()), 'label': ['a'] * 5}), os.path.join(root, 'ints.parquet'))
clean = [i for i in range(n) if texts[i] is not None and texts[i].strip()]
features = datasets.Features({'text': datasets.Value('string'), 'label': datasets.ClassLabel(names=['neg', 'neutral', 'pos'])})
ds = datasets.Dataset.from_dict({'text': [texts[i] for i in clean], 'label': [labels[i] for i in clean]}, features=features)
ds.save_to_disk(os.path.join(root, 'hf'), num_shards=2)
print(json.dumps({'texts': texts, 'bodies': bodies, 'labels': labels}))
`;

test.before(async () => {
  if (!available) return;
  root = await mkdtemp(join(tmpdir(), 'bertorch-parquet-test-'));
  expected = runPython(MAKE, [root]);
});

test.after.always(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

const spec = (format: 'parquet' | 'arrow', columns: Array<string | number> = ['text']): ReaderSpec => ({
  format, columns, txtMode: 'line', field: 'text', header: true, quote: false, maxLineBytes: 1 << 20,
});

async function collect(file: string, s: ReaderSpec) {
  const texts: Array<string | null> = [];
  const bad: Array<{ line: number; bad: string; message: string }> = [];
  for await (const r of readRecords(file, s)) {
    if (r.bad !== undefined) {
      bad.push({ line: r.line, bad: r.bad, message: r.message });
      texts.push(r.bad === 'missing_field' ? null : '   ');
    } else texts.push(r.text);
  }
  return { texts, bad };
}

for (const codec of ['snappy', 'zstd', 'gzip', 'none']) {
  test(`a ${codec} Parquet file with row groups of 7 and dictionary strings reads as pyarrow wrote it`, async (t) => {
    const { texts, bad } = await collect(join(root, `${codec}.parquet`), spec('parquet'));
    t.deepEqual(texts, expected.texts);
    t.deepEqual(bad.map((b) => [b.line, b.bad]), [[6, 'missing_field'], [10, 'empty_text']]);
    t.regex(bad[0].message, /row 6, in row group 0/);
  });
}

test('a struct field is read by its dotted path, and several columns are joined by a space', async (t) => {
  const { texts } = await collect(join(root, 'zstd.parquet'), spec('parquet', ['meta.body']));
  t.deepEqual(texts, expected.bodies);
  const joined = await collect(join(root, 'snappy.parquet'), spec('parquet', ['label', 'meta.body']));
  t.deepEqual(joined.texts, expected.labels.map((l, i) => `${l} ${expected.bodies[i]}`));
});

for (const kind of ['file', 'stream']) {
  test(`an Arrow IPC ${kind} reads record batch by record batch as pyarrow wrote it`, async (t) => {
    const { texts, bad } = await collect(join(root, `${kind}.arrow`), spec('arrow'));
    t.deepEqual(texts, expected.texts);
    t.regex(bad[0].message, /row 6, in record batch 0/);
    t.deepEqual((await collect(join(root, `${kind}.arrow`), spec('arrow', ['meta.body']))).texts, expected.bodies);
  });
}

test('prepareCorpus takes a folder of Parquet files, and a HF datasets folder, with field for the text', async (t) => {
  const out = join(root, 'corpus-out');
  const summary = await prepareCorpus({ inputs: [join(root, 'folder')], field: 'text', outDir: out, onBadRow: 'skip', dedup: false, split: { validation: 0, test: 0 } });
  t.is(summary.files.length, 3);
  t.is(summary.read, 53);
  t.deepEqual(summary.skippedRows.map((r) => [r.file.endsWith('part-00000.parquet'), r.line, r.reason]), [[true, 6, 'missing_field'], [true, 10, 'empty_text']]);
  const train = (await readFile(join(out, 'train.txt'), 'utf8')).trimEnd().split('\n');
  t.is(train.length, 51);
  const hf = await prepareCorpus({ inputs: [join(root, 'hf')], outDir: join(root, 'corpus-hf'), dedup: false, split: { validation: 0, test: 0 }, clean: { nfkc: false } });
  t.is(hf.files.length, 2);
  t.is(hf.written, 51);
});

test('ClassificationDataset reads Parquet labels as strings, and a HF folder ClassLabel ids as their names', async (t) => {
  const clean = expected.texts.flatMap((text, i) => (text !== null && text.trim() ? [{ text, label: expected.labels[i] }] : []));
  const pq = await ClassificationDataset.fromFile(join(root, 'gzip.parquet'), { onBadRow: 'skip' });
  t.deepEqual(pq.labels, [...new Set(clean.map((c) => c.label))].sort());
  t.is(pq.length, clean.length);
  t.deepEqual([0, 1, 2, pq.length - 1].map((i) => pq.get(i).text), [0, 1, 2, clean.length - 1].map((i) => clean[i].text));
  t.deepEqual(pq.skippedRows.map((r) => [r.line, r.reason]), [[6, 'missing_field'], [10, 'empty_text']]);
  t.regex(pq.skippedRows[0].message, /column "text" is null \(row 6, in row group 0\)/);
  const hf = await ClassificationDataset.fromFile(join(root, 'hf'));
  t.deepEqual(hf.labels, ['neg', 'neutral', 'pos']);
  t.is(hf.length, clean.length);
  for (let i = 0; i < hf.length; i++) {
    t.is(hf.get(i).text, clean[i].text);
    t.is(hf.labels[hf.get(i).label as number], clean[i].label);
  }
  const nested = await ClassificationDataset.fromFile(join(root, 'file.arrow'), { textColumn: 'meta.body' });
  t.is(nested.get(52).text, expected.bodies[52]);
});

test('a bad row stops reading with an error naming file, row and row group', async (t) => {
  const file = join(root, 'snappy.parquet');
  const error = await t.throwsAsync(ClassificationDataset.fromFile(file), { instanceOf: CorpusError });
  t.is(error.code, 'ERR_CORPUS_BAD_ROW');
  t.is(error.file, file);
  t.is(error.line, 6);
  t.regex(error.message, /snappy\.parquet:6: column "text" is null \(row 6, in row group 0\)/);
});

test('a truncated Parquet file is an input error naming the file', async (t) => {
  const bytes = await readFile(join(root, 'snappy.parquet'));
  const cut = join(root, 'cut.parquet');
  await writeFile(cut, bytes.subarray(0, bytes.length - 100));
  const e1 = await t.throwsAsync(ClassificationDataset.fromFile(cut), { instanceOf: CorpusError });
  t.is(e1.code, 'ERR_CORPUS_INPUT');
  t.regex(e1.message, /cut\.parquet: not a readable Parquet file/);
  // Cut in the middle of the data, with a good footer copied on: the row group fails, named.
  const footer = bytes.readUInt32LE(bytes.length - 8) + 8;
  const broken = Buffer.concat([bytes.subarray(0, 4), Buffer.alloc(bytes.length - footer - 4, 0xff), bytes.subarray(bytes.length - footer)]);
  await writeFile(join(root, 'broken.parquet'), broken);
  const e2 = await t.throwsAsync(collect(join(root, 'broken.parquet'), spec('parquet')), { instanceOf: CorpusError });
  t.regex(e2.message, /broken\.parquet: row group 0 \(rows 1-7\)/);
});

test('a wrong column name, a non-string text column and an Arrow file of another schema are input errors', async (t) => {
  const wrong = await t.throwsAsync(ClassificationDataset.fromFile(join(root, 'zstd.parquet'), { textColumn: 'body' }), { instanceOf: CorpusError });
  t.is(wrong.code, 'ERR_CORPUS_INPUT');
  t.regex(wrong.message, /zstd\.parquet: column "body" not found: the table has id, text, meta, label/);
  const nested = await t.throwsAsync(collect(join(root, 'zstd.parquet'), spec('parquet', ['meta.title'])), { instanceOf: CorpusError });
  t.regex(nested.message, /column "meta\.title" not found: struct "meta" has body, n/);
  const ints = await t.throwsAsync(ClassificationDataset.fromFile(join(root, 'ints.parquet')), { instanceOf: CorpusError });
  t.regex(ints.message, /ints\.parquet: column "text" is int32, not a string column/);
  const other = await t.throwsAsync(
    prepareCorpus({ inputs: [join(root, 'other.arrow')], outDir: join(root, 'never') }),
    { instanceOf: CorpusError },
  );
  t.regex(other.message, /other\.arrow: column "text" not found: the table has sentence, score/);
  const notArrow = join(root, 'not.arrow');
  await writeFile(notArrow, 'text\nhello\n');
  const e = await t.throwsAsync(collect(notArrow, spec('arrow')), { instanceOf: CorpusError });
  t.regex(e.message, /not\.arrow: not a readable Arrow IPC file/);
});
