// Parquet output: what ParquetTableWriter writes, pyarrow reads back equal
// (types, nulls, row groups, float32 lists); an aborted or failed write
// leaves no file; and `bertorch predict --output x.parquet` writes the same
// predictions as its JSONL output (reading a Parquet input), in typed columns, read back by pyarrow
// and by bertorch's own reader.

import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassificationDataset } from '../lib/data/datasets.js';
import { ParquetTableWriter } from '../lib/data/parquet-writer.js';
import { tinyClassifierFolder } from './helpers/tiny-classifier.js';
import { pythonGate, runPython } from './helpers/python.js';
import { cli } from './helpers/cli.js';

const { available, test } = pythonGate(['pyarrow']);
let root = '';

test.before(async () => {
  if (available) root = await mkdtemp(join(tmpdir(), 'bertorch-parquet-writer-'));
});

test.after.always(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

const READ = String.raw`
import pyarrow.parquet as pq
f = pq.ParquetFile(sys.argv[1])
print(json.dumps({'schema': {n: str(f.schema_arrow.field(n).type) for n in f.schema_arrow.names}, 'groups': f.num_row_groups, 'rows': f.read().to_pylist()}))
`;

test('what ParquetTableWriter writes, pyarrow reads back equal, a row group at a time', async (t) => {
  const file = join(root, 'typed.parquet');
  const out = new ParquetTableWriter(file, [
    { name: 'text', type: 'string' },
    { name: 'label', type: 'string' },
    { name: 'score', type: 'float' },
    { name: 'id', type: 'int64' },
    { name: 'ok', type: 'boolean' },
    { name: 'embedding', type: 'float32[]' },
  ], { rowGroupSize: 4 });
  const rows = Array.from({ length: 10 }, (_, i) => ({
    text: `row ${i} délta 東京 🙂`,
    label: i === 3 ? null : ['neg', 'pos'][i % 2],
    score: Math.fround(i / 7),
    id: 2 ** 40 + i,
    ok: i % 3 === 0,
    embedding: i === 5 ? undefined : new Float32Array([i, -0.25, Math.fround(1 / 3)]),
  }));
  for (const row of rows) out.write(row);
  t.deepEqual(await readdir(root).then((names) => names.filter((n) => n.startsWith('typed.parquet') && n !== 'typed.parquet').length), 1, 'a temporary file while writing');
  await out.close();
  const back = runPython(READ, [file]);
  t.deepEqual(back.schema, { text: 'string', label: 'string', score: 'float', id: 'int64', ok: 'bool', embedding: 'list<element: float not null>' });
  t.is(back.groups, 3);
  t.deepEqual(back.rows, rows.map((r) => ({ ...r, embedding: r.embedding ? Array.from(r.embedding) : null })));
  t.deepEqual((await readdir(root)).filter((n) => n.startsWith('typed')), ['typed.parquet']);
});

test('an aborted write leaves no file, and a bad value fails without leaving one', async (t) => {
  const dir = await mkdtemp(join(root, 'abort-'));
  const out = new ParquetTableWriter(join(dir, 'never.parquet'), [{ name: 'text', type: 'string' }], { rowGroupSize: 2 });
  for (let i = 0; i < 5; i++) out.write({ text: `t${i}` });
  await out.abort();
  t.deepEqual(await readdir(dir), []);
  const bad = new ParquetTableWriter(join(dir, 'bad.parquet'), [{ name: 'n', type: 'int64' }]);
  bad.write({ n: 1.5 });
  await t.throwsAsync(bad.close());
  t.deepEqual(await readdir(dir), []);
});


test('bertorch predict writes Parquet with typed columns, equal to its JSONL output', async (t) => {
  const model = join(root, 'model');
  await tinyClassifierFolder(model, ['neg', 'neu', 'pos'], 3);
  const input = join(root, 'input.parquet');
  runPython(String.raw`
import pyarrow as pa, pyarrow.parquet as pq
texts = ['great product %d' % i if i % 3 else 'the delivery was late, %d days' % i for i in range(40)]
pq.write_table(pa.table({'text': texts, 'label': ['pos'] * 40}), sys.argv[1], row_group_size=16, compression='zstd')
print(json.dumps(len(texts)))`, [input]);
  t.is((await ClassificationDataset.fromFile(input)).length, 40);
  const a = await cli(['predict', '--model', model, '--input', input, '--output', join(root, 'preds.jsonl'), '--quiet']);
  t.is(a.code, 0, a.stderr);
  const b = await cli(['predict', '--model', model, '--input', input, '--output', join(root, 'out', 'preds.parquet'), '--quiet']);
  t.is(b.code, 0, b.stderr);
  const want = (await readFile(join(root, 'preds.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  const got = runPython(READ, [join(root, 'out', 'preds.parquet')]);
  t.deepEqual(got.schema, { text: 'string', label: 'string', score: 'float', probabilities: 'string' });
  t.is(got.rows.length, 40);
  for (const [i, row] of got.rows.entries()) {
    t.is(row.text, want[i].text);
    t.is(row.label, want[i].label);
    t.is(row.score, Math.fround(want[i].score));
    t.deepEqual(JSON.parse(row.probabilities), want[i].probabilities);
  }
  t.deepEqual(await readdir(join(root, 'out')), ['preds.parquet']);
  // bertorch reads its own output back as a labeled dataset.
  const ds = await ClassificationDataset.fromFile(join(root, 'out', 'preds.parquet'));
  t.is(ds.length, 40);
});
