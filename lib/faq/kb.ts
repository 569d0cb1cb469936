/**
 * FAQ knowledge bases on disk: CSV / TSV (header with `question`, `answer`,
 * optional `intent` and `id`) or JSONL (objects with the same keys), plain or
 * gzipped. Every bad row is an FaqInputError naming file:line: a row without
 * a question or an answer, a repeated id, a row that cannot be read; a file
 * without rows is one too. Ids default to the row's line ("L12"). Pure
 * TypeScript over lib/data's line and CSV readers; no native code.
 */
import { ReaderConfigError } from '../data/corpus-error.js';
import { csvRows } from '../data/csv.js';
import { readLines } from '../data/lines.js';

/** One question of the knowledge base and its answer. */
export interface FaqEntry {
  id: string;
  question: string;
  answer: string;
  intent?: string;
  /** Where the row came from: `file:line`. */
  source?: string;
}

/** A bad knowledge base or held-out file: code `ERR_FAQ_INPUT`, message `file:line: what`. */
export class FaqInputError extends Error {
  readonly code = 'ERR_FAQ_INPUT';
  readonly file: string;
  readonly line?: number;
  constructor(file: string, line: number | undefined, message: string) {
    super(`${line === undefined ? file : `${file}:${line}`}: ${message}`);
    this.name = 'FaqInputError';
    this.file = file;
    this.line = line;
  }
}

/** A row of a FAQ-shaped file: its fields by column name and its line. */
export interface FaqRow {
  line: number;
  fields: Record<string, string | undefined>;
}

const MAX_LINE = 1 << 20;

/** The rows of a CSV, TSV or JSONL file (by extension, .gz allowed), with their lines. */
export async function* readFaqRows(file: string): AsyncGenerator<FaqRow> {
  const base = file.replace(/\.gz$/i, '');
  if (/\.jsonl?$/i.test(base)) {
    for await (const raw of readLines(file, MAX_LINE)) {
      if (raw.error) throw new FaqInputError(file, raw.line, `cannot read the line (${raw.error})`);
      if (raw.text.trim() === '') continue;
      let v: unknown;
      try {
        v = JSON.parse(raw.text);
      } catch (e) {
        throw new FaqInputError(file, raw.line, `not valid JSON (${(e as Error).message})`);
      }
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new FaqInputError(file, raw.line, 'expected a JSON object');
      const fields: Record<string, string | undefined> = {};
      for (const [k, x] of Object.entries(v)) {
        if (x === null || x === undefined) continue;
        if (typeof x !== 'string' && typeof x !== 'number') throw new FaqInputError(file, raw.line, `"${k}" must be a string, got ${Array.isArray(x) ? 'an array' : typeof x}`);
        fields[k] = String(x);
      }
      yield { line: raw.line, fields };
    }
    return;
  }
  if (!/\.(csv|tsv)$/i.test(base)) throw new FaqInputError(file, undefined, 'unknown format: use .csv, .tsv or .jsonl (optionally .gz)');
  const tsv = /\.tsv$/i.test(base);
  let header: string[] | undefined;
  try {
    for await (const row of csvRows(file, { delimiter: tsv ? '\t' : ',', quote: tsv ? null : '"', header: true, maxLineBytes: MAX_LINE })) {
      if (row.bad !== undefined) throw new FaqInputError(file, row.line, row.message);
      if (row.header) {
        header = row.fields.map((h) => h.trim().toLowerCase());
        continue;
      }
      yield { line: row.line, fields: Object.fromEntries(header!.map((h, i) => [h, row.fields[i]])) };
    }
  } catch (e) {
    if (e instanceof ReaderConfigError) throw new FaqInputError(file, (e as { line?: number }).line, e.message);
    throw e;
  }
}

/**
 * Reads a knowledge base.
 * @throws {FaqInputError} naming file:line for a row without a question or an answer, a repeated id,
 *   an unreadable row or header without a `question` / `answer` column; naming the file when it has no rows.
 * @example const entries = await readFaq('kb/faq.csv'); // [{ id, question, answer, intent }]
 */
export async function readFaq(file: string): Promise<FaqEntry[]> {
  if (typeof file !== 'string' || file === '') throw new TypeError(`Expected a file path for file but received ${String(file)}`);
  const out: FaqEntry[] = [];
  const ids = new Map<string, number>();
  for await (const { line, fields } of readFaqRows(file)) {
    const question = fields.question?.trim();
    const answer = fields.answer?.trim();
    if (!question) throw new FaqInputError(file, line, 'row without a question (column "question")');
    if (!answer) throw new FaqInputError(file, line, `row without an answer (column "answer") for question ${JSON.stringify(question.slice(0, 60))}`);
    const id = fields.id?.trim() || `L${line}`;
    const prev = ids.get(id);
    if (prev !== undefined) throw new FaqInputError(file, line, `duplicate id ${JSON.stringify(id)} (first at line ${prev})`);
    ids.set(id, line);
    const entry: FaqEntry = { id, question, answer, source: `${file}:${line}` };
    const intent = fields.intent?.trim();
    if (intent) entry.intent = intent;
    out.push(entry);
  }
  if (out.length === 0) throw new FaqInputError(file, undefined, 'the knowledge base is empty (no rows with a question and an answer)');
  return out;
}

/** Checks entries given in memory as readFaq checks a file's rows (`where` names them in errors). */
export function checkEntries(entries: readonly FaqEntry[], where = 'entries'): FaqEntry[] {
  if (!Array.isArray(entries)) throw new TypeError(`Expected an array of FAQ entries for ${where} but received ${typeof entries}`);
  if (entries.length === 0) throw new FaqInputError(where, undefined, 'the knowledge base is empty');
  const ids = new Set<string>();
  return entries.map((e, i) => {
    const at = e?.source ?? `${where}[${i}]`;
    if (!e || typeof e.question !== 'string' || !e.question.trim()) throw new FaqInputError(at, undefined, 'entry without a question');
    if (typeof e.answer !== 'string' || !e.answer.trim()) throw new FaqInputError(at, undefined, 'entry without an answer');
    const id = typeof e.id === 'string' && e.id ? e.id : String(i);
    if (ids.has(id)) throw new FaqInputError(at, undefined, `duplicate id ${JSON.stringify(id)}`);
    ids.add(id);
    return { ...e, id };
  });
}
