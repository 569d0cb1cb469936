import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parse as parseCsv } from 'csv-parse/sync';
import { createPredictor } from '../serve/index.js';
import { mustExist, say, type Command, type Io } from './command.js';
import { COMMON, i, n, s, type Values } from './options.js';

export const predictCommand: Command = {
  summary: 'Predicts texts from JSONL / CSV / TSV / text lines (a file or stdin) and writes JSONL.',
  usage: 'bertorch predict --model <dir> [--input <file>|-] [--output <file>] [options]',
  options: {
    model: s('fine-tuned HF folder with tokenizer files', { required: true }),
    input: s('input file; - or none reads stdin', { default: '-' }),
    output: s('output JSONL file; - or none writes stdout', { default: '-' }),
    format: s('input format (auto: by extension, text for stdin)', { default: 'auto', choices: ['auto', 'text', 'jsonl', 'csv', 'tsv'] }),
    'text-column': s('JSONL field or CSV/TSV column of the text', { default: 'text' }),
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
  const format = v.format !== 'auto' ? v.format : ext === 'jsonl' || ext === 'ndjson' ? 'jsonl' : ext === 'csv' ? 'csv' : ext === 'tsv' ? 'tsv' : 'text';
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
  try {
    if (v.output !== '-') {
      await mkdir(path.dirname(path.resolve(v.output)), { recursive: true });
      file = await open(v.output, 'w');
    }
    const write = async (line: string) => { if (file) await file.write(line); else if (!io.stdout.write(line)) await new Promise((r) => io.stdout.once('drain', r)); };
    // Up to a few batches in flight, written in input order.
    const window: Array<Promise<string>> = [];
    const ahead = v.batchSize * 4;
    let count = 0;
    for await (const text of inputTexts(v, io)) {
      const line = predictor.predict(text).then((r) => JSON.stringify(Array.isArray(r) ? { text, entities: r } : { text, ...r }) + '\n');
      line.catch(() => {}); // awaited below, in order; this keeps a failure from being "unhandled" meanwhile
      window.push(line);
      if (window.length >= ahead) await write(await window.shift()!);
      count++;
    }
    while (window.length) await write(await window.shift()!);
    const st = predictor.stats();
    say(io, v, `${count} texts in ${st.forwardPasses} forward passes${v.output !== '-' ? ` -> ${v.output}` : ''}`);
    return 0;
  } finally {
    await file?.close();
    await predictor.close();
  }
}
