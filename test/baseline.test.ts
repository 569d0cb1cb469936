// The TF-IDF + logistic-regression baseline (issue 23 item 4): scikit-learn's
// TfidfVectorizer (word 1-2 + char_wb 2-5, sublinear tf) + LogisticRegression
// on a fixture (scripts/fixtures/make-baseline-reference.py), better than
// chance on a separable set, and shown by finetune, evaluate and report.html
// unless --no-baseline.
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { charWbNgrams, TextBaseline, wordNgrams } from '../lib/baseline/index.js';
import { cli } from './helpers/cli.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/baseline-reference.json', import.meta.url));

interface Fixture {
  C: number; accuracy: number; features: { word: number; char: number };
  train: Array<{ text: string; label: number }>; test: Array<{ text: string; label: number }>;
  predictions: number[]; proba_first10: number[][];
}

test('n-grams are sklearn\'s: word tokens of 2+ word characters, char_wb pads each word and counts a short word once', (t) => {
  t.deepEqual(wordNgrams('A film, a FILM!', [1, 2]), ['film', 'film', 'film film']);
  t.deepEqual(charWbNgrams('ab  c', [2, 3]), [' a', 'ab', 'b ', ' ab', 'ab ', ' c', 'c ', ' c ']);
});

test('matches scikit-learn\'s TfidfVectorizer + LogisticRegression on the fixture', (t) => {
  const f: Fixture = JSON.parse(readFileSync(FIXTURE, 'utf8'));
  const b = new TextBaseline({ C: f.C, tol: 1e-6, maxIter: 1000 }).fit(f.train.map((x) => x.text), f.train.map((x) => x.label));
  t.is(b.vectorizer.size, f.features.word + f.features.char, 'the same vocabulary');
  const pred = b.predict(f.test.map((x) => x.text));
  const agree = pred.filter((p, i) => p === f.predictions[i]).length / pred.length;
  const acc = pred.filter((p, i) => p === f.test[i].label).length / pred.length;
  const proba = b.classifier.predictProba(b.vectorizer.transform(f.test.slice(0, 10).map((x) => x.text)));
  let diff = 0;
  f.proba_first10.forEach((row, i) => row.forEach((p, c) => { diff = Math.max(diff, Math.abs(proba[i * 3 + c] - p)); }));
  t.log(`accuracy ${acc.toFixed(4)} (sklearn ${f.accuracy.toFixed(4)}), agreement ${agree.toFixed(4)}, largest probability difference ${diff.toExponential(2)}, fit ${b.fitSeconds.toFixed(2)} s`);
  // Tolerances: the optimum is the same (convex); the two L-BFGS runs stop at slightly different points.
  t.true(agree >= 0.99, `agreement ${agree}`);
  t.true(Math.abs(acc - f.accuracy) <= 0.01, `accuracy ${acc} vs ${f.accuracy}`);
  t.true(diff < 1e-3, `probabilities differ by ${diff}`);
});

test('beats chance on a separable set and predicts unseen words by their characters', (t) => {
  const pos = ['splendid', 'lovely', 'delightful', 'marvellous'];
  const neg = ['dreadful', 'horrible', 'miserable', 'terrible'];
  let s = 5;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  const make = (n: number) => Array.from({ length: n }, () => {
    const label = rand() < 0.5 ? 1 : 0;
    return { text: `the show was ${(label ? pos : neg)[Math.floor(rand() * 4)]} today`, label };
  });
  const train = make(80), testSet = make(40);
  const b = new TextBaseline().fit(train.map((x) => x.text), train.map((x) => x.label));
  const e = b.evaluate(testSet.map((x) => x.text), testSet.map((x) => x.label), ['negative', 'positive']);
  t.true(e.accuracy > 0.95, `accuracy ${e.accuracy}`);
  t.deepEqual(Array.from(b.predict(['so splendidly lovely', 'utterly dreadfully horrible'])), [1, 0]);
});

test('refuses mismatched labels and a bad C', (t) => {
  t.throws(() => new TextBaseline().fit(['a b', 'c d'], [0]), { instanceOf: RangeError, code: 'ERR_INVALID_ARG' });
  t.throws(() => new TextBaseline({ C: 0 }), { instanceOf: RangeError, code: 'ERR_INVALID_ARG' });
});


test.serial('finetune and evaluate print the baseline beside the model, report.html shows it, --no-baseline turns it off', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'bertorch-baseline-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const f: Fixture = JSON.parse(readFileSync(FIXTURE, 'utf8'));
  const names = ['negative', 'neutral', 'positive'];
  const csv = (rows: Fixture['train']) => 'text,label\n' + rows.map((r) => `"${r.text}",${names[r.label]}`).join('\n') + '\n';
  await writeFile(path.join(dir, 'train.csv'), csv(f.train.slice(0, 300)));
  await writeFile(path.join(dir, 'test.csv'), csv(f.test.slice(0, 100)));
  const common = ['--train', path.join(dir, 'train.csv'), '--eval', path.join(dir, 'test.csv'), '--preset', 'tiny', '--vocab-size', '300',
    '--epochs', '1', '--batch-size', '32', '--max-length', '32', '--lr', '1e-3', '--logging-steps', '100', '--run-name', 'r'];
  const r = await cli(['finetune', ...common, '--out', path.join(dir, 'model')]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /model: accuracy \d\.\d{4}, macro F1 \d\.\d{4} \([+-]\d+\.\d points over the baseline\); baseline \(TF-IDF \+ logistic regression, fitted in [\d.]+ s\): accuracy 0\.\d{4}/);
  const html = readFileSync(path.join(dir, 'model', 'runs', 'r', 'report.html'), 'utf8');
  t.regex(html, /<h2>Baseline<\/h2>/);
  t.regex(html, /<th>TF-IDF \+ logistic regression<\/th><td>baseline<\/td><td>0\.\d{4}<\/td>/);
  t.true(existsSync(path.join(dir, 'model', 'baseline.json')));

  const ev = await cli(['evaluate', '--model', path.join(dir, 'model'), '--data', path.join(dir, 'test.csv'), '--max-length', '32', '--json']);
  t.is(ev.code, 0, ev.stderr);
  const out = JSON.parse(ev.stdout);
  const recorded = JSON.parse(readFileSync(path.join(dir, 'model', 'baseline.json'), 'utf8'));
  t.is(out.baseline.name, 'TF-IDF + logistic regression');
  t.is(out.baseline.accuracy, recorded.accuracy, 'evaluate refits the same baseline from the recorded training file');
  t.true(out.baseline.accuracy > 0.5, 'better than chance (1/3)');
  const text = await cli(['evaluate', '--model', path.join(dir, 'model'), '--data', path.join(dir, 'test.csv'), '--max-length', '32']);
  t.regex(text.stdout, /baseline: TF-IDF \+ logistic regression[\s\S]*points over the baseline/);

  const off = await cli(['finetune', ...common, '--out', path.join(dir, 'off'), '--no-baseline']);
  t.is(off.code, 0, off.stderr);
  t.notRegex(off.stderr, /TF-IDF/);
  t.notRegex(readFileSync(path.join(dir, 'off', 'runs', 'r', 'report.html'), 'utf8'), /<h2>Baseline<\/h2>/);
  const evOff = await cli(['evaluate', '--model', path.join(dir, 'model'), '--data', path.join(dir, 'test.csv'), '--max-length', '32', '--json', '--no-baseline']);
  t.is(JSON.parse(evOff.stdout).baseline, undefined);
});
