// Valid files for the reader fuzz suite (fast-check arbitraries), and the
// checks that compare a reader's output on a (mutated) file with the
// reference reader's: the same records, the same bad rows at the same lines,
// or the same input error; with onBadRow 'error' the first bad row thrown as
// a CorpusError naming file and line. Anything else thrown is a crash.

import fc from 'fast-check';
import { CorpusError } from '../../lib/data/corpus.js';
import { namingInputErrors } from '../../lib/data/corpus-error.js';
import { ClassificationDataset, TokenClassificationDataset } from '../../lib/data/datasets.js';
import { readRecords, type ReaderSpec } from '../../lib/data/readers.js';
import type { RefOutcome, RefRow } from './fuzz-reference.js';
import { textArb } from './fuzz-mutate.js';

export const LABELS = ['neg', 'pos', 'neutral', '0', '1'];
const label = fc.constantFrom(...LABELS);
const eol = fc.constantFrom('\n', '\r\n');

const csvField = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);

/** A CSV, TSV or JSONL file of `text` and `label`, and the [text, label] rows it holds. */
export function classificationCaseArb(format: 'csv' | 'tsv' | 'jsonl'): fc.Arbitrary<{ bytes: Buffer; rows: Array<[string, string]> }> {
  // TSV has no quoting: a tab or line break in a text would be a new field or row.
  const text = textArb({ forbid: format === 'tsv' ? /[\t\n]|\r$/ : /\u0000/ });
  return fc.tuple(fc.array(fc.tuple(text, label), { minLength: 1, maxLength: 8 }), eol, fc.boolean()).map(([rows, end, bom]) => {
    let lines: string[];
    if (format === 'jsonl') lines = rows.map(([t, l]) => JSON.stringify({ text: t, label: l }));
    else if (format === 'csv') lines = ['text,label', ...rows.map(([t, l]) => `${csvField(t)},${l}`)];
    else lines = ['text\tlabel', ...rows.map(([t, l]) => `${t}\t${l}`)];
    return { bytes: Buffer.from((bom ? '\ufeff' : '') + lines.join(end) + end), rows };
  });
}

/** A CSV, TSV or JSONL file of `text` and `label`. */
export const classificationFileArb = (format: 'csv' | 'tsv' | 'jsonl') => classificationCaseArb(format).map((c) => c.bytes);

/** A text file: one non-blank line per record. */
export const txtFileArb: fc.Arbitrary<Buffer> = fc
  .tuple(fc.array(textArb({ forbid: /[\n\r]/ }), { minLength: 1, maxLength: 8 }), eol)
  .map(([lines, end]) => Buffer.from(lines.join(end) + end));

const word = fc
  .array(fc.constantFrom('John', 'é', '東京', '🙂', ',', '"', '.', 'x', '-', '\u00a0', 'B-PER'), { minLength: 1, maxLength: 3 })
  .map((parts) => parts.join(''))
  .filter((w) => w.trim() !== '' && w !== '-DOCSTART-');

// A valid IOB2 sentence: each I-X continues a B-X or I-X.
const sentence = fc.array(fc.tuple(word, fc.constantFrom('O', 'B-PER', 'I', 'B-LOC', 'I')), { minLength: 1, maxLength: 6 }).map((tokens) => {
  let previous = 'O';
  return tokens.map(([w, tag]) => {
    const real = tag === 'I' ? (previous === 'O' ? 'O' : `I-${previous.slice(2)}`) : tag;
    previous = real;
    return `${w}${' '}${real}`;
  });
});

/** A two-column CoNLL file in IOB2, -DOCSTART- first. */
export const conllFileArb: fc.Arbitrary<Buffer> = fc
  .tuple(fc.array(sentence, { minLength: 1, maxLength: 5 }), eol, fc.constantFrom(' ', '\t'))
  .map(([sentences, end, sep]) => Buffer.from(['-DOCSTART- O', '', ...sentences.map((s) => s.map((l) => l.replace(' ', sep)).join(end))].join(end) + end));

