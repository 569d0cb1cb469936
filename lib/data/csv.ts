// CSV and TSV records, shared by the corpus readers and the labeled datasets.
// A record may span lines inside quotes (RFC 4180): its lines are gathered
// until the quotes balance, then csv-parse reads that one record. A record
// that never balances (end of file, a bad line, or maxLineBytes reached) or
// fails to parse is one bad row at its first line, and the lines after that
// first one are read again, so a stray quote costs one row, not the rest of
// the file. Every record must have as many fields as the header (or, without
// one, as the first record): pandas and Python's csv reject such rows too,
// and reading them anyway shifts a label into the text or drops a column.
// Memory: one record at a time, capped at maxLineBytes.

import { parse as parseCsv } from 'csv-parse/sync';
import { ReaderConfigError } from './corpus-error.js';
import { lineBreak, readLines, type RawLine } from './lines.js';
import type { BadRowReason } from './readers.js';

/** How to split one CSV or TSV file into records. */
export interface CsvSpec {
  delimiter: string;
  /** The quote character, or null for none (TSV's default: every character is data). */
  quote: string | null;
  /** The first record names the columns. */
  header: boolean;
  maxLineBytes: number;
}

/** A record's fields, the header's, or a row that could not be read. */
export type CsvRow =
  | { line: number; fields: string[]; header: boolean; bad?: undefined }
  | { line: number; bad: BadRowReason; message: string; fields?: undefined };

/** The reason and message of a line that lines.ts could not read. */
export function lineProblem(raw: RawLine & { error: string }, maxLineBytes: number): { bad: BadRowReason; message: string } {
  switch (raw.error) {
    case 'invalid_utf8':
      return { bad: 'invalid_utf8', message: 'invalid UTF-8' };
    case 'nul_byte':
      return { bad: 'nul_byte', message: 'a NUL byte (a binary or UTF-16 file?)' };
    default:
      return { bad: 'line_too_long', message: `line of ${raw.bytes} bytes, over maxLineBytes (${maxLineBytes})` };
  }
}

const isBlank = (text: string) => text.trim().length === 0;

/**
 * The records of a CSV or TSV file. The header (when `spec.header`) comes
 * first with `header: true`; a header that cannot be read throws a
 * ReaderConfigError, since no row after it could be read right.
 */
export async function* csvRows(path: string, spec: CsvSpec): AsyncGenerator<CsvRow> {
  const lines = readLines(path, spec.maxLineBytes);
  try {
    yield* rows(lines, spec);
  } finally {
    // rows() pulls lines by hand, so the file is closed here if the caller stops early.
    await lines.return(undefined);
  }
}

async function* rows(lines: AsyncGenerator<RawLine>, spec: CsvSpec): AsyncGenerator<CsvRow> {
  const replay: RawLine[] = [];
  const next = async (): Promise<RawLine | undefined> => replay.shift() ?? (await lines.next()).value ?? undefined;
  let width: { fields: number; line: number } | undefined;
  for (let first = await next(); first !== undefined; first = await next()) {
    if (!first.error && isBlank(first.text)) continue;
    const record = first.error ? { ...lineProblem(first, spec.maxLineBytes), line: first.line } : await gather(first, next, replay, spec);
    if (record.bad !== undefined) {
      if (spec.header && width === undefined) throw new ReaderConfigError(`the header cannot be read: ${record.message}`, record.line);
      yield record;
      continue;
    }
    if (width === undefined) {
      width = { fields: record.fields.length, line: record.line };
      if (spec.header) {
        yield { line: record.line, fields: record.fields, header: true };
        continue;
      }
    } else if (record.fields.length !== width.fields) {
      const against = spec.header ? 'header has' : `line ${width.line} has`;
      yield { line: record.line, bad: 'field_count', message: `${record.fields.length} fields, ${against} ${width.fields}` };
      continue;
    }
    yield { line: record.line, fields: record.fields, header: false };
  }
}

function countQuotes(text: string, quote: string): number {
  let count = 0;
  for (let i = text.indexOf(quote); i !== -1; i = text.indexOf(quote, i + 1)) count++;
  return count;
}

// One record from its first line: the lines of a quoted field gathered and
// parsed. On failure the lines after the first go back to `replay`.
async function gather(
  first: RawLine & { error?: undefined },
  next: () => Promise<RawLine | undefined>,
  replay: RawLine[],
  spec: CsvSpec,
): Promise<{ line: number; fields: string[]; bad?: undefined } | { line: number; bad: BadRowReason; message: string }> {
  const group: RawLine[] = [first];
  let text = first.text;
  if (spec.quote !== null && countQuotes(text, spec.quote) % 2 === 1) {
    let bytes = first.bytes;
    let closed = false;
    for (let more = await next(); more !== undefined; more = await next()) {
      group.push(more);
      if (more.error || bytes + more.bytes + 1 > spec.maxLineBytes) break;
      // A break inside a quoted field is data: kept as written, "\r\n" or "\n".
      text += lineBreak(group[group.length - 2] as { crlf?: boolean }) + more.text;
      bytes += more.bytes + 1;
      if (countQuotes(more.text, spec.quote) % 2 === 1) {
        closed = true;
        break;
      }
    }
    if (!closed) {
      replay.unshift(...group.slice(1));
      return { line: first.line, bad: 'unbalanced_quote', message: 'quoted field never closed' };
    }
  }
  try {
    // record_delimiter '\n': the text holds one record, and csv-parse's default
    // would also end records at a bare "\r", dropping one at the end of a field.
    const rows = parseCsv(text, { delimiter: spec.delimiter, quote: spec.quote, record_delimiter: '\n', relax_column_count: true }) as string[][];
    if (rows.length !== 1) throw new Error(`expected one record, found ${rows.length}`);
    return { line: first.line, fields: rows[0] };
  } catch (error) {
    replay.unshift(...group.slice(1));
    return { line: first.line, bad: 'malformed_csv', message: (error as Error).message };
  }
}

/**
 * The 0-based field index of each wanted column: header names looked up
 * (a name the header lacks or holds twice is an input error), indexes
 * checked against the number of fields.
 */
export function resolveColumns(wanted: ReadonlyArray<string | number>, header: readonly string[] | undefined, fields: number, line: number): number[] {
  return wanted.map((column) => {
    if (typeof column === 'number') {
      if (column >= fields) {
        const of = header ? 'the header' : `line ${line}`;
        throw new ReaderConfigError(`column index ${column} not found: ${of} has ${fields} fields (indexes are 0-based)`, line);
      }
      return column;
    }
    const found = header ? header.flatMap((name, index) => (name === column ? [index] : [])) : [];
    if (found.length === 1) return found[0];
    if (found.length > 1) throw new ReaderConfigError(`column "${column}" is ambiguous: the header has it ${found.length} times (fields ${found.join(', ')})`, line);
    const names = header ? `the header has ${header.map((h) => JSON.stringify(h)).join(', ')}` : 'there is no header';
    throw new ReaderConfigError(`column "${column}" not found: ${names}`, line);
  });
}
