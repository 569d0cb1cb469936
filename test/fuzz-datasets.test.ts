// Property-based fuzzing of the labeled-data readers (issue 22):
// ClassificationDataset on CSV, TSV and JSONL (plain and gzipped, with and
// without a fixed label list) and TokenClassificationDataset on CoNLL. Valid
// files are generated and mutated at the byte level; the property: in skip
// mode the examples and the skipped rows (reason and line) equal the reference
// reader's, in error mode the first bad row is thrown as a CorpusError naming
// file:line (or the file's input error), and nothing else is ever thrown.
// A corrupt gzip stream must end in an error, never in a silently short file.
// Seeded and short in `npm test`; the long run: FUZZ_RUNS=5000 npx ava test/fuzz-datasets.test.ts

import test from 'ava';
import fc from 'fast-check';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { CorpusError } from '../lib/data/corpus.js';
import { assertProperty, fuzzRuns, mutate, mutationsArb } from './helpers/fuzz-mutate.js';
import { fuzzFrame } from './helpers/fuzz-frame.js';
import { classificationCaseArb, classificationFileArb, classificationRows, compare, conllFileArb, conllRows, datasetLayout, LABELS, seen } from './helpers/fuzz-files.js';
import { refClassification, refConll } from './helpers/fuzz-reference.js';

const MAX = 200;
const RUNS = 120;
const frame = fuzzFrame('dataset');
const count = frame.count;

test('valid generated files are read exactly as generated, in every format', async (t) => {
  let tried = 0;
  for (const format of ['csv', 'tsv', 'jsonl'] as const) {
    const path = join(frame.dir(), `valid.${format}`);
    tried += await assertProperty(
      fc.asyncProperty(classificationCaseArb(format), async ({ bytes, rows }) => {
        await writeFile(path, bytes);
        const read = await classificationRows(path, 'error', MAX);
        if (JSON.stringify(read.map((r) => r.value)) !== JSON.stringify(rows)) throw new Error(`${format}: read ${JSON.stringify(read)} for ${JSON.stringify(rows)}`);
      }),
      RUNS,
    );
  }
  t.is(tried, 3 * fuzzRuns(RUNS));
});

// Half the runs fix the label list to all but one label, so unknown labels occur.
const fixedArb = fc.constantFrom(undefined, LABELS.slice(1));

for (const format of ['csv', 'tsv', 'jsonl'] as const) {
  for (const gz of [false, true]) {
    const name = `classification ${format}${gz ? '.gz' : ''}`;
    test(`${name}: examples read as written, bad rows reported at their lines`, async (t) => {
      const path = join(frame.dir(), `data.${format}${gz ? '.gz' : ''}`);
      const tried = await assertProperty(
        fc.asyncProperty(classificationFileArb(format), mutationsArb(MAX), fixedArb, async (file, mutations, fixed) => {
          const bytes = mutate(file, mutations);
          await writeFile(path, gz ? gzipSync(bytes) : bytes);
          const ref = datasetLayout(refClassification(bytes, format, MAX, fixed));
          count(name, ref);
          const skip = await seen(() => classificationRows(path, 'skip', MAX, fixed));
          const strict = await seen(() => classificationRows(path, 'error', MAX, fixed));
          compare(path, ref, skip, strict);
        }),
        RUNS,
      );
      t.is(tried, fuzzRuns(RUNS));
    });
  }
}

test('CoNLL: sentences read as written, bad lines and broken tag sequences reported at their lines', async (t) => {
  const path = join(frame.dir(), 'data.conll');
  const tried = await assertProperty(
    fc.asyncProperty(conllFileArb, mutationsArb(MAX), async (file, mutations) => {
      const bytes = mutate(file, mutations);
      await writeFile(path, bytes);
      const ref = datasetLayout(refConll(bytes, MAX));
      count('conll', ref);
      compare(path, ref, await seen(() => conllRows(path, 'skip', MAX)), await seen(() => conllRows(path, 'error', MAX)));
    }),
    RUNS,
  );
  t.is(tried, fuzzRuns(RUNS));
});

test('a mutated gzip stream is read exactly or ends in a CorpusError naming the file', async (t) => {
  const path = join(frame.dir(), 'bytes.tsv.gz');
  const tried = await assertProperty(
    fc.asyncProperty(classificationFileArb('tsv'), mutationsArb(MAX), async (file, mutations) => {
      const bytes = mutate(gzipSync(file), mutations);
      await writeFile(path, bytes);
      let plain: Buffer | undefined;
      try {
        plain = gunzipSync(bytes);
      } catch {
        plain = undefined;
      }
      const c = (frame.tally['gzip bytes'] ??= { inputs: 0, records: 0, badRows: 0, inputErrors: 0 });
      c.inputs++;
      const skip = await seen(() => classificationRows(path, 'skip', MAX));
      if (plain === undefined) {
        c.inputErrors++;
        if (!('error' in skip)) throw new Error(`a gzip stream gunzip rejects was read as ${JSON.stringify(skip.rows).slice(0, 200)}`);
        if (!(skip.error instanceof CorpusError) || !skip.error.message.startsWith(path)) throw new Error(`error not naming the file: ${skip.error.message}`);
        return;
      }
      compare(path, datasetLayout(refClassification(plain, 'tsv', MAX)), skip, undefined);
    }),
    RUNS,
  );
  t.is(tried, fuzzRuns(RUNS));
});
