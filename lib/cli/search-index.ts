// bertorch index build | query: a vector index of texts' embeddings in a
// file (exact, or --ann HNSW), then top-k queries against it. The texts go
// beside the index (<index>.texts.jsonl) so answers can show them.
import { readFile, writeFile } from 'node:fs/promises';
import { ExactIndex, HnswIndex, type VectorIndex } from '../search/index.js';
import { mustExist, say, type Command, type Io } from './command.js';
import { ENCODER, loadEncoder, readTexts } from './embed.js';
import { b, COMMON, i, s, type Values } from './options.js';

export const indexBuildCommand: Command = {
  summary: 'Embeds texts and writes a vector index file (exact or --ann).',
  usage: 'bertorch index build --model <dir> --input <texts> --output <file> [options]',
  options: {
    ...ENCODER,
    input: s('texts: .txt lines or .jsonl / .csv / .tsv rows (--text-column)', { required: true }),
    output: s('index file (the texts go to <file>.texts.jsonl)', { required: true }),
    'text-column': s('JSONL field or CSV/TSV column of the text', { default: 'text' }),
    metric: s('similarity', { default: 'cosine', choices: ['cosine', 'dot'] }),
    ann: b('approximate HNSW index (hnswlib-node) instead of the exact one'),
    ...COMMON,
  },
  run: build,
};

export const indexQueryCommand: Command = {
  summary: 'Top-k texts of an index for each query (JSONL out).',
  usage: 'bertorch index query --index <file> --model <dir> (--query <text> | --input <file>) [--k 10]',
  options: {
    ...ENCODER,
    index: s('index file written by index build', { required: true }),
    query: s('one query'),
    input: s('queries: .txt lines, .jsonl / .csv / .tsv rows (--text-column), or -'),
    'text-column': s('JSONL field or CSV/TSV column of the query', { default: 'text' }),
    k: i('results per query', 10),
    ...COMMON,
  },
  run: query,
};

async function build(v: Values, io: Io): Promise<number> {
  await mustExist(v.input, '--input');
  const texts = await readTexts(v.input, v.textColumn, io);
  const encoder = await loadEncoder(v);
  let index: VectorIndex | undefined;
  try {
    const vectors = await encoder.encode(texts, { batchSize: v.batchSize });
    index = v.ann ? new HnswIndex(encoder.dim, v.metric, { capacity: Math.max(16, texts.length) }) : new ExactIndex(encoder.dim, v.metric);
    await index.add(texts.map((_, r) => r), vectors);
    await index.save(v.output);
    await writeFile(`${v.output}.texts.jsonl`, texts.map((text, id) => JSON.stringify({ id, text })).join('\n') + '\n');
    io.stdout.write(JSON.stringify({ command: 'index build', index: v.output, kind: v.ann ? 'hnsw' : 'exact', metric: v.metric, size: index.size, dim: encoder.dim }) + '\n');
    return 0;
  } finally {
    index?.dispose();
    await encoder.close();
  }
}

async function query(v: Values, io: Io): Promise<number> {
  if ((v.query === undefined) === (v.input === undefined)) throw new Error('give --query <text> or --input <file>, one of them');
  await mustExist(v.index, '--index');
  await mustExist(v.input, '--input');
  const queries = v.query !== undefined ? [v.query] : await readTexts(v.input, v.textColumn, io);
  const ann = await readFile(`${v.index}.json`).then(() => true, () => false);
  const index: VectorIndex = ann ? await HnswIndex.load(v.index) : await ExactIndex.load(v.index);
  const texts = await readFile(`${v.index}.texts.jsonl`, 'utf8').then((t) => t.split('\n').filter(Boolean).map((l) => JSON.parse(l).text as string), () => undefined);
  const encoder = await loadEncoder(v);
  try {
    const r = await index.search(await encoder.encode(queries, { batchSize: v.batchSize }), v.k);
    queries.forEach((q, n) => io.stdout.write(JSON.stringify({ query: q, hits: r.hits(n).map((h) => ({ ...h, ...(texts ? { text: texts[h.id] } : {}) })) }) + '\n'));
    say(io, v, `${queries.length} queries against ${index.size} vectors (${ann ? 'hnsw' : 'exact'})`);
    return 0;
  } finally {
    index.dispose();
    await encoder.close();
  }
}
