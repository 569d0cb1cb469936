// lib/metrics/classification.ts against scikit-learn. The fixtures come from
// scripts/fixtures/make-metrics-reference.py; numbers must agree to 1e-12 and the
// printed report byte for byte.

import { readFileSync } from 'node:fs';
import test, { type ExecutionContext } from 'ava';
import {
  classificationReport,
  confusionMatrix,
  formatClassificationReport,
  multilabelReport,
  reportToDict,
  type ClassificationReportOptions,
  type Label,
  type ZeroDivision,
} from '../lib/metrics/index.js';
import { formatFixed, pairwiseSum } from '../lib/metrics/classification.js';

const TOLERANCE = 1e-12;

function fixture(name: string) {
  const text = readFileSync(new URL(`./fixtures/metrics/${name}`, import.meta.url), 'utf8');
  return JSON.parse(text, (_key, value) => (value === 'NaN' ? Number.NaN : value));
}

// Options in the fixture use null for "not given".
function options(raw: Record<string, unknown>): ClassificationReportOptions {
  return Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== null)) as ClassificationReportOptions;
}

// Compares nested numbers to TOLERANCE and reports the largest difference (llm.c style).
function assertClose(t: ExecutionContext, actual: unknown, expected: unknown): void {
  let largest = 0;
  const walk = (a: unknown, e: unknown, path: string) => {
    if (typeof e === 'number') {
      t.is(typeof a, 'number', `${path} is not a number`);
      if (Number.isNaN(e)) return t.true(Number.isNaN(a as number), `${path} should be NaN`);
      largest = Math.max(largest, Math.abs((a as number) - e));
      t.true(Math.abs((a as number) - e) <= TOLERANCE, `${path}: ${String(a)} != ${e}`);
    } else if (e !== null && typeof e === 'object') {
      t.deepEqual(Object.keys(a as object), Object.keys(e), `${path} has other keys`);
      for (const key of Object.keys(e)) walk((a as any)[key], (e as any)[key], `${path}.${key}`);
    } else {
      t.is(a, e, path);
    }
  };
  walk(actual, expected, '$');
  t.log(`largest difference: ${largest}`);
}

const classification = fixture('classification.json');
const multilabel = fixture('multilabel.json');

for (const c of classification.reports) {
  test(`the report for "${c.name}" matches scikit-learn's numbers and text`, (t) => {
    const report = classificationReport(c.yTrue as Label[], c.yPred as Label[], options(c.options));
    assertClose(t, reportToDict(report), c.dict);
    t.is(formatClassificationReport(report), c.text);
  });
}

for (const c of classification.confusion) {
  test(`the confusion matrix for "${c.name}" matches scikit-learn`, (t) => {
    t.deepEqual(confusionMatrix(c.yTrue, c.yPred, c.labels ?? undefined), c.matrix);
  });
}

for (const c of multilabel.reports) {
  test(`the multi-label report for "${c.name}" matches scikit-learn`, (t) => {
    const report = multilabelReport(c.yTrue, c.yPred, options(c.options));
    assertClose(t, reportToDict(report), c.dict);
    t.is(formatClassificationReport(report), c.text);
    assertClose(t, [report.subsetAccuracy, report.hammingLoss], [c.subsetAccuracy, c.hammingLoss]);
  });
}

test('an accuracy line replaces micro avg only when labels cover every present class', (t) => {
  const full = classificationReport([0, 1, 1], [0, 1, 0], { labels: [1, 0, 5] });
  t.is(full.accuracy, 2 / 3);
  t.is(full.microAvg, undefined);
  const subset = classificationReport([0, 1, 1], [0, 1, 0], { labels: [1] });
  t.is(subset.accuracy, undefined);
  t.deepEqual(subset.microAvg, { precision: 1, recall: 0.5, f1: 2 / 3, support: 2 });
});

test('the zero-division value applies only where a denominator is zero', (t) => {
  const rows = (zeroDivision: ZeroDivision) =>
    classificationReport([0, 0, 1], [0, 0, 0], { labels: [0, 1, 2], zeroDivision }).classes;
  t.deepEqual(rows('warn'), rows(0));
  const [, one, two] = rows(1);
  t.deepEqual([one.precision, one.recall, one.f1], [1, 0, 0]);
  t.deepEqual([two.precision, two.recall, two.f1], [1, 1, 1]);
});

test('supports print as floats when no prediction is correct, as in scikit-learn', (t) => {
  const report = classificationReport([0, 1], [1, 0]);
  t.true(report.floatSupport);
  t.true(formatClassificationReport(report).includes('       1.0\n'));
  t.is(classificationReport([0, 1], [0, 0]).floatSupport, undefined);
});

