// Classification metrics that reproduce scikit-learn's numbers and text report.
//
// Pure TypeScript over plain arrays: no native addon, no tensors, no state. Every
// function is synchronous and safe to call from any thread. The arithmetic follows
// sklearn/metrics/_classification.py (precision_recall_fscore_support,
// classification_report, confusion_matrix) down to numpy's summation order, so a report
// printed here is byte-identical to the one sklearn prints for the same labels.

/** A class label: an integer or a string, as scikit-learn accepts them. */
export type Label = number | string;

/**
 * The value of a metric whose denominator is zero (sklearn's `zero_division`).
 * `'warn'` gives 0; unlike sklearn it emits no warning.
 */
export type ZeroDivision = 'warn' | 0 | 1;

/** Precision, recall, F1 and support of one class or one average. */
export interface MetricRow {
  precision: number;
  recall: number;
  f1: number;
  /** Number of true instances (for an average: of all reported classes). */
  support: number;
}

/** A per-class row of a report, named as it is printed. */
export interface NamedMetricRow extends MetricRow {
  name: string;
}

/**
 * The numbers behind a classification report, in printing order.
 * `accuracy` replaces `microAvg` exactly where sklearn prints an "accuracy" line.
 */
export interface ClassificationReport {
  classes: NamedMetricRow[];
  accuracy?: number;
  microAvg?: MetricRow;
  macroAvg: MetricRow;
  weightedAvg: MetricRow;
  /** Multi-label reports only. */
  samplesAvg?: MetricRow;
  /**
   * Print supports as floats ("3.0"). sklearn's multiclass counts turn float when no
   * prediction is correct at all, and its text report shows them so.
   */
  floatSupport?: boolean;
  /** Decimal places used by {@link formatClassificationReport}. */
  digits: number;
}

/** Options of {@link classificationReport}, named after sklearn's arguments. */
export interface ClassificationReportOptions {
  /** Classes to report, in this order. @default the sorted labels of yTrue and yPred */
  labels?: readonly Label[];
  /** Printed names of `labels`. @default String(label) */
  targetNames?: readonly string[];
  /** Decimal places of the text report, 0 to 20. @default 2 */
  digits?: number;
  /** @default 'warn' */
  zeroDivision?: ZeroDivision;
}

/** A multi-label report plus the two sample-level scores sklearn computes separately. */
export interface MultilabelReport extends ClassificationReport {
  /** Fraction of rows predicted exactly (sklearn's accuracy_score). */
  subsetAccuracy: number;
  /** Fraction of wrong indicator entries (sklearn's hamming_loss). */
  hammingLoss: number;
}

/** Options of {@link multilabelReport}. */
export interface MultilabelReportOptions {
  /** Printed names of the columns. @default '0', '1', ... */
  targetNames?: readonly string[];
  /** Decimal places of the text report, 0 to 20. @default 2 */
  digits?: number;
  /** @default 'warn' */
  zeroDivision?: ZeroDivision;
}

/**
 * scikit-learn's `classification_report` for single-label (binary or multiclass) targets.
 *
 * @throws {RangeError} if the arrays differ in length or are empty, a number label is not
 *   an integer, `labels` repeats a label, or `targetNames` does not match the classes.
 * @throws {TypeError} if numbers and strings are mixed.
 * @example
 * const report = classificationReport([0, 1, 2, 2], [0, 2, 2, 2]);
 * console.log(formatClassificationReport(report));
 */
export function classificationReport(
  yTrue: readonly Label[],
  yPred: readonly Label[],
  options: ClassificationReportOptions = {},
): ClassificationReport {
  checkLabels(yTrue, yPred);
  const present = uniqueLabels([...yTrue, ...yPred]);
  const labels = options.labels === undefined ? present : checkGivenLabels(options.labels, yTrue);
  const names = targetNamesFor(labels.map(String), options.targetNames);
  const zeroDivision = checkZeroDivision(options.zeroDivision);
  const digits = checkDigits(options.digits);

  const index = new Map(labels.map((label, i) => [label, i]));
  const tp = new Array<number>(labels.length).fill(0);
  const predSum = new Array<number>(labels.length).fill(0);
  const trueSum = new Array<number>(labels.length).fill(0);
  for (let i = 0; i < yTrue.length; i++) {
    const t = index.get(yTrue[i]);
    const p = index.get(yPred[i]);
    if (t !== undefined) trueSum[t]++;
    if (p !== undefined) predSum[p]++;
    if (t !== undefined && t === p) tp[t]++;
  }

  const report = reportFromCounts(names, tp, predSum, trueSum, zeroDivision, digits);
  if (yTrue.every((label, i) => label !== yPred[i])) report.floatSupport = true;
  // sklearn prints "accuracy" when micro-averaging covers every present class.
  const labelSet = new Set(labels);
  if (present.every((label) => labelSet.has(label))) {
    report.accuracy = report.microAvg!.f1;
    delete report.microAvg;
  }
  return report;
}

