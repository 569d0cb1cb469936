// Streaming readers that turn one input file into text records:
// - txt: a line per example, or documents separated by blank lines;
// - jsonl: one JSON object a line, text taken from a field ("a.b" for nested);
// - csv/tsv: columns by header name or index, joined by a space; parsed
//   record by record with csv-parse after the lines of a quoted field are
//   gathered, so a bad quote costs one row, not the rest of the file.
// Each reader yields either a record or a bad row (reason, file, line); the
// caller decides whether a bad row is an error. Memory: one record at a time
// (one line, document or CSV record, each capped at maxLineBytes).

import { parse as parseCsv } from 'csv-parse/sync';
import { readLines, type RawLine } from './lines.js';

/** The file formats a reader understands (each also gzipped). */
export type CorpusFormat = 'txt' | 'jsonl' | 'csv' | 'tsv';

/** Why a row could not become an example. */
export type BadRowReason =
  | 'invalid_utf8'
  | 'line_too_long'
  | 'malformed_json'
  | 'missing_field'
  | 'unbalanced_quote'
  | 'malformed_csv'
  | 'missing_column'
  | 'empty_text';

/** Every bad-row reason, in the order summaries list them. */
export const BAD_ROW_REASONS: readonly BadRowReason[] = [
  'invalid_utf8',
  'line_too_long',
  'malformed_json',
  'missing_field',
  'unbalanced_quote',
  'malformed_csv',
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
  /** csv/tsv: columns whose values (joined by a space) are the text. */
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

/** An input problem that no `onBadRow` setting can skip (a missing header column). */
export class ReaderConfigError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

const EXTENSIONS: Record<string, CorpusFormat> = {
  '.txt': 'txt',
  '.text': 'txt',
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.csv': 'csv',
  '.tsv': 'tsv',
};

/** The format a file name implies (".gz" looked through), or undefined. */
export function formatOf(path: string): CorpusFormat | undefined {
  const name = path.toLowerCase().replace(/\.gz$/, '');
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
  }
}

function lineError(raw: RawLine & { error: string }, maxLineBytes: number): ReadResult {
  return raw.error === 'invalid_utf8'
    ? { bad: 'invalid_utf8', message: 'invalid UTF-8', line: raw.line }
    : { bad: 'line_too_long', message: `line of ${raw.bytes} bytes, over maxLineBytes (${maxLineBytes})`, line: raw.line };
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
  let first = 0;
  let bytes = 0;
  let bad: ReadResult | undefined;
  const end = (): ReadResult | undefined => {
    const result: ReadResult | undefined = bad ?? (lines.length > 0 ? { text: lines.join('\n'), line: first } : undefined);
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
      lines.push(raw.text);
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
    for (const key of keys) {
      value = value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>)[key] : undefined;
    }
    if (typeof value !== 'string') {
      const kind = Array.isArray(value) ? 'an array' : `a ${typeof value}`;
      const what = value === undefined || value === null ? 'is missing' : `is ${kind}, not a string`;
      yield { bad: 'missing_field', message: `field "${spec.field}" ${what}`, line: raw.line };
    } else if (isBlank(value)) {
      yield { bad: 'empty_text', message: `field "${spec.field}" is empty`, line: raw.line };
    } else {
      yield { text: value, line: raw.line };
    }
  }
}

function countQuotes(text: string, quote: string): number {
  let count = 0;
  for (let i = text.indexOf(quote); i !== -1; i = text.indexOf(quote, i + 1)) count++;
  return count;
}

// CSV records may span lines inside quotes. Lines are gathered until the
// quotes balance (an RFC 4180 record ends at a newline outside quotes), then
// csv-parse reads that one record. A record that never balances (end of
// file, a bad line, or maxLineBytes reached) or fails to parse is one bad row
// at its first line; the lines after that first one are read again, so a
// stray quote does not swallow the rows that follow it.
async function* csvRecords(path: string, spec: ReaderSpec): AsyncGenerator<ReadResult> {
  const lines = readLines(path, spec.maxLineBytes);
  try {
    yield* csvRows(lines, spec);
  } finally {
    // csvRows pulls lines by hand, so the file is closed here if the caller stops early.
    await lines.return(undefined);
  }
}

async function* csvRows(lines: AsyncGenerator<RawLine>, spec: ReaderSpec): AsyncGenerator<ReadResult> {
  const delimiter = spec.format === 'tsv' ? '\t' : ',';
  const replay: RawLine[] = [];
  const next = async (): Promise<RawLine | undefined> => replay.shift() ?? (await lines.next()).value ?? undefined;
  let columns: number[] | undefined = spec.header ? undefined : resolveColumns(spec.columns, undefined, 1);
  for (;;) {
    const first = await next();
    if (first === undefined) return;
    if (first.error) {
      yield lineError(first, spec.maxLineBytes);
      continue;
    }
    if (isBlank(first.text)) continue;
    const group: RawLine[] = [first];
    let text = first.text;
    if (spec.quote !== false && countQuotes(text, spec.quote) % 2 === 1) {
      let bytes = first.bytes;
      let closed = false;
      for (;;) {
        const more = await next();
        if (more === undefined) break;
        group.push(more);
        if (more.error || bytes + more.bytes + 1 > spec.maxLineBytes) break;
        text += '\n' + more.text;
        bytes += more.bytes + 1;
        if (countQuotes(more.text, spec.quote) % 2 === 1) {
          closed = true;
          break;
        }
      }
      if (!closed) {
        replay.unshift(...group.slice(1));
        yield { bad: 'unbalanced_quote', message: 'quoted field never closed', line: first.line };
        continue;
      }
    }
    let fields: string[];
    try {
      const rows = parseCsv(text, { delimiter, quote: spec.quote === false ? null : spec.quote, relax_column_count: true }) as string[][];
      if (rows.length !== 1) throw new Error(`expected one record, found ${rows.length}`);
      fields = rows[0];
    } catch (error) {
      replay.unshift(...group.slice(1));
      yield { bad: 'malformed_csv', message: (error as Error).message, line: first.line };
      continue;
    }
    if (columns === undefined) {
      columns = resolveColumns(spec.columns, fields, first.line);
      continue;
    }
    const missing = columns.find((index) => index >= fields.length);
    if (missing !== undefined) {
      const message = `row has ${fields.length} fields, the text column (0-based index ${missing}) is missing`;
      yield { bad: 'missing_column', message, line: first.line };
      continue;
    }
    const value = columns.map((index) => fields[index]).join(' ');
    if (isBlank(value)) yield { bad: 'empty_text', message: 'the text columns are empty', line: first.line };
    else yield { text: value, line: first.line };
  }
}

// Column names are looked up in the header; indexes are 0-based.
function resolveColumns(wanted: Array<string | number>, header: string[] | undefined, line: number): number[] {
  return wanted.map((column) => {
    if (typeof column === 'number') return column;
    const index = header?.indexOf(column) ?? -1;
    if (index < 0) {
      const found = header ? `the header has ${header.map((h) => JSON.stringify(h)).join(', ')}` : 'there is no header';
      throw new ReaderConfigError(`column "${column}" not found: ${found}`, line);
    }
    return index;
  });
}
