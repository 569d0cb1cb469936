import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parse as parseCsv } from 'csv-parse/sync';
import { createPredictor } from '../serve/index.js';
import { mustExist, say, type Command, type Io } from './command.js';
import { COMMON, i, n, s, type Values } from './options.js';
import { namingInputErrors } from '../data/corpus-error.js';
import { tableRows } from '../data/parquet-table.js';
import { ParquetTableWriter, type ParquetColumn } from '../data/parquet-writer.js';

// Parquet columns of a prediction: text, label (string), score (float32); a
// multi-label answer adds labels, a NER answer has entities, and the class
// probabilities, as JSON text; a regression answer has value (double, or JSON for several outputs).
function predictionColumns(row: Record<string, unknown>): ParquetColumn[] {
  const columns: ParquetColumn[] = [{ name: 'text', type: 'string' }];
  if ('entities' in row) columns.push({ name: 'entities', type: 'string' });
  else if ('value' in row) columns.push({ name: 'value', type: typeof row.value === 'number' ? 'double' : 'string' });
  else {
    columns.push({ name: 'label', type: 'string' }, { name: 'score', type: 'float' });
    if ('labels' in row) columns.push({ name: 'labels', type: 'string' });
    columns.push({ name: 'probabilities', type: 'string' });
  }
  return columns;
}

function predictionRow(row: Record<string, unknown>): Record<string, unknown> {
  const json = (value: unknown) => (value === undefined || typeof value === 'string' || typeof value === 'number' ? value : JSON.stringify(value));
  return { ...row, entities: json(row.entities), labels: json(row.labels), probabilities: json(row.probabilities), value: json(row.value) };
}

export const predictCommand: Command = {
  summary: 'Predicts texts from JSONL / CSV / TSV / Parquet / Arrow / text lines (a file or stdin) and writes JSONL, or Parquet for an output ending in .parquet.',
  usage: 'bertorch predict --model <dir> [--input <file>|-] [--output <file>] [options]',
  options: {
    model: s('fine-tuned HF folder with tokenizer files', { required: true }),
    input: s('input file; - or none reads stdin', { default: '-' }),
    output: s('output JSONL file, or .parquet (typed columns: text, label, score); - or none writes stdout', { default: '-' }),
    format: s('input format (auto: by extension, text for stdin)', { default: 'auto', choices: ['auto', 'text', 'jsonl', 'csv', 'tsv', 'parquet', 'arrow'] }),
    'text-column': s('JSONL field or CSV/TSV/Parquet/Arrow column of the text', { default: 'text' }),
    'batch-size': i('most texts per forward pass', 32),
    'max-length': i('tokens per text', 128),
    threshold: n('multi-label cut-off', 0.5),
    ...COMMON,
  },
  run: predict,
};

async function* inputTexts(v: Values, io: Io): AsyncGenerator<string> {
  const stdin = v.input === '-';
  const ext = stdin ? '' : v.input.replace(/\.gz$/, '').split('.').pop()!.toLowerCase();
  const format = v.format !== 'auto' ? v.format : ext === 'jsonl' || ext === 'ndjson' ? 'jsonl' : ext === 'csv' ? 'csv' : ext === 'tsv' ? 'tsv' : ext === 'parquet' || ext === 'arrow' ? ext : 'text';
  if (format === 'parquet' || format === 'arrow') {
    if (stdin) throw new Error(`--format ${format} reads a file, not stdin`);
    for await (const row of namingInputErrors(v.input, tableRows(v.input, format, [v.textColumn], [v.textColumn]))) {
      const text = row.field(v.textColumn);
      if (typeof text !== 'string') throw new Error(`${v.input}:${row.line}: column "${v.textColumn}" is null (${row.where})`);
      yield text;
    }
    return;
  }
  if (format === 'csv' || format === 'tsv') {
    const rows = parseCsv(stdin ? await readAll(io.stdin) : await readFile(v.input, 'utf8'), { columns: true, delimiter: format === 'tsv' ? '\t' : ',', skip_empty_lines: true }) as Record<string, string>[];
    if (rows.length && !(v.textColumn in rows[0])) throw new Error(`column "${v.textColumn}" not found in ${v.input}: the header has ${Object.keys(rows[0]).join(', ')}`);
    for (const row of rows) yield row[v.textColumn];
    return;
  }
  const lines = createInterface({ input: stdin ? io.stdin : createReadStream(v.input), crlfDelay: Infinity });
  let line = 0;
  for await (const text of lines) {
    line++;
    if (text.trim() === '') continue;
    if (format === 'text') { yield text; continue; }
    let obj: unknown;
    try { obj = JSON.parse(text); } catch (e) { throw new Error(`${v.input === '-' ? 'stdin' : v.input}:${line}: not JSON (${(e as Error).message})`); }
    const value = (obj as Record<string, unknown>)?.[v.textColumn];
    if (typeof value !== 'string') throw new Error(`${v.input === '-' ? 'stdin' : v.input}:${line}: no string field "${v.textColumn}"`);
    yield value;
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks).toString('utf8');
}