test('the text report can be printed with other digits than it was built with', (t) => {
  const report = classificationReport([0, 1, 1], [0, 1, 0]);
  t.true(formatClassificationReport(report, 3).includes('0.667'));
  t.true(formatClassificationReport(report).includes('0.67 '));
});

test('fixed-point formatting rounds exact ties to even like Python', (t) => {
  t.is(formatFixed(0.125, 2), '0.12');
  t.is(formatFixed(0.375, 2), '0.38');
  t.is(formatFixed(0.5, 0), '0');
  t.is(formatFixed(2.5, 0), '2');
  t.is(formatFixed(1.5, 0), '2');
  t.is(formatFixed(2 / 3, 4), '0.6667');
  t.is(formatFixed(-0.125, 2), '-0.12');
  t.is(formatFixed(Number.NaN, 2), 'nan');
});

test('the pairwise sum adds in numpy\'s order', (t) => {
  const ints = Array.from({ length: 300 }, (_, i) => i);
  t.is(pairwiseSum(ints), (299 * 300) / 2);
  // A left-to-right sum loses every 1 against 1e16 (0); numpy's 8 accumulators keep
  // seven of them twice: np.sum gives 14.0 for this array.
  const values = [1e16, ...new Array<number>(15).fill(1), -1e16];
  t.is(pairwiseSum(values), 14);
});

test('mismatched lengths throw a RangeError naming yPred', (t) => {
  t.throws(() => classificationReport([0, 1, 1], [0, 1]), {
    instanceOf: RangeError,
    message: 'Expected an array of length 3 (the length of yTrue) for yPred but received length 2',
  });
  t.throws(() => confusionMatrix(['a'], ['a', 'b']), { instanceOf: RangeError, message: /for yPred but received/ });
});

test('bad labels and options throw errors that name the argument', (t) => {
  t.throws(() => classificationReport([], []), { instanceOf: RangeError, message: /for yTrue/ });
  t.throws(() => classificationReport([0, 1.5], [0, 1]), {
    instanceOf: RangeError,
    message: 'Expected an integer for yTrue[1] but received 1.5',
  });
  t.throws(() => classificationReport([0, 'a'], [0, 1]), { instanceOf: TypeError, message: /for yTrue\[1\]/ });
  t.throws(() => classificationReport([0, 1], ['a', 'b']), { instanceOf: TypeError, message: /for yPred/ });
  t.throws(() => classificationReport([0, 1], [0, 1], { targetNames: ['a'] }), {
    instanceOf: RangeError,
    message: 'Expected 2 names (one per class) for targetNames but received ["a"]',
  });
  t.throws(() => classificationReport([0, 1], [0, 1], { labels: [0, 0] }), { instanceOf: RangeError, message: /for labels/ });
  t.throws(() => classificationReport([0, 1], [0, 1], { labels: [] }), { instanceOf: RangeError, message: /for labels/ });
  t.throws(() => classificationReport([0, 1], [0, 1], { zeroDivision: 2 as ZeroDivision }), {
    instanceOf: RangeError,
    message: /for zeroDivision but received 2/,
  });
  t.throws(() => classificationReport([0, 1], [0, 1], { digits: -1 }), { instanceOf: RangeError, message: /for digits/ });
  t.throws(() => confusionMatrix([0, 1], [0, 1], [7, 8]), {
    instanceOf: RangeError,
    message: 'Expected at least one label that occurs in yTrue for labels but received [7,8]',
  });
});

test('malformed indicator rows throw a RangeError naming the row', (t) => {
  t.throws(() => multilabelReport([[1, 0]], [[1, 0], [0, 1]]), {
    instanceOf: RangeError,
    message: 'Expected 1 rows (the rows of yTrue) for yPred but received 2 rows',
  });
  t.throws(() => multilabelReport([[1, 0], [0, 1]], [[1, 0], [0]]), {
    instanceOf: RangeError,
    message: 'Expected a row of 2 indicators for yPred[1] but received [0]',
  });
  t.throws(() => multilabelReport([[1, 2]], [[1, 0]]), {
    instanceOf: RangeError,
    message: 'Expected 0 or 1 for yTrue[0][1] but received 2',
  });
  t.throws(() => multilabelReport([], []), { instanceOf: RangeError, message: /for yTrue/ });
  t.throws(() => multilabelReport([[1], [0]], [[1], [1]]), { instanceOf: RangeError, message: /at least 2 .* for yTrue\[0\]/ });
  t.throws(() => multilabelReport([[1, 0]], [[1, 0]], { targetNames: ['a', 'b', 'c'] }), {
    instanceOf: RangeError,
    message: /for targetNames/,
  });
});