/**
 * scikit-learn's `classification_report` on multi-label indicator rows (one 0/1 column
 * per label), with micro, macro, weighted and samples averages.
 *
 * @throws {RangeError} if the row counts or widths differ, a row has fewer than 2 columns,
 *   an entry is not 0 or 1, there are no rows, or `targetNames` does not have one name
 *   per column.
 * @example
 * const report = multilabelReport([[1, 0], [1, 1]], [[1, 0], [0, 1]]);
 * report.hammingLoss; // 0.25
 */
export function multilabelReport(
  yTrue: readonly (readonly number[])[],
  yPred: readonly (readonly number[])[],
  options: MultilabelReportOptions = {},
): MultilabelReport {
  const width = checkIndicator(yTrue, yPred);
  const defaultNames = Array.from({ length: width }, (_, i) => String(i));
  const names = targetNamesFor(defaultNames, options.targetNames);
  const zeroDivision = checkZeroDivision(options.zeroDivision);
  const digits = checkDigits(options.digits);

  const tp = new Array<number>(width).fill(0);
  const predSum = new Array<number>(width).fill(0);
  const trueSum = new Array<number>(width).fill(0);
  // Per-row counts feed the samples average.
  const rowTp: number[] = [];
  const rowPred: number[] = [];
  const rowTrue: number[] = [];
  let exactRows = 0;
  let wrongEntries = 0;
  for (let r = 0; r < yTrue.length; r++) {
    let [rtp, rpred, rtrue, wrong] = [0, 0, 0, 0];
    for (let c = 0; c < width; c++) {
      const t = yTrue[r][c];
      const p = yPred[r][c];
      tp[c] += t & p;
      predSum[c] += p;
      trueSum[c] += t;
      rtp += t & p;
      rpred += p;
      rtrue += t;
      wrong += t ^ p;
    }
    rowTp.push(rtp);
    rowPred.push(rpred);
    rowTrue.push(rtrue);
    if (wrong === 0) exactRows++;
    wrongEntries += wrong;
  }

  const report = reportFromCounts(names, tp, predSum, trueSum, zeroDivision, digits);
  const samples = prfPerClass(rowTp, rowPred, rowTrue, zeroDivision);
  report.samplesAvg = {
    precision: mean(samples.precision),
    recall: mean(samples.recall),
    f1: mean(samples.f1),
    support: report.macroAvg.support,
  };
  return {
    ...report,
    subsetAccuracy: exactRows / yTrue.length,
    hammingLoss: wrongEntries / (yTrue.length * width),
  };
}

/**
 * scikit-learn's `confusion_matrix`: entry [i][j] counts samples of true class
 * `labels[i]` predicted as `labels[j]`. Samples outside `labels` are not counted.
 *
 * @param labels Row and column order. @default the sorted labels of yTrue and yPred
 * @throws {RangeError} as {@link classificationReport}, or if no label of `labels`
 *   occurs in yTrue (sklearn's rule).
 * @throws {TypeError} if numbers and strings are mixed.
 * @example
 * confusionMatrix(['a', 'b', 'b'], ['a', 'a', 'b']); // [[1, 0], [1, 1]]
 */
export function confusionMatrix(
  yTrue: readonly Label[],
  yPred: readonly Label[],
  labels?: readonly Label[],
): number[][] {
  checkLabels(yTrue, yPred);
  const order = labels === undefined ? uniqueLabels([...yTrue, ...yPred]) : checkGivenLabels(labels, yTrue);
  const trueSet = new Set(yTrue);
  if (!order.some((label) => trueSet.has(label))) {
    throw new RangeError(`Expected at least one label that occurs in yTrue for labels but received ${show(labels)}`);
  }
  const index = new Map(order.map((label, i) => [label, i]));
  const matrix = order.map(() => new Array<number>(order.length).fill(0));
  for (let i = 0; i < yTrue.length; i++) {
    const t = index.get(yTrue[i]);
    const p = index.get(yPred[i]);
    if (t !== undefined && p !== undefined) matrix[t][p]++;
  }
  return matrix;
}