/** What a reader did with a file: rows (skip mode), or the error it threw. */
type Seen = { rows: RefRow[] } | { error: CorpusError };

function describe(x: unknown): string {
  return JSON.stringify(x, (_, v) => (typeof v === 'string' && v.length > 80 ? `${v.slice(0, 80)}...` : v));
}

/** Compares what the reader saw in skip and error mode with the reference outcome; throws on any difference. */
export function compare(path: string, ref: RefOutcome, skip: Seen, strict: Seen | undefined): void {
  const fail = (what: string) => {
    throw new Error(`${what}\n  reference: ${describe(ref)}\n  reader: ${describe('error' in skip ? skip.error.message : skip.rows)}`);
  };
  if (ref.inputError) {
    if (!('error' in skip) || skip.error.code !== 'ERR_CORPUS_INPUT') fail(`expected an input error (${ref.inputError})`);
    return;
  }
  if ('error' in skip) return fail(`unexpected error ${skip.error.message}`);
  if (describe(skip.rows) !== describe(ref.rows)) fail('records or bad rows differ');
  if (strict === undefined) return;
  const firstBad = ref.rows.find((r) => r.bad !== undefined);
  if (firstBad === undefined) {
    if ('error' in strict) fail(`unexpected error in strict mode: ${strict.error.message}`);
    return;
  }
  if (!('error' in strict)) return fail(`strict mode read past the bad row at line ${firstBad.line}`);
  const e = strict.error;
  if (e.code !== 'ERR_CORPUS_BAD_ROW' || e.line !== firstBad.line || e.reason !== firstBad.bad || !e.message.startsWith(`${path}:${firstBad.line}: `)) {
    fail(`strict mode threw ${e.code} ${e.reason} at ${e.line} (${e.message}), expected ${firstBad.bad} at ${firstBad.line}`);
  }
}

/** Runs `read`, keeping a CorpusError; anything else thrown is a crash and propagates. */
export async function seen(read: () => Promise<RefRow[]>): Promise<Seen> {
  try {
    return { rows: await read() };
  } catch (error) {
    if (error instanceof CorpusError) return { error };
    throw error;
  }
}

export async function corpusRows(path: string, spec: ReaderSpec): Promise<RefRow[]> {
  const rows: RefRow[] = [];
  for await (const r of namingInputErrors(path, readRecords(path, spec))) rows.push(r.bad === undefined ? { line: r.line, value: r.text } : { line: r.line, bad: r.bad });
  return rows;
}

export async function classificationRows(path: string, onBadRow: 'error' | 'skip', max: number, labels?: string[]): Promise<RefRow[]> {
  const ds = await ClassificationDataset.fromFile(path, { onBadRow, maxLineBytes: max, labels });
  const rows: RefRow[] = ds.skippedRows.map((r) => ({ line: r.line, bad: r.reason }));
  // Datasets keep no line per example: the good rows are compared in order, after the bad ones.
  const good = Array.from({ length: ds.length }, (_, i) => ds.get(i)).map((e) => [e.text, ds.labels[e.label as number]]);
  return [...rows, ...good.map((value) => ({ line: 0, value }))];
}

export async function conllRows(path: string, onBadRow: 'error' | 'skip', max: number): Promise<RefRow[]> {
  const ds = await TokenClassificationDataset.fromConll(path, { onBadRow, maxLineBytes: max });
  const rows: RefRow[] = ds.skippedRows.map((r) => ({ line: r.line, bad: r.reason }));
  const good = Array.from({ length: ds.length }, (_, i) => ds.get(i)).map((e) => [e.words, [...e.labels].map((id) => ds.labels[id])]);
  return [...rows, ...good.map((value) => ({ line: 0, value }))];
}

/** The reference rows laid out as the dataset readers report them (bad rows, then the good ones in order). */
export function datasetLayout(ref: RefOutcome): RefOutcome {
  const bad = ref.rows.filter((r) => r.bad !== undefined);
  const good = ref.rows.filter((r) => r.bad === undefined).map((r) => ({ line: 0, value: r.value }));
  return { ...ref, rows: [...bad, ...good] };
}
