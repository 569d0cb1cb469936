/**
 * The cheapest honest baseline for text classification (issue 23 item 4):
 * TF-IDF word (1-2) and character (2-5, within words) n-grams and a logistic
 * regression, fitted on the same training texts as the model and scored on
 * the same evaluation texts, so `finetune`, `evaluate` and report.html can
 * show whether the model beats it. Seconds on ~10k sentences. Pure
 * TypeScript (no addon); single-label classification only.
 */
import { classificationReport, confusionMatrix, type ClassificationReport } from '../metrics/index.js';
import { invalidRange, invalidType } from '../errors.js';
import { LogisticRegression, type LogisticOptions } from './logistic.js';
import { TfidfVectorizer, type TfidfOptions } from './tfidf.js';

export { LogisticRegression, lbfgs, type LogisticOptions } from './logistic.js';
export { TfidfVectorizer, charWbNgrams, wordNgrams, type SparseRow, type TfidfOptions } from './tfidf.js';

export interface BaselineOptions extends TfidfOptions, LogisticOptions {}

/** The baseline's display name, as report.html and the CLI print it. */
export const BASELINE_NAME = 'TF-IDF + logistic regression';

/** A fitted TF-IDF + logistic-regression classifier. */
export class TextBaseline {
  readonly vectorizer: TfidfVectorizer;
  readonly classifier: LogisticRegression;
  /** Seconds fit() took. */
  fitSeconds = 0;

  constructor(o: BaselineOptions = {}) {
    this.vectorizer = new TfidfVectorizer(o);
    this.classifier = new LogisticRegression(o);
  }

  /**
   * Fits on texts with labels 0..K-1.
   * @throws TypeError / RangeError (ERR_INVALID_ARG) for mismatched or bad inputs.
   * @example
   * const b = new TextBaseline().fit(['good film', 'bad film'], [1, 0]);
   * b.predict(['good']); // Int32Array [1]
   */
  fit(texts: readonly string[], labels: ArrayLike<number>): this {
    if (!Array.isArray(texts) || !texts.every((t) => typeof t === 'string')) invalidType('an array of strings', 'texts', texts);
    if (labels.length !== texts.length) invalidRange(`${texts.length} labels`, 'labels', labels.length);
    const t0 = performance.now();
    const rows = this.vectorizer.fitTransform(texts);
    this.classifier.fit(rows, labels, this.vectorizer.size);
    this.fitSeconds = (performance.now() - t0) / 1000;
    return this;
  }

  predict(texts: readonly string[]): Int32Array {
    return this.classifier.predict(this.vectorizer.transform(texts));
  }

  /** Accuracy, macro F1 and sklearn's classification report on labeled texts. */
  evaluate(texts: readonly string[], labels: ArrayLike<number>, names: readonly string[], digits = 4): BaselineEvaluation {
    const yPred = Array.from(this.predict(texts));
    const yTrue = Array.from(labels);
    const ids = names.map((_, k) => k);
    const report = classificationReport(yTrue, yPred, { labels: ids, targetNames: names, digits, zeroDivision: 0 });
    return {
      name: BASELINE_NAME, labels: [...names], report, confusion: confusionMatrix(yTrue, yPred, ids),
      accuracy: report.accuracy ?? NaN, macroF1: report.macroAvg.f1, fitSeconds: this.fitSeconds,
    };
  }
}

/** A report.html evaluation (ReportEvaluation's shape) with the headline figures. */
export interface BaselineEvaluation {
  name: string;
  labels: string[];
  report: ClassificationReport;
  confusion: number[][];
  accuracy: number;
  macroF1: number;
  fitSeconds: number;
}