/**
 * The text sklearn's `classification_report` (and seqeval's) prints: same column widths,
 * same rounding (half to even on exact ties, like Python's format), same blank lines.
 *
 * @param digits @default report.digits
 * @example
 * console.log(formatClassificationReport(classificationReport(yTrue, yPred)));
 */
export function formatClassificationReport(report: ClassificationReport, digits = report.digits): string {
  checkDigits(digits);
  const width = Math.max(0, ...report.classes.map((row) => codePoints(row.name)), 'weighted avg'.length, digits);
  const header = ['precision', 'recall', 'f1-score', 'support'];
  const row = (name: string, cells: string[]) =>
    `${padLeft(name, width)} ${cells.map((cell) => ` ${padLeft(cell, 9)}`).join('')}\n`;
  const support = (n: number) => (report.floatSupport && Number.isInteger(n) ? `${n}.0` : String(n));
  const metricRow = (name: string, m: MetricRow) =>
    row(name, [formatFixed(m.precision, digits), formatFixed(m.recall, digits), formatFixed(m.f1, digits), support(m.support)]);

  let text = row('', header).slice(0, -1) + '\n\n';
  for (const r of report.classes) text += metricRow(r.name, r);
  text += '\n';
  if (report.accuracy !== undefined) {
    text += row('accuracy', ['', '', formatFixed(report.accuracy, digits), support(report.macroAvg.support)]);
  }
  if (report.microAvg) text += metricRow('micro avg', report.microAvg);
  text += metricRow('macro avg', report.macroAvg);
  text += metricRow('weighted avg', report.weightedAvg);
  if (report.samplesAvg) text += metricRow('samples avg', report.samplesAvg);
  return text;
}

/**
 * The dictionary sklearn's `classification_report(..., output_dict=True)` returns, for
 * logs that compare against Python runs. Keys keep sklearn's spelling (`f1-score`).
 *
 * @example
 * JSON.stringify(reportToDict(classificationReport(yTrue, yPred)));
 */
export function reportToDict(report: ClassificationReport): Record<string, Record<string, number> | number> {
  const dict: Record<string, Record<string, number> | number> = {};
  const entry = (m: MetricRow) => ({ precision: m.precision, recall: m.recall, 'f1-score': m.f1, support: m.support });
  for (const row of report.classes) dict[row.name] = entry(row);
  if (report.accuracy !== undefined) dict.accuracy = report.accuracy;
  if (report.microAvg) dict['micro avg'] = entry(report.microAvg);
  dict['macro avg'] = entry(report.macroAvg);
  dict['weighted avg'] = entry(report.weightedAvg);
  if (report.samplesAvg) dict['samples avg'] = entry(report.samplesAvg);
  return dict;
}

// ---- arithmetic shared with ner.ts ----

/** @internal Division with sklearn's `_prf_divide` rule: x/0 becomes the zero-division value. */
export function prfDivide(numerator: number, denominator: number, zeroDivision: ZeroDivision): number {
  return denominator === 0 ? (zeroDivision === 1 ? 1 : 0) : numerator / denominator;
}

/**
 * @internal numpy's pairwise summation (`np.sum` on float64), so averages round exactly
 * as sklearn's do: plain loop below 8 items, 8 accumulators up to 128, halves beyond.
 */
export function pairwiseSum(a: readonly number[], start = 0, n = a.length): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += a[start + i];
    return res;
  }
  if (n <= 128) {
    const r = a.slice(start, start + 8);
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (let j = 0; j < 8; j++) r[j] += a[start + i + j];
    }
    let res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++) res += a[start + i];
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(a, start, n2) + pairwiseSum(a, start + n2, n - n2);
}

/** @internal `np.mean`; NaN for no values, like numpy. */
export function mean(a: readonly number[]): number {
  return pairwiseSum(a) / a.length;
}

