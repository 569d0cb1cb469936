// Property-based fuzzing of every text reader (issue 22): valid txt, JSONL,
// CSV, TSV and CoNLL files (also gzipped) are generated, then mutated at the
// byte level (delimiters, quotes, tabs, line breaks, CR, BOM, NUL, invalid
// UTF-8, huge lines, truncation). Property: the reader's records and bad rows
// equal the reference reader's (test/helpers/fuzz-reference.ts) -- each
// record read exactly as written or reported with its file and line, never
// changed silently -- and it throws nothing but CorpusErrors.
// Seeded and short in `npm test`; the long run: FUZZ_RUNS=5000 npx ava test/fuzz-readers.test.ts

import test from 'ava';
import fc from 'fast-check';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertProperty, fuzzRuns, mutate, mutationsArb } from './helpers/fuzz-mutate.js';
import { fuzzFrame } from './helpers/fuzz-frame.js';
import { classificationFileArb, compare, corpusRows, seen, txtFileArb } from './helpers/fuzz-files.js';
import { refClassification, refCsv, refTxt, refTxtDocuments, type RefOutcome } from './helpers/fuzz-reference.js';
import type { ReaderSpec } from '../lib/data/readers.js';

const MAX = 200; // maxLineBytes: small, so a "huge line" is cheap to make
const RUNS = 150;
const frame = fuzzFrame('reader');
const count = frame.count;

const spec = (format: ReaderSpec['format']): ReaderSpec => ({ format, txtMode: 'line', field: 'text', columns: ['text'], header: true, quote: format === 'csv' ? '"' : false, maxLineBytes: MAX });

// The corpus reader's reference: the text column (CSV/TSV) or field (JSONL), non-blank.
function refCorpus(bytes: Buffer, format: ReaderSpec['format']): RefOutcome {
  if (format === 'txt') return refTxt(bytes, MAX);
  if (format === 'jsonl') return refClassification(bytes, 'jsonl', MAX, undefined, false);
  const csv = refCsv(bytes, { delimiter: format === 'csv' ? ',' : '\t', quote: format === 'csv' ? '"' : null, header: true, max: MAX });
  if (csv.inputError) return { rows: [], inputError: csv.inputError };
  if (!csv.header) return { rows: [] }; // no records at all
  const t = csv.header!.indexOf('text');
  if (t < 0 || csv.header!.lastIndexOf('text') !== t) return { rows: [], inputError: 'columns' };
  return { rows: csv.rows.map((r) => (r.bad !== undefined ? r : (r.value as string[])[t].trim() === '' ? { line: r.line, bad: 'empty_text' } : { line: r.line, value: (r.value as string[])[t] })) };
}

const corpusFile = (format: ReaderSpec['format']) => (format === 'txt' ? txtFileArb : classificationFileArb(format));

for (const format of ['txt', 'jsonl', 'csv', 'tsv'] as const) {
  test(`corpus reader, ${format}: every record read as written or reported at its line`, async (t) => {
    const path = join(frame.dir(), `corpus.${format}`);
    const tried = await assertProperty(
      fc.asyncProperty(corpusFile(format), mutationsArb(MAX), async (file, mutations) => {
        const bytes = mutate(file, mutations);
        await writeFile(path, bytes);
        const ref = refCorpus(bytes, format);
        count(`corpus ${format}`, ref);
        compare(path, ref, await seen(() => corpusRows(path, spec(format))), undefined);
      }),
      RUNS,
    );
    t.is(tried, fuzzRuns(RUNS));
  });
}

test('corpus reader, txt documents: every document read as written or reported at its line', async (t) => {
  const path = join(frame.dir(), 'documents.txt');
  // Paragraphs: the generated lines with a blank line after some of them.
  const documents = fc.tuple(txtFileArb, fc.array(fc.nat(), { maxLength: 4 })).map(([file, cuts]) => {
    const lines = file.toString('utf8').split('\n');
    for (const cut of cuts) lines.splice(cut % (lines.length + 1), 0, '');
    return Buffer.from(lines.join('\n'));
  });
  const tried = await assertProperty(
    fc.asyncProperty(documents, mutationsArb(MAX), async (file, mutations) => {
      const bytes = mutate(file, mutations);
      await writeFile(path, bytes);
      const ref = refTxtDocuments(bytes, MAX);
      count('corpus txt documents', ref);
      compare(path, ref, await seen(() => corpusRows(path, { ...spec('txt'), txtMode: 'document' })), undefined);
    }),
    RUNS,
  );
  t.is(tried, fuzzRuns(RUNS));
});