async function predict(v: Values, io: Io): Promise<number> {
  await mustExist(v.model, '--model');
  await mustExist(v.input, '--input');
  const predictor = await createPredictor(v.model, {
    maxBatchSize: v.batchSize, maxLength: v.maxLength, threshold: v.threshold, maxWaitMs: 1,
    device: v.device === 'cpu' ? undefined : v.device,
  });
  let file: FileHandle | undefined;
  const parquet = v.output.toLowerCase().endsWith('.parquet');
  let table: ParquetTableWriter | undefined;
  try {
    if (v.output !== '-') {
      await mkdir(path.dirname(path.resolve(v.output)), { recursive: true });
      if (!parquet) file = await open(v.output, 'w');
    }
    const write = async (line: string) => { if (file) await file.write(line); else if (!io.stdout.write(line)) await new Promise((r) => io.stdout.once('drain', r)); };
    const emit = async (row: Record<string, unknown>) => {
      if (!parquet) return write(JSON.stringify(row) + '\n');
      table ??= new ParquetTableWriter(v.output, predictionColumns(row));
      table.write(predictionRow(row));
    };
    // A file goes in whole batches of --batch-size, so a run gives the same bits as the last: text by text,
    // the micro-batcher's timing groups rows differently from run to run, and a row's padding (so the last
    // bit of its scores) with it. stdin may be a live stream, so each line goes at once and the batcher
    // groups what arrives together. Up to 4 batches in flight; rows are written in input order.
    const size = v.input === '-' ? 1 : v.batchSize;
    const window: Array<Promise<Record<string, unknown>[]>> = [];
    let chunk: string[] = [];
    let pending = 0;
    const send = () => {
      const texts = chunk;
      chunk = [];
      const rows = predictor.predict(texts).then((rs) => rs.map((r, i) => (Array.isArray(r) ? { text: texts[i], entities: r } : { text: texts[i], ...r })));
      rows.catch(() => {}); // awaited below, in order; this keeps a failure from being "unhandled" meanwhile
      window.push(rows);
      pending += texts.length;
    };
    const drain = async () => {
      const rows = await window.shift()!;
      pending -= rows.length;
      for (const row of rows) await emit(row);
    };
    let count = 0;
    for await (const text of inputTexts(v, io)) {
      chunk.push(text);
      count++;
      if (chunk.length < size) continue;
      send();
      if (pending >= v.batchSize * 4) await drain();
    }
    if (chunk.length) send();
    while (window.length) await drain();
    if (parquet) {
      table ??= new ParquetTableWriter(v.output, [{ name: 'text', type: 'string' }]);
      await table.close();
    }
    const st = predictor.stats();
    say(io, v, `${count} texts in ${st.forwardPasses} forward passes${v.output !== '-' ? ` -> ${v.output}` : ''}`);
    return 0;
  } catch (error) {
    await table?.abort();
    throw error;
  } finally {
    await file?.close();
    await predictor.close();
  }
}
