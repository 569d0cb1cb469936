// A Parquet file damaged in one row group, as a disk or a cut copy leaves it:
// the rows before it stream out, then reading stops with an error that names
// the file, the row group and its rows, both through readTable (the rank
// split that pretraining uses) and through prepareCorpus.

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CorpusError, prepareCorpus } from '../lib/data/corpus.js';
import { readTable } from '../lib/data/parquet-table.js';
import { pythonGate, runPython } from './helpers/python.js';

const { available, test } = pythonGate(['pyarrow']);
let root = '';
let file = '';

// 40 rows in row groups of 10; prints the byte range of row group 2's text column chunk.
const MAKE = String.raw`
import pyarrow as pa, pyarrow.parquet as pq
pq.write_table(pa.table({'id': list(range(40)), 'text': ['sentence number %d about parquet' % i for i in range(40)]}), sys.argv[1], row_group_size=10, compression='snappy')
c = pq.ParquetFile(sys.argv[1]).metadata.row_group(2).column(1)
start = c.dictionary_page_offset if c.has_dictionary_page else c.data_page_offset
print(json.dumps([start, c.total_compressed_size]))
`;

test.before(async () => {
  if (!available) return;
  root = await mkdtemp(join(tmpdir(), 'bertorch-parquet-errors-'));
  const good = join(root, 'good.parquet');
  const [start, size] = runPython<[number, number]>(MAKE, [good]);
  const bytes = await readFile(good);
  bytes.fill(0xff, start, start + size);
  file = join(root, 'damaged.parquet');
  await writeFile(file, bytes);
});

test.after.always(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

test('readTable streams the good row groups, then fails naming the file, row group 2 and its rows', async (t) => {
  const seen: number[] = [];
  const error = await t.throwsAsync(async () => {
    for await (const r of readTable([file], { columns: ['text'] })) seen.push(r.row);
  }, { instanceOf: CorpusError });
  t.deepEqual(seen, Array.from({ length: 20 }, (_, i) => i));
  t.is(error.code, 'ERR_CORPUS_INPUT');
  t.is(error.file, file);
  t.regex(error.message, /damaged\.parquet: row group 2 \(rows 21-30\): /);
});

test('prepareCorpus on the damaged file fails naming file and row group, and the good file prepares', async (t) => {
  const error = await t.throwsAsync(prepareCorpus({ inputs: [file], outDir: join(root, 'out-bad'), format: 'parquet', field: 'text' }), { instanceOf: CorpusError });
  t.regex(error.message, /damaged\.parquet: row group 2 \(rows 21-30\)/);
  const ok = await prepareCorpus({ inputs: [join(root, 'good.parquet')], outDir: join(root, 'out-good'), format: 'parquet', field: 'text' });
  t.is(ok.read, 40);
});
