// lib/metrics/lm.ts against numpy (float64) and PyTorch's cross_entropy (float32). The
// fixture comes from scripts/fixtures/make-metrics-reference.py.

import { readFileSync } from 'node:fs';
import test from 'ava';
import { argmax, maskedAccuracy, meanCrossEntropy, perplexity, type Logits } from '../lib/metrics/index.js';

const lm = JSON.parse(readFileSync(new URL('./fixtures/metrics/lm.json', import.meta.url), 'utf8'));
const logits: Logits = { data: Float32Array.from(lm.logits as number[]), shape: lm.shape };

test('argmax over the vocabulary matches numpy', (t) => {
  t.deepEqual([...argmax(logits)], lm.argmax);
  t.deepEqual([...argmax({ data: new Float32Array([1, 3, 3]), shape: [3] })], [1]);
});

test('masked accuracy skips -100 labels whether given logits or ids', (t) => {
  const expected = { accuracy: lm.accuracy, correct: lm.correct, total: lm.total };
  t.deepEqual(maskedAccuracy(logits, lm.labels), expected);
  t.deepEqual(maskedAccuracy(lm.argmax, Int32Array.from(lm.labels as number[])), expected);
  t.deepEqual(maskedAccuracy(lm.argmax, BigInt64Array.from((lm.labels as number[]).map(BigInt))), expected);
});

test('mean cross-entropy matches numpy to 1e-12 and PyTorch to float32 precision', (t) => {
  const ce = meanCrossEntropy(logits, lm.labels);
  t.log(`numpy diff ${Math.abs(ce - lm.meanCrossEntropy)}, torch diff ${Math.abs(ce - lm.torchCrossEntropy)}`);
  t.true(Math.abs(ce - lm.meanCrossEntropy) <= 1e-12);
  t.true(Math.abs(ce - lm.torchCrossEntropy) <= 1e-6);
});

test('perplexity is the exponential of the mean cross-entropy', (t) => {
  t.true(Math.abs(perplexity(meanCrossEntropy(logits, lm.labels)) - lm.perplexity) <= 1e-12 * lm.perplexity);
  t.is(perplexity(0), 1);
  t.is(perplexity(Math.log(4)), 4);
});

test('large logits do not overflow the cross-entropy', (t) => {
  const ce = meanCrossEntropy({ data: new Float64Array([1000, 1000]), shape: [1, 2] }, [0]);
  t.is(ce, Math.LN2);
});

test('all-ignored labels give NaN, as PyTorch does', (t) => {
  t.true(Number.isNaN(meanCrossEntropy(logits, new Array(6).fill(-100))));
  t.deepEqual(maskedAccuracy([1, 2], [-100, -100]), { accuracy: Number.NaN, correct: 0, total: 0 });
  t.deepEqual(maskedAccuracy([1, 2], [7, 7], 7).total, 0);
});

test('mismatched lengths throw a RangeError naming labels', (t) => {
  t.throws(() => maskedAccuracy([1, 2, 3], [1, 2]), {
    instanceOf: RangeError,
    message: 'Expected 3 labels (one per prediction) for labels but received 2',
  });
  t.throws(() => meanCrossEntropy(logits, [1]), {
    instanceOf: RangeError,
    message: 'Expected 6 labels (one per row of logits) for labels but received 1',
  });
});

test('malformed logits and labels throw errors that name the argument', (t) => {
  t.throws(() => argmax({ data: new Float32Array(6), shape: [4, 2] }), {
    instanceOf: RangeError,
    message: 'Expected a shape with V > 0 and 6 elements (the length of logits.data) for logits.shape but received [4,2]',
  });
  t.throws(() => argmax({ data: [1, 2] as unknown as Float32Array, shape: [2] }), {
    instanceOf: TypeError,
    message: /for logits\.data/,
  });
  t.throws(() => meanCrossEntropy({ data: new Float32Array(4), shape: [2, 2] }, [0, 2]), {
    instanceOf: RangeError,
    message: 'Expected an id in [0, 2) or -100 for labels[1] but received 2',
  });
  t.throws(() => perplexity(Number.NaN), { instanceOf: RangeError, message: /for meanCrossEntropyNats/ });
});
