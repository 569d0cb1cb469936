// lib/metrics/ner.ts against seqeval (default and strict mode, IOB1 and IOB2). The
// fixtures come from scripts/fixtures/make-metrics-reference.py; numbers must agree to
// 1e-12 and the printed report byte for byte.

import { readFileSync } from 'node:fs';
import test, { type ExecutionContext } from 'ava';
import {
  extractEntities,
  formatClassificationReport,
  nerF1,
  nerPrecision,
  nerRecall,
  nerReport,
  reportToDict,
  type NerAverage,
  type NerMode,
  type NerReportOptions,
  type NerScheme,
} from '../lib/metrics/index.js';

const TOLERANCE = 1e-12;

const ner = JSON.parse(
  readFileSync(new URL('./fixtures/metrics/ner.json', import.meta.url), 'utf8'),
  (_key, value) => (value === 'NaN' ? Number.NaN : value),
);

// Options in the fixture use null for "not given".
function options(raw: Record<string, unknown>): NerReportOptions {
  return Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== null)) as NerReportOptions;
}

function assertClose(t: ExecutionContext, actual: number, expected: number, what: string): void {
  if (Number.isNaN(expected)) t.true(Number.isNaN(actual), `${what} should be NaN`);
  else t.true(Math.abs(actual - expected) <= TOLERANCE, `${what}: ${actual} != ${expected}`);
}

for (const c of ner.reports) {
  test(`the scores for "${c.name}" match seqeval`, (t) => {
    const fns = { precision: nerPrecision, recall: nerRecall, f1: nerF1 };
    for (const [metric, fn] of Object.entries(fns)) {
      for (const average of ['micro', 'macro', 'weighted'] as NerAverage[]) {
        const actual = fn(c.yTrue, c.yPred, { ...options(c.options), average });
        assertClose(t, actual, c.scores[metric][average], `${metric} ${average}`);
      }
    }
  });

  if (c.text !== null) {
    test(`the report for "${c.name}" matches seqeval's numbers and text`, (t) => {
      const report = nerReport(c.yTrue, c.yPred, options(c.options));
      const dict = reportToDict(report) as Record<string, Record<string, number>>;
      t.deepEqual(Object.keys(dict), Object.keys(c.dict));
      for (const [row, values] of Object.entries(c.dict as Record<string, Record<string, number>>)) {
        for (const [key, value] of Object.entries(values)) assertClose(t, dict[row][key], value, `${row} ${key}`);
      }
      t.is(formatClassificationReport(report), c.text);
    });
  }
}

for (const [i, c] of ner.entities.entries()) {
  test(`the entities of sequence ${i} (${c.scheme}) match seqeval in both modes`, (t) => {
    t.deepEqual(extractEntities(c.tags, c.scheme as NerScheme), c.default);
    t.deepEqual(extractEntities(c.tags, c.scheme as NerScheme, 'strict' as NerMode), c.strict);
  });
}

test('an I- tag without B- starts an entity only in default mode', (t) => {
  const tags = ['O', 'I-PER', 'I-PER', 'O'];
  t.deepEqual(extractEntities(tags), [{ type: 'PER', start: 1, end: 2 }]);
  t.deepEqual(extractEntities(tags, 'IOB2', 'strict'), []);
  t.deepEqual(extractEntities(tags, 'IOB1', 'strict'), [{ type: 'PER', start: 1, end: 2 }]);
});

test('adjacent entities of one type stay separate and bare tags get type _', (t) => {
  t.deepEqual(extractEntities(['B-LOC', 'B-LOC', 'I-LOC']), [
    { type: 'LOC', start: 0, end: 0 },
    { type: 'LOC', start: 1, end: 2 },
  ]);
  t.deepEqual(extractEntities(['B', 'I', 'O', 'I']), [
    { type: '_', start: 0, end: 1 },
    { type: '_', start: 3, end: 3 },
  ]);
});

test('entities never span two sentences', (t) => {
  const report = nerReport([['O', 'B-PER'], ['I-PER', 'O']], [['O', 'B-PER'], ['I-PER', 'O']]);
  t.deepEqual(report.classes, [{ name: 'PER', precision: 1, recall: 1, f1: 1, support: 2 }]);
});

test('a report with no entities has no classes and a NaN macro average', (t) => {
  const report = nerReport([['O']], [['O']]);
  t.deepEqual(report.classes, []);
  t.true(Number.isNaN(report.macroAvg.f1));
  t.deepEqual(report.weightedAvg, { precision: 0, recall: 0, f1: 0, support: 0 });
  t.true(formatClassificationReport(report).includes('macro avg        nan'));
});

test('mismatched sentences throw a RangeError naming yPred', (t) => {
  t.throws(() => nerF1([['O'], ['O']], [['O']]), {
    instanceOf: RangeError,
    message: 'Expected 2 sentences (as in yTrue) for yPred but received 1',
  });
  t.throws(() => nerReport([['O', 'B-PER']], [['O']]), {
    instanceOf: RangeError,
    message: 'Expected 2 tags (as in yTrue[0]) for yPred[0] but received 1',
  });
});

test('malformed tags and options throw errors that name the argument', (t) => {
  t.throws(() => nerReport([['O', 'E-PER']], [['O', 'O']]), {
    instanceOf: RangeError,
    message: 'Expected an IOB tag (O, B-TYPE or I-TYPE) for yTrue[0][1] but received "E-PER"',
  });
  t.throws(() => extractEntities(['BPER']), { instanceOf: RangeError, message: /for tags\[0\]/ });
  t.throws(() => extractEntities(['O'], 'IOBES' as NerScheme), { instanceOf: RangeError, message: /for scheme/ });
  t.throws(() => extractEntities(['O'], 'IOB2', 'lenient' as NerMode), { instanceOf: RangeError, message: /for mode/ });
  t.throws(() => nerPrecision([['O']], [['O']], { average: 'samples' as NerAverage }), {
    instanceOf: RangeError,
    message: /for average/,
  });
  t.throws(() => nerReport([['O']], [['O']], { digits: 1.5 }), { instanceOf: RangeError, message: /for digits/ });
  t.throws(() => nerF1('O' as unknown as string[][], [['O']]), { instanceOf: TypeError, message: /for yTrue/ });
});
