// Streaming readers that turn one input file into text records:
// - txt: a line per example, or documents separated by blank lines;
// - jsonl: one JSON object a line, text taken from a field ("a.b" for nested);
// - csv/tsv: columns by header name or index, joined by a space; parsed
//   record by record with csv-parse after the lines of a quoted field are
//   gathered, so a bad quote costs one row, not the rest of the file.
// - parquet/arrow (parquet-table.ts): text columns of Parquet files, Arrow IPC
//   files and HF `datasets` folders, a row group or record batch at a time.
// Each reader yields either a record or a bad row (reason, file, line); the
// caller decides whether a bad row is an error. Memory: one record at a time
// (one line, document or CSV record, each capped at maxLineBytes).

import { ReaderConfigError } from './corpus-error.js';
import { csvRows, lineProblem, resolveColumns } from './csv.js';
import { lineBreak, readLines, type RawLine } from './lines.js';
import { tableRecords } from './parquet-table.js';

export { ReaderConfigError };

/** The file formats a reader understands (each also gzipped). */
export type CorpusFormat = 'txt' | 'jsonl' | 'csv' | 'tsv' | 'parquet' | 'arrow';

/** Why a row could not become an example. */
export type BadRowReason =
  | 'invalid_utf8'
  | 'line_too_long'
  | 'nul_byte'
  | 'malformed_json'
  | 'missing_field'
  | 'wrong_type'
  | 'unbalanced_quote'
  | 'malformed_csv'
  | 'field_count'
  | 'missing_column'
  | 'empty_text';

/** Every bad-row reason, in the order summaries list them. */
export const BAD_ROW_REASONS: readonly BadRowReason[] = [
  'invalid_utf8',
  'line_too_long',
  'nul_byte',
  'malformed_json',
  'missing_field',
  'wrong_type',
  'unbalanced_quote',
  'malformed_csv',
  'field_count',
  'missing_column',
  'empty_text',
];

/** How to read one file; every field has been defaulted (see corpus.ts). */
export interface ReaderSpec {
  format: CorpusFormat;
  /** txt: a line per example, or blank-line separated documents. */
  txtMode: 'line' | 'document';
  /** jsonl: the field holding the text, dots for nesting. */
  field: string;
  /** csv/tsv/parquet/arrow: columns whose values (joined by a space) are the text ("a.b": a struct field). */
  columns: Array<string | number>;
  /** csv/tsv: whether the first record names the columns. */
  header: boolean;
  /** csv/tsv: quote character, or false for none (TSV's default). */
  quote: string | false;
  maxLineBytes: number;
}

/** A record read from a file, or a row that could not be read. */
export type ReadResult =
  | { text: string; line: number; bad?: undefined }
  | { bad: BadRowReason; message: string; line: number; text?: undefined };

const EXTENSIONS: Record<string, CorpusFormat> = {
  '.txt': 'txt',
  '.text': 'txt',
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.csv': 'csv',
  '.tsv': 'tsv',
  '.parquet': 'parquet',
  '.arrow': 'arrow',
  '.arrows': 'arrow',
};

/** The format a file name implies (".gz" looked through, except for the binary formats), or undefined. */
export function formatOf(path: string): CorpusFormat | undefined {
  const lower = path.toLowerCase();
  if (lower.endsWith('.parquet.gz') || lower.endsWith('.arrow.gz')) return undefined;
  const name = lower.replace(/\.gz$/, '');
  const dot = name.lastIndexOf('.');
  return dot < 0 ? undefined : EXTENSIONS[name.slice(dot)];
}

/** Reads the records of one file as `spec` says. */
export function readRecords(path: string, spec: ReaderSpec): AsyncGenerator<ReadResult> {
  switch (spec.format) {
    case 'txt':
      return spec.txtMode === 'document' ? txtDocuments(path, spec) : txtLines(path, spec);
    case 'jsonl':
      return jsonlRecords(path, spec);
    case 'csv':
    case 'tsv':
      return csvRecords(path, spec);
    case 'parquet':
    case 'arrow':
      return tableRecords(path, spec.format, spec.columns);
  }
}

function lineError(raw: RawLine & { error: string }, maxLineBytes: number): ReadResult {
  return { ...lineProblem(raw, maxLineBytes), line: raw.line };
}

const isBlank = (text: string) => text.trim().length === 0;

async function* txtLines(path: string, spec: ReaderSpec): AsyncGenerator<ReadResult> {
  for await (const raw of readLines(path, spec.maxLineBytes)) {
    if (raw.error) yield lineError(raw, spec.maxLineBytes);
    else if (!isBlank(raw.text)) yield { text: raw.text, line: raw.line };
  }
}

