// The CLI reads labeled files strictly (issue 22): a bad row stops it with
// file:line (exit 1) before any model is made; --on-bad-row skip trains on the
// good rows and lists the skipped ones with their lines on stderr; a CoNLL
// file of four columns needs --tag-column, and --repair-tags lists repairs.
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cli } from './helpers/cli.js';

let dir = '';


test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'bertorch-cli-strict-'));
});
test.after.always(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const TSV = 'text\tlabel\ngood movie\tpositive\nbad\tmovie\tnegative\nfine film\tpositive\tEXTRA\nawful plot\tnegative\n';

test('a stray tab stops finetune with file:line; --on-bad-row skip lists the skipped rows and trains on the rest', async (t) => {
  const file = path.join(dir, 't.tsv');
  await writeFile(file, TSV);
  const strict = await cli(['finetune', '--train', file, '--out', path.join(dir, 'strict')]);
  t.is(strict.code, 1, strict.stderr);
  t.regex(strict.stderr, new RegExp(`${file}:3: 3 fields, header has 2 \\(field_count`));
  const skip = await cli(['finetune', '--train', file, '--out', path.join(dir, 'skip'), '--on-bad-row', 'skip', '--epochs', '1', '--preset', 'tiny', '--vocab-size', '60']);
  t.is(skip.code, 0, skip.stderr);
  t.regex(skip.stderr, /skipped 2 bad rows of .*t\.tsv:/);
  t.regex(skip.stderr, new RegExp(`${file}:3: 3 fields, header has 2 \\(field_count\\)`));
  t.regex(skip.stderr, new RegExp(`${file}:4: 3 fields, header has 2 \\(field_count\\)`));
  t.regex(skip.stderr, /2 training examples/);
});

test('a four-column CoNLL file needs --tag-column; an I- after O is an error unless --repair-tags', async (t) => {
  const file = path.join(dir, 'ner.conll');
  await writeFile(file, 'John NNP B-NP B-PER\nlives VBZ B-VP O\nin IN B-PP O\nParis NNP B-NP I-LOC\n\nBob NNP B-NP B-PER\n');
  const base = ['finetune', '--task', 'ner', '--train', file, '--epochs', '1', '--preset', 'tiny', '--vocab-size', '60'];
  const noColumn = await cli([...base, '--out', path.join(dir, 'a')]);
  t.is(noColumn.code, 1);
  t.regex(noColumn.stderr, /ner\.conll:1: the line has 4 columns: name the tag column with tagColumn \(--tag-column\)/);
  const strict = await cli([...base, '--out', path.join(dir, 'b'), '--tag-column', '3', '--strict']);
  t.is(strict.code, 1);
  t.regex(strict.stderr, /ner\.conll:4: tag "I-LOC" after "O" breaks IOB2/);
  const repaired = await cli([...base, '--out', path.join(dir, 'c'), '--tag-column', '3', '--repair-tags']);
  t.is(repaired.code, 0, repaired.stderr);
  t.regex(repaired.stderr, /repaired 1 tag of .*ner\.conll that broke IOB2:\n.*ner\.conll:4: I-LOC -> B-LOC/);
  const both = await cli([...base, '--out', path.join(dir, 'd'), '--tag-column', '3', '--repair-tags', '--strict']);
  t.is(both.code, 2);
});
