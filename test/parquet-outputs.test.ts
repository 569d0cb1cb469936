// Parquet outputs of the CLI beside predict's: `bertorch evaluate --output`,
// `bertorch embed --output` (the embedding a fixed-size list of float32) and
// `bertorch monitor --aggregates`, each run twice by the real CLI, once to
// its text format and once to .parquet: pyarrow reads the Parquet back with
// typed columns, equal row for row to the text output. A run that fails
// leaves no output file behind.

import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LABELS, labeledHeadlines, newsJsonl, TOPICS } from '../examples/sentiment-monitor/headlines.js';
import { ParquetTableWriter } from '../lib/data/parquet-writer.js';
import { cli } from './helpers/cli.js';
import { tinyClassifierFolder } from './helpers/tiny-classifier.js';
import { pythonGate, runPython } from './helpers/python.js';

const { available, test } = pythonGate(['pyarrow']);
const ENV = { ...process.env, OMP_NUM_THREADS: '1' };
let root = '';
let model = '';

test.before(async () => {
  if (!available) return;
  root = await mkdtemp(join(tmpdir(), 'bertorch-parquet-outputs-'));
  model = join(root, 'model');
  await tinyClassifierFolder(model, ['negative', 'neutral', 'positive'], 5);
  const rows = labeledHeadlines(60, 2).map((e) => JSON.stringify({ text: e.text, label: LABELS[e.label as number] }));
  await writeFile(join(root, 'labeled.jsonl'), rows.join('\n') + '\n');
});

test.after.always(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

const READ = String.raw`
import pyarrow.parquet as pq
t = pq.read_table(sys.argv[1])
print(json.dumps({'schema': {f.name: str(f.type) for f in t.schema}, 'rows': t.to_pylist()}))
`;

const jsonLines = async (file: string) => (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));

test('evaluate --output x.parquet: one typed row per example, equal to the JSONL rows and to the report', async (t) => {
  const data = join(root, 'labeled.jsonl');
  const a = await cli(['evaluate', '--model', model, '--data', data, '--output', join(root, 'eval.jsonl'), '--json', '--no-baseline'], { env: ENV });
  t.is(a.code, 0, a.stderr);
  const b = await cli(['evaluate', '--model', model, '--data', data, '--output', join(root, 'eval', 'rows.parquet'), '--json', '--no-baseline'], { env: ENV });
  t.is(b.code, 0, b.stderr);
  const want = await jsonLines(join(root, 'eval.jsonl'));
  const got = runPython(READ, [join(root, 'eval', 'rows.parquet')]);
  t.deepEqual(got.schema, { text: 'string', label: 'string', prediction: 'string', score: 'float', correct: 'bool' });
  t.is(got.rows.length, 60);
  const input = await jsonLines(data);
  for (const [i, row] of got.rows.entries()) {
    t.deepEqual(row, { ...want[i], score: Math.fround(want[i].score) });
    t.is(row.text, input[i].text);
    t.is(row.label, input[i].label);
  }
  const accuracy = JSON.parse(b.stdout).report.accuracy;
  t.is(got.rows.filter((r: { correct: boolean }) => r.correct).length / 60, accuracy);
  t.deepEqual(await readdir(join(root, 'eval')), ['rows.parquet']);
});

test('embed --output x.parquet: text and a fixed-size list<float32> column, equal to the JSONL embeddings', async (t) => {
  const texts = join(root, 'texts.txt');
  await writeFile(texts, labeledHeadlines(25, 4).map((e) => e.text).join('\n') + '\n');
  const a = await cli(['embed', '--model', model, '--input', texts, '--output', join(root, 'emb.jsonl'), '--quiet'], { env: ENV });
  t.is(a.code, 0, a.stderr);
  const b = await cli(['embed', '--model', model, '--input', texts, '--output', join(root, 'emb.parquet'), '--quiet'], { env: ENV });
  t.is(b.code, 0, b.stderr);
  const want = await jsonLines(join(root, 'emb.jsonl'));
  const got = runPython(String.raw`
import pyarrow.parquet as pq
t = pq.read_table(sys.argv[1])
m = t.column('embedding').combine_chunks().flatten().to_numpy().reshape(len(t), -1)
print(json.dumps({'type': str(t.schema.field('embedding').type), 'shape': list(m.shape), 'dtype': str(m.dtype), 'texts': t.column('text').to_pylist(), 'matrix': m.tolist()}))`, [join(root, 'emb.parquet')]);
  t.is(got.type, 'fixed_size_list<element: float not null>[32]');
  t.deepEqual(got.shape, [25, 32]);
  t.is(got.dtype, 'float32');
  t.deepEqual(got.texts, want.map((r) => r.text));
  t.deepEqual(got.matrix, want.map((r) => r.embedding));
});

test('monitor --aggregates x.parquet: typed per-window rows, equal to the CSV aggregates', async (t) => {
  const input = join(root, 'news.jsonl');
  await writeFile(input, [...newsJsonl({ records: 800, seed: 3 })].join('\n') + '\n');
  await writeFile(join(root, 'topics.json'), JSON.stringify(TOPICS));
  const args = ['monitor', '--model', model, '--input', input, '--topics', join(root, 'topics.json'), '--allowed-lateness', '5m', '--quiet'];
  const a = await cli([...args, '--aggregates', join(root, 'agg.csv')], { env: ENV });
  t.is(a.code, 0, a.stderr);
  const b = await cli([...args, '--aggregates', join(root, 'agg.parquet')], { env: ENV });
  t.is(b.code, 0, b.stderr);
  const [head, ...lines] = (await readFile(join(root, 'agg.csv'), 'utf8')).trim().split('\n');
  const got = runPython(READ, [join(root, 'agg.parquet')]);
  t.deepEqual(Object.keys(got.schema), head.split(','));
  t.like(got.schema, { topic: 'string', start: 'string', count: 'int64', index: 'double', judged: 'bool', z: 'double', count_negative: 'int64' });
  t.true(lines.length >= 5, `${lines.length} windows`);
  t.is(got.rows.length, lines.length);
  const text = (x: unknown) => (x === null ? '' : typeof x === 'number' && !Number.isInteger(x) ? String(Number(x.toFixed(6))) : String(x));
  for (const [i, row] of got.rows.entries()) t.is(Object.values(row).map(text).join(','), lines[i]);
});