// A document is bad as a whole if one of its lines is, or if it grows past
// maxLineBytes; its lines are then dropped as they come, so memory stays bounded.
async function* txtDocuments(path: string, spec: ReaderSpec): AsyncGenerator<ReadResult> {
  let lines: string[] = [];
  let brk = '';
  let first = 0;
  let bytes = 0;
  let bad: ReadResult | undefined;
  const end = (): ReadResult | undefined => {
    const result: ReadResult | undefined = bad ?? (lines.length > 0 ? { text: lines.join(''), line: first } : undefined);
    lines = [];
    bytes = 0;
    bad = undefined;
    return result;
  };
  for await (const raw of readLines(path, spec.maxLineBytes)) {
    if (!raw.error && isBlank(raw.text)) {
      const doc = end();
      if (doc) yield doc;
      continue;
    }
    if (lines.length === 0 && !bad) first = raw.line;
    bytes += raw.bytes + 1;
    if (bad) continue;
    if (raw.error) {
      bad = lineError(raw, spec.maxLineBytes);
    } else if (bytes > spec.maxLineBytes) {
      bad = { bad: 'line_too_long', message: `document from line ${first} over maxLineBytes (${spec.maxLineBytes})`, line: raw.line };
    } else {
      // The document keeps its line breaks as written ("\r\n" or "\n").
      lines.push(lines.length > 0 ? brk + raw.text : raw.text);
      brk = lineBreak(raw);
      continue;
    }
    lines = [];
  }
  const doc = end();
  if (doc) yield doc;
}

async function* jsonlRecords(path: string, spec: ReaderSpec): AsyncGenerator<ReadResult> {
  const keys = spec.field.split('.');
  for await (const raw of readLines(path, spec.maxLineBytes)) {
    if (raw.error) {
      yield lineError(raw, spec.maxLineBytes);
      continue;
    }
    if (isBlank(raw.text)) continue;
    let value: unknown;
    try {
      value = JSON.parse(raw.text);
    } catch (error) {
      yield { bad: 'malformed_json', message: (error as Error).message, line: raw.line };
      continue;
    }
    if (!isObject(value)) {
      yield { bad: 'malformed_json', message: `the line is ${describeValue(value)}, not a JSON object`, line: raw.line };
      continue;
    }
    value = fieldOf(value, keys);
    if (value === undefined || value === null) {
      yield { bad: 'missing_field', message: `field "${spec.field}" is missing`, line: raw.line };
    } else if (typeof value !== 'string') {
      yield { bad: 'wrong_type', message: `field "${spec.field}" is ${describeValue(value)}, not a string`, line: raw.line };
    } else if (isBlank(value)) {
      yield { bad: 'empty_text', message: `field "${spec.field}" is empty`, line: raw.line };
    } else {
      yield { text: value, line: raw.line };
    }
  }
}

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/** A nested field of a JSON object ("a.b" split at the dots), or undefined. */
export function fieldOf(object: Record<string, unknown>, keys: readonly string[]): unknown {
  let value: unknown = object;
  for (const key of keys) value = isObject(value) && Object.hasOwn(value, key) ? value[key] : undefined;
  return value;
}

/** A JSON value for a message: its type and (shortened) text, e.g. `a number (42)`, `an object ({"a":1})`. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  const kind = Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : `a ${typeof value}`;
  const text = JSON.stringify(value) ?? String(value);
  return `${kind} (${text.length > 60 ? `${text.slice(0, 57)}...` : text})`;
}

// CSV/TSV: csv.ts splits records and checks their field counts; this picks
// the text columns and joins them.
async function* csvRecords(path: string, spec: ReaderSpec): AsyncGenerator<ReadResult> {
  const delimiter = spec.format === 'tsv' ? '\t' : ',';
  const rows = csvRows(path, { delimiter, quote: spec.quote === false ? null : spec.quote, header: spec.header, maxLineBytes: spec.maxLineBytes });
  let columns: number[] | undefined;
  for await (const row of rows) {
    if (row.bad !== undefined) {
      yield row;
      continue;
    }
    columns ??= resolveColumns(spec.columns, row.header ? row.fields : undefined, row.fields.length, row.line);
    if (row.header) continue;
    const value = columns.map((index) => row.fields[index]).join(' ');
    if (isBlank(value)) yield { bad: 'empty_text', message: 'the text columns are empty', line: row.line };
    else yield { text: value, line: row.line };
  }
}