/** @internal `np.average(a, weights=w)`; undefined when the weights sum to zero. */
export function weightedMean(a: readonly number[], w: readonly number[]): number | undefined {
  const total = pairwiseSum(w);
  return total === 0 ? undefined : pairwiseSum(a.map((x, i) => x * w[i])) / total;
}

/** @internal Python's `'{:.Nf}'.format(x)`: ties round half to even, NaN prints `nan`. */
export function formatFixed(x: number, digits: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (Math.abs(x) >= 1e21) return x.toFixed(digits);
  // toFixed rounds an exact tie away from zero; 100 digits show whether x is a tie.
  const exact = x.toFixed(100);
  const point = exact.indexOf('.');
  const rest = exact.slice(point + 1 + digits);
  const keptDigit = Number(exact[digits === 0 ? point - 1 : point + digits]);
  if (/^50*$/.test(rest) && keptDigit % 2 === 0) {
    return exact.slice(0, digits === 0 ? point : point + 1 + digits);
  }
  return x.toFixed(digits);
}

// ---- helpers ----

function reportFromCounts(
  names: string[],
  tp: number[],
  predSum: number[],
  trueSum: number[],
  zeroDivision: ZeroDivision,
  digits: number,
): ClassificationReport {
  const perClass = prfPerClass(tp, predSum, trueSum, zeroDivision);
  const support = pairwiseSum(trueSum);
  const micro = prfPerClass([pairwiseSum(tp)], [pairwiseSum(predSum)], [support], zeroDivision);
  // With all supports zero, sklearn's _nanaverage falls back to the unweighted mean.
  const weighted = (a: number[]) => weightedMean(a, trueSum) ?? mean(a);
  return {
    classes: names.map((name, i) => ({
      name,
      precision: perClass.precision[i],
      recall: perClass.recall[i],
      f1: perClass.f1[i],
      support: trueSum[i],
    })),
    microAvg: { precision: micro.precision[0], recall: micro.recall[0], f1: micro.f1[0], support },
    macroAvg: { precision: mean(perClass.precision), recall: mean(perClass.recall), f1: mean(perClass.f1), support },
    weightedAvg: {
      precision: weighted(perClass.precision),
      recall: weighted(perClass.recall),
      f1: weighted(perClass.f1),
      support,
    },
    digits,
  };
}

// sklearn >= 1.3 computes F1 from counts, 2tp / (2tp + fp + fn), not from P and R.
function prfPerClass(tp: number[], predSum: number[], trueSum: number[], zeroDivision: ZeroDivision) {
  return {
    precision: tp.map((x, i) => prfDivide(x, predSum[i], zeroDivision)),
    recall: tp.map((x, i) => prfDivide(x, trueSum[i], zeroDivision)),
    f1: tp.map((x, i) => prfDivide(2 * x, trueSum[i] + predSum[i], zeroDivision)),
  };
}

function checkLabels(yTrue: readonly Label[], yPred: readonly Label[]): void {
  if (!Array.isArray(yTrue)) throw new TypeError(`Expected an array of labels for yTrue but received ${show(yTrue)}`);
  if (!Array.isArray(yPred)) throw new TypeError(`Expected an array of labels for yPred but received ${show(yPred)}`);
  if (yTrue.length === 0) throw new RangeError('Expected at least one label for yTrue but received an empty array');
  if (yPred.length !== yTrue.length) {
    throw new RangeError(
      `Expected an array of length ${yTrue.length} (the length of yTrue) for yPred but received length ${yPred.length}`,
    );
  }
  checkLabelValues(yTrue, 'yTrue');
  checkLabelValues(yPred, 'yPred');
  if (typeof yTrue[0] !== typeof yPred[0]) {
    throw new TypeError(`Expected labels of the same type as yTrue (${typeof yTrue[0]}) for yPred but received ${typeof yPred[0]}`);
  }
}

// sklearn treats non-integer numbers as continuous targets and refuses them.
function checkLabelValues(labels: readonly Label[], name: string): void {
  const kind = typeof labels[0];
  labels.forEach((label, i) => {
    if (typeof label !== 'number' && typeof label !== 'string') {
      throw new TypeError(`Expected an integer or a string for ${name}[${i}] but received ${show(label)}`);
    }
    if (typeof label !== kind) {
      throw new TypeError(`Expected a ${kind} like ${name}[0] for ${name}[${i}] but received ${show(label)}`);
    }
    if (typeof label === 'number' && !Number.isInteger(label)) {
      throw new RangeError(`Expected an integer for ${name}[${i}] but received ${label}`);
    }
  });
}