test('a vector of the wrong length fails naming the row and column, and leaves no file', async (t) => {
  const dir = await mkdtemp(join(root, 'bad-'));
  const out = new ParquetTableWriter(join(dir, 'emb.parquet'), [{ name: 'embedding', type: 'float32[]', size: 4 }], { rowGroupSize: 2 });
  out.write({ embedding: [1, 2, 3, 4] });
  t.throws(() => out.write({ embedding: [1, 2, 3] }), { message: /emb\.parquet: row 1, column "embedding" has 3 values; the column holds vectors of 4/ });
  t.deepEqual(await readdir(dir), []);
  await out.close();
  t.deepEqual(await readdir(dir), []);
});

// Each head's rows: NER tags per word, multi-label lists, regression values; JSONL and Parquet agree.
async function evaluateBoth(t: import('ava').ExecutionContext, dir: string, data: string, name: string) {
  const a = await cli(['evaluate', '--model', dir, '--data', data, '--output', join(root, `${name}.jsonl`), '--json'], { env: ENV });
  t.is(a.code, 0, a.stderr);
  const b = await cli(['evaluate', '--model', dir, '--data', data, '--output', join(root, `${name}.parquet`), '--json'], { env: ENV });
  t.is(b.code, 0, b.stderr);
  return { want: await jsonLines(join(root, `${name}.jsonl`)), got: runPython(READ, [join(root, `${name}.parquet`)]), report: JSON.parse(b.stdout) };
}

test('evaluate --output for a token classifier: the words and their gold and predicted tags as JSON text', async (t) => {
  const dir = join(root, 'ner');
  await tinyClassifierFolder(dir, ['O', 'B-ORG', 'I-ORG'], 7, { token: true });
  const sentences = [['Acme', 'Corp', 'shipped', 'late'], ['the', 'box', 'from', 'Globex', 'arrived']];
  const tags = [['B-ORG', 'I-ORG', 'O', 'O'], ['O', 'O', 'O', 'B-ORG', 'O']];
  await writeFile(join(root, 'ner.conll'), sentences.map((s, k) => s.map((w, i) => `${w} ${tags[k][i]}`).join('\n')).join('\n\n') + '\n');
  const { want, got } = await evaluateBoth(t, dir, join(root, 'ner.conll'), 'ner-rows');
  t.deepEqual(got.schema, { text: 'string', label: 'string', prediction: 'string', correct: 'bool' });
  t.deepEqual(got.rows, want);
  t.deepEqual(got.rows.map((r: { text: string }) => r.text), sentences.map((s) => s.join(' ')));
  t.deepEqual(got.rows.map((r: { label: string }) => JSON.parse(r.label)), tags);
  for (const r of got.rows) {
    const pred = JSON.parse(r.prediction) as string[];
    t.is(pred.length, JSON.parse(r.label).length);
    t.is(r.correct, pred.every((tag, i) => tag === JSON.parse(r.label)[i]));
  }
});

test('evaluate --output for multi-label and regression models: label lists, and values with their error as doubles', async (t) => {
  const multi = join(root, 'multi');
  await tinyClassifierFolder(multi, ['billing', 'delivery', 'refund'], 8, { config: { problem_type: 'multi_label_classification' } });
  const rows = [{ text: 'refund my late delivery', label: ['delivery', 'refund'] }, { text: 'a billing question', label: ['billing'] }];
  await writeFile(join(root, 'multi.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const m = await evaluateBoth(t, multi, join(root, 'multi.jsonl'), 'multi-rows');
  t.deepEqual(m.got.schema, { text: 'string', label: 'string', prediction: 'string', score: 'float', correct: 'bool' });
  t.deepEqual(m.got.rows.map((r: { label: string }) => JSON.parse(r.label)), rows.map((r) => r.label));
  m.got.rows.forEach((r: { score: number }, i: number) => t.is(r.score, Math.fround(m.want[i].score)));

  const reg = join(root, 'reg');
  await tinyClassifierFolder(reg, ['LABEL_0'], 9, { config: { problem_type: 'regression' } });
  await writeFile(join(root, 'reg.jsonl'), [{ text: 'great', label: 0.9 }, { text: 'awful', label: -0.7 }].map((r) => JSON.stringify(r)).join('\n') + '\n');
  const r = await evaluateBoth(t, reg, join(root, 'reg.jsonl'), 'reg-rows');
  t.deepEqual(r.got.schema, { text: 'string', label: 'double', prediction: 'double', error: 'double' });
  t.deepEqual(r.got.rows.map((x: { label: number }) => x.label), [0.9, -0.7]);
  for (const [i, x] of r.got.rows.entries()) {
    t.true(Math.abs(x.error - (x.prediction - x.label)) < 1e-12);
    t.true(Math.abs(x.prediction - r.want[i].prediction) < 1e-12);
  }
});
