// bertorch embed: sentence embeddings of texts (lines, JSONL or CSV/TSV) as a
// float32 matrix file, JSONL or Parquet, with a sentence-transformers or BERT folder.
import { createReadStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { ParquetTableWriter } from '../data/parquet-writer.js';
import { SentenceEncoder } from '../embeddings/index.js';
import { FaqInputError, readFaqRows } from '../faq/kb.js';
import { mustExist, say, type Command, type Io } from './command.js';
import { COMMON, i, s, type Values } from './options.js';

/** Options every command that encodes shares. */
export const ENCODER = {
  model: s('sentence-transformers or BERT folder (e.g. all-MiniLM-L6-v2)', { required: true }),
  pooling: s('pooling (auto: the folder\'s)', { default: 'auto', choices: ['auto', 'mean', 'cls', 'max'] }),
  normalize: s('L2-normalise (auto: the folder\'s Normalize module)', { default: 'auto', choices: ['auto', 'true', 'false'] }),
  'batch-size': i('texts per forward pass', 32),
};

export async function loadEncoder(v: Values): Promise<SentenceEncoder> {
  await mustExist(v.model, '--model');
  return SentenceEncoder.fromPretrained(v.model, {
    ...(v.pooling !== 'auto' ? { pooling: v.pooling } : {}),
    ...(v.normalize !== 'auto' ? { normalize: v.normalize === 'true' } : {}),
    ...(v.device !== 'cpu' ? { device: v.device } : {}),
  });
}

/** Texts of a file: text lines (.txt or stdin), or the `column` of JSONL / CSV / TSV rows; empty lines of a text file are skipped. */
export async function readTexts(file: string, column: string, io: Io): Promise<string[]> {
  const base = file.replace(/\.gz$/i, '');
  if (file !== '-' && /\.(jsonl?|csv|tsv)$/i.test(base)) {
    const out: string[] = [];
    for await (const { line, fields } of readFaqRows(file)) {
      const t = fields[column];
      if (typeof t !== 'string' || t.trim() === '') throw new FaqInputError(file, line, `no text in column "${column}" (set --text-column)`);
      out.push(t);
    }
    return out;
  }
  const out: string[] = [];
  for await (const l of createInterface({ input: file === '-' ? io.stdin : createReadStream(file), crlfDelay: Infinity })) if (l.trim() !== '') out.push(l);
  return out;
}

export const embedCommand: Command = {
  summary: 'Sentence embeddings of texts: a float32 matrix file (.f32), JSONL or Parquet.',
  usage: 'bertorch embed --model <dir> --input <file>|- --output <file.f32|file.jsonl|file.parquet> [options]',
  options: {
    ...ENCODER,
    input: s('texts: .txt lines, .jsonl / .csv / .tsv rows (--text-column), or - for stdin lines', { default: '-' }),
    output: s('.f32: row-major float32 (n x dim, little-endian); .jsonl: {"text", "embedding"} lines; .parquet: text and embedding (fixed-size list of float32) columns; - : JSONL to stdout', { default: '-' }),
    'text-column': s('JSONL field or CSV/TSV column of the text', { default: 'text' }),
    ...COMMON,
  },
  run: embed,
};

// A fixed-size list column: Arrow readers get an n x dim float32 matrix, not ragged lists.
async function writeEmbeddingTable(file: string, texts: readonly string[], vectors: Float32Array, D: number): Promise<void> {
  const table = new ParquetTableWriter(file, [{ name: 'text', type: 'string' }, { name: 'embedding', type: 'float32[]', size: D }], { rowGroupSize: 8192 });
  try {
    for (const [r, text] of texts.entries()) table.write({ text, embedding: vectors.subarray(r * D, (r + 1) * D) });
    await table.close();
  } catch (error) {
    await table.abort();
    throw error;
  }
}

async function embed(v: Values, io: Io): Promise<number> {
  await mustExist(v.input, '--input');
  const texts = await readTexts(v.input, v.textColumn, io);
  const encoder = await loadEncoder(v);
  try {
    const t0 = performance.now();
    const vectors = await encoder.encode(texts, { batchSize: v.batchSize });
    const secs = (performance.now() - t0) / 1000;
    const D = encoder.dim;
    if (v.output !== '-') await mkdir(path.dirname(path.resolve(v.output)), { recursive: true });
    if (v.output.toLowerCase().endsWith('.parquet')) {
      await writeEmbeddingTable(v.output, texts, vectors, D);
    } else if (v.output.endsWith('.jsonl') || v.output === '-') {
      const lines = texts.map((text, r) => JSON.stringify({ text, embedding: Array.from(vectors.subarray(r * D, (r + 1) * D)) })).join('\n') + '\n';
      if (v.output === '-') io.stdout.write(lines); else await writeFile(v.output, lines);
    } else {
      await writeFile(v.output, new Uint8Array(vectors.buffer, vectors.byteOffset, vectors.byteLength));
    }
    say(io, v, `${texts.length} texts -> ${texts.length} x ${D} (${encoder.pooling} pooling${encoder.normalize ? ', normalised' : ''}) in ${secs.toFixed(2)} s (${(texts.length / secs).toFixed(1)} texts/s)${v.output !== '-' ? ` -> ${v.output}` : ''}`);
    return 0;
  } finally {
    await encoder.close();
  }
}