function checkGivenLabels(labels: readonly Label[], yTrue: readonly Label[]): Label[] {
  if (!Array.isArray(labels) || labels.length === 0) {
    throw new RangeError(`Expected a non-empty array for labels but received ${show(labels)}`);
  }
  checkLabelValues(labels, 'labels');
  if (typeof labels[0] !== typeof yTrue[0]) {
    throw new TypeError(`Expected ${typeof yTrue[0]} labels like yTrue for labels but received ${show(labels)}`);
  }
  if (new Set(labels).size !== labels.length) {
    throw new RangeError(`Expected distinct labels for labels but received ${show(labels)}`);
  }
  return [...labels];
}

function targetNamesFor(defaults: string[], targetNames: readonly string[] | undefined): string[] {
  if (targetNames === undefined) return defaults;
  if (!Array.isArray(targetNames) || targetNames.length !== defaults.length) {
    throw new RangeError(`Expected ${defaults.length} names (one per class) for targetNames but received ${show(targetNames)}`);
  }
  return targetNames.map(String);
}

function checkIndicator(yTrue: readonly (readonly number[])[], yPred: readonly (readonly number[])[]): number {
  for (const [rows, name] of [[yTrue, 'yTrue'], [yPred, 'yPred']] as const) {
    if (!Array.isArray(rows) || rows.length === 0) {
      throw new RangeError(`Expected a non-empty array of indicator rows for ${name} but received ${show(rows)}`);
    }
  }
  if (yPred.length !== yTrue.length) {
    throw new RangeError(`Expected ${yTrue.length} rows (the rows of yTrue) for yPred but received ${yPred.length} rows`);
  }
  const width = Array.isArray(yTrue[0]) ? yTrue[0].length : 0;
  // sklearn reads a single column as binary labels, not as multi-label indicators.
  if (width < 2) {
    throw new RangeError(
      `Expected a row of at least 2 indicators (use classificationReport for one column) for yTrue[0] but received ${show(yTrue[0])}`,
    );
  }
  for (const [rows, name] of [[yTrue, 'yTrue'], [yPred, 'yPred']] as const) {
    rows.forEach((row, r) => {
      if (!Array.isArray(row) || row.length !== width) {
        throw new RangeError(`Expected a row of ${width} indicators for ${name}[${r}] but received ${show(row)}`);
      }
      row.forEach((v, c) => {
        if (v !== 0 && v !== 1) throw new RangeError(`Expected 0 or 1 for ${name}[${r}][${c}] but received ${show(v)}`);
      });
    });
  }
  return width;
}

/** @internal */
export function checkZeroDivision(value: ZeroDivision | undefined): ZeroDivision {
  if (value === undefined) return 'warn';
  if (value !== 'warn' && value !== 0 && value !== 1) {
    throw new RangeError(`Expected 'warn', 0 or 1 for zeroDivision but received ${show(value)}`);
  }
  return value;
}

/** @internal */
export function checkDigits(value: number | undefined): number {
  if (value === undefined) return 2;
  if (!Number.isInteger(value) || value < 0 || value > 20) {
    throw new RangeError(`Expected an integer from 0 to 20 for digits but received ${show(value)}`);
  }
  return value;
}

// np.unique order: numbers ascending, strings by code point (JS `<` compares UTF-16 units).
function uniqueLabels(labels: readonly Label[]): Label[] {
  return [...new Set(labels)].sort((a, b) =>
    typeof a === 'number' && typeof b === 'number' ? a - b : compareCodePoints(String(a), String(b)),
  );
}

function compareCodePoints(a: string, b: string): number {
  const ca = [...a];
  const cb = [...b];
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) {
    const d = ca[i].codePointAt(0)! - cb[i].codePointAt(0)!;
    if (d !== 0) return d;
  }
  return ca.length - cb.length;
}

// Python pads by code points, not UTF-16 units.
function codePoints(s: string): number {
  return [...s].length;
}

function padLeft(s: string, width: number): string {
  return ' '.repeat(Math.max(0, width - codePoints(s))) + s;
}

/** @internal Short text of a bad argument for error messages. */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return value.length > 8 ? `an array of length ${value.length}` : JSON.stringify(value);
  return String(value);
}
