// Entity-level NER metrics that reproduce seqeval's numbers and text report.
//
// Pure TypeScript over string[][] tag sequences: no native addon, no state, synchronous.
// The default mode follows seqeval's get_entities (conlleval-like, the same spans for
// IOB1 and IOB2); `mode: 'strict'` follows seqeval.scheme.Tokens, which keeps only spans
// that are well formed under the scheme. See seqeval/metrics/sequence_labeling.py and
// seqeval/scheme.py. An entity is counted correct only if type, start and end all match.

import {
  checkDigits,
  checkZeroDivision,
  mean,
  pairwiseSum,
  prfDivide,
  show,
  weightedMean,
  type ClassificationReport,
  type MetricRow,
  type ZeroDivision,
} from './classification.js';

/** Tagging scheme of the sequences. IOB1 uses B- only between adjacent same-type entities. */
export type NerScheme = 'IOB1' | 'IOB2';

/** `'default'` matches conlleval (I- without B- starts an entity); `'strict'` does not. */
export type NerMode = 'default' | 'strict';

/** Averages seqeval reports. */
export type NerAverage = 'micro' | 'macro' | 'weighted';

/** A span of tokens; `end` is inclusive, as in seqeval's get_entities. */
export interface Entity {
  type: string;
  start: number;
  end: number;
}

/** Options of the NER scores. */
export interface NerOptions {
  /** @default 'default' */
  mode?: NerMode;
  /** Only changes the spans in strict mode. @default 'IOB2' */
  scheme?: NerScheme;
  /** @default 'warn' */
  zeroDivision?: ZeroDivision;
}

/** Options of {@link nerReport}. */
export interface NerReportOptions extends NerOptions {
  /** Decimal places of the text report, 0 to 20. @default 2 */
  digits?: number;
}

/** Options of {@link nerPrecision}, {@link nerRecall} and {@link nerF1}. */
export interface NerScoreOptions extends NerOptions {
  /** @default 'micro' */
  average?: NerAverage;
}

/**
 * The entities of one tag sequence.
 *
 * @param scheme @default 'IOB2'
 * @param mode @default 'default'
 * @throws {RangeError} if a tag is not `O`, `B-TYPE` or `I-TYPE` (or bare `B`/`I`).
 * @example
 * extractEntities(['B-PER', 'I-PER', 'O', 'B-LOC']);
 * // [{type: 'PER', start: 0, end: 1}, {type: 'LOC', start: 3, end: 3}]
 */
export function extractEntities(tags: readonly string[], scheme: NerScheme = 'IOB2', mode: NerMode = 'default'): Entity[] {
  checkScheme(scheme, mode);
  if (!Array.isArray(tags)) throw new TypeError(`Expected an array of tags for tags but received ${show(tags)}`);
  const tokens = tags.map((tag, i) => parseTag(tag, `tags[${i}]`));
  return mode === 'strict' ? strictEntities(tokens, STRICT[scheme]) : defaultEntities(tokens);
}

/**
 * seqeval's `classification_report`: per entity type (sorted), then micro, macro and
 * weighted averages. Print it with `formatClassificationReport`.
 *
 * With no entity in either input, `classes` is empty and the macro average is NaN
 * (seqeval's scores agree; its text report raises instead).
 *
 * @throws {RangeError} if the sentence counts or lengths differ, or a tag is malformed.
 * @example
 * const report = nerReport([['B-PER', 'I-PER', 'O']], [['B-PER', 'O', 'O']]);
 * report.microAvg.f1; // 0
 */
export function nerReport(
  yTrue: readonly (readonly string[])[],
  yPred: readonly (readonly string[])[],
  options: NerReportOptions = {},
): ClassificationReport & { microAvg: MetricRow } {
  const digits = checkDigits(options.digits);
  const counts = countEntities(yTrue, yPred, options);
  const zeroDivision = checkZeroDivision(options.zeroDivision);
  const perType = scores(counts.tp, counts.pred, counts.true, zeroDivision);
  const support = pairwiseSum(counts.true);
  const average = (kind: NerAverage): MetricRow => ({ ...averaged(counts, zeroDivision, kind), support });
  return {
    classes: counts.types.map((name, i) => ({
      name,
      precision: perType.precision[i],
      recall: perType.recall[i],
      f1: perType.f1[i],
      support: counts.true[i],
    })),
    microAvg: average('micro'),
    macroAvg: average('macro'),
    weightedAvg: average('weighted'),
    digits,
  };
}

/**
 * seqeval's `precision_score`: correct predicted entities over predicted entities.
 *
 * @throws {RangeError} as {@link nerReport}, or for an unknown `average`.
 * @example
 * nerPrecision([['B-PER', 'O']], [['B-PER', 'B-LOC']]); // 0.5
 */
export function nerPrecision(
  yTrue: readonly (readonly string[])[],
  yPred: readonly (readonly string[])[],
  options: NerScoreOptions = {},
): number {
  return score(yTrue, yPred, options).precision;
}

/**
 * seqeval's `recall_score`: correct predicted entities over true entities.
 *
 * @throws {RangeError} as {@link nerReport}, or for an unknown `average`.
 * @example
 * nerRecall([['B-PER', 'B-LOC']], [['B-PER', 'O']]); // 0.5
 */
export function nerRecall(
  yTrue: readonly (readonly string[])[],
  yPred: readonly (readonly string[])[],
  options: NerScoreOptions = {},
): number {
  return score(yTrue, yPred, options).recall;
}

/**
 * seqeval's `f1_score`: harmonic mean of entity precision and recall.
 *
 * @throws {RangeError} as {@link nerReport}, or for an unknown `average`.
 * @example
 * nerF1([['B-PER', 'B-LOC']], [['B-PER', 'O']]); // 0.6666666666666666
 */
export function nerF1(
  yTrue: readonly (readonly string[])[],
  yPred: readonly (readonly string[])[],
  options: NerScoreOptions = {},
): number {
  return score(yTrue, yPred, options).f1;
}

// ---- scores (seqeval/metrics/v1.py _precision_recall_fscore_support) ----

interface Counts {
  types: string[];
  tp: number[];
  pred: number[];
  true: number[];
}

function score(yTrue: readonly (readonly string[])[], yPred: readonly (readonly string[])[], options: NerScoreOptions) {
  const average = options.average ?? 'micro';
  if (average !== 'micro' && average !== 'macro' && average !== 'weighted') {
    throw new RangeError(`Expected 'micro', 'macro' or 'weighted' for average but received ${show(average)}`);
  }
  const counts = countEntities(yTrue, yPred, options);
  return averaged(counts, checkZeroDivision(options.zeroDivision), average);
}

// Unlike scikit-learn >= 1.3, seqeval derives F1 from precision and recall.
function scores(tp: number[], pred: number[], trueSum: number[], zeroDivision: ZeroDivision) {
  const precision = tp.map((x, i) => prfDivide(x, pred[i], zeroDivision));
  const recall = tp.map((x, i) => prfDivide(x, trueSum[i], zeroDivision));
  const f1 = precision.map((p, i) => (p + recall[i] === 0 ? 0 : (2 * p * recall[i]) / (p + recall[i])));
  return { precision, recall, f1 };
}

function averaged(counts: Counts, zeroDivision: ZeroDivision, average: NerAverage) {
  if (average === 'micro') {
    const s = scores([pairwiseSum(counts.tp)], [pairwiseSum(counts.pred)], [pairwiseSum(counts.true)], zeroDivision);
    return { precision: s.precision[0], recall: s.recall[0], f1: s.f1[0] };
  }
  const s = scores(counts.tp, counts.pred, counts.true, zeroDivision);
  if (average === 'macro') return { precision: mean(s.precision), recall: mean(s.recall), f1: mean(s.f1) };
  if (pairwiseSum(counts.true) === 0) {
    // seqeval's special case: no true entity at all.
    const value = zeroDivision === 1 ? 1 : 0;
    const noPredictions = pairwiseSum(counts.pred) === 0;
    return { precision: noPredictions ? value : 0, recall: value, f1: noPredictions ? value : 0 };
  }
  return {
    precision: weightedMean(s.precision, counts.true)!,
    recall: weightedMean(s.recall, counts.true)!,
    f1: weightedMean(s.f1, counts.true)!,
  };
}

function countEntities(
  yTrue: readonly (readonly string[])[],
  yPred: readonly (readonly string[])[],
  options: NerOptions,
): Counts {
  const scheme = options.scheme ?? 'IOB2';
  const mode = options.mode ?? 'default';
  checkScheme(scheme, mode);
  checkSequences(yTrue, yPred);
  // Entities keyed by sentence and span, grouped by type.
  const collect = (sequences: readonly (readonly string[])[], name: string) => {
    const byType = new Map<string, Set<string>>();
    sequences.forEach((tags, s) => {
      const tokens = tags.map((tag, i) => parseTag(tag, `${name}[${s}][${i}]`));
      const entities = mode === 'strict' ? strictEntities(tokens, STRICT[scheme]) : defaultEntities(tokens);
      for (const e of entities) {
        if (!byType.has(e.type)) byType.set(e.type, new Set());
        byType.get(e.type)!.add(`${s}:${e.start}:${e.end}`);
      }
    });
    return byType;
  };
  const truth = collect(yTrue, 'yTrue');
  const pred = collect(yPred, 'yPred');
  // Python's sorted() on str: code point order.
  const types = [...new Set([...truth.keys(), ...pred.keys()])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const counts: Counts = { types, tp: [], pred: [], true: [] };
  for (const type of types) {
    const t = truth.get(type) ?? new Set<string>();
    const p = pred.get(type) ?? new Set<string>();
    counts.tp.push([...p].filter((key) => t.has(key)).length);
    counts.pred.push(p.size);
    counts.true.push(t.size);
  }
  return counts;
}

// ---- spans ----

interface Token {
  prefix: 'B' | 'I' | 'O';
  type: string;
}

const OUTSIDE: Token = { prefix: 'O', type: '_' };

// seqeval names a tag's type after its prefix; a bare "B" or "I" (and "O") gets "_".
function parseTag(tag: string, name: string): Token {
  if (tag === 'O') return OUTSIDE;
  if (typeof tag === 'string' && (tag[0] === 'B' || tag[0] === 'I') && (tag.length === 1 || tag[1] === '-')) {
    return { prefix: tag[0], type: tag.slice(2) || '_' };
  }
  throw new RangeError(`Expected an IOB tag (O, B-TYPE or I-TYPE) for ${name} but received ${show(tag)}`);
}

// seqeval's get_entities with end_of_chunk/start_of_chunk, restricted to B, I and O.
function defaultEntities(tokens: readonly Token[]): Entity[] {
  const entities: Entity[] = [];
  let prev: Token = { prefix: 'O', type: '' };
  let begin = 0;
  [...tokens, OUTSIDE].forEach((token, i) => {
    const typeChanged = prev.type !== token.type;
    const ends = (prev.prefix !== 'O' && (token.prefix !== 'I' || typeChanged));
    const starts = token.prefix === 'B' || (token.prefix === 'I' && (prev.prefix === 'O' || typeChanged));
    if (ends) entities.push({ type: prev.type, start: begin, end: i - 1 });
    if (starts) begin = i;
    prev = token;
  });
  return entities;
}

// seqeval.scheme's pattern tables: [previous prefixes, current prefixes, type condition].
type Pattern = readonly [string, string, 'same' | 'diff' | 'any'];
interface StrictScheme {
  start: readonly Pattern[];
  inside: readonly Pattern[];
  end: readonly Pattern[];
}

const STRICT: Record<NerScheme, StrictScheme> = {
  IOB1: {
    start: [['O', 'I', 'any'], ['I', 'I', 'diff'], ['B', 'I', 'any'], ['I', 'B', 'same'], ['B', 'B', 'same']],
    inside: [['B', 'I', 'same'], ['I', 'I', 'same']],
    end: [['I', 'I', 'diff'], ['I', 'O', 'any'], ['I', 'B', 'any'], ['B', 'O', 'any'], ['B', 'I', 'diff'], ['B', 'B', 'same']],
  },
  IOB2: {
    start: [['BIO', 'B', 'any']],
    inside: [['B', 'I', 'same'], ['I', 'I', 'same']],
    end: [['I', 'O', 'any'], ['I', 'I', 'diff'], ['I', 'B', 'any'], ['B', 'O', 'any'], ['B', 'I', 'diff'], ['B', 'B', 'any']],
  },
};

function matches(patterns: readonly Pattern[], prev: Token, token: Token): boolean {
  return patterns.some(
    ([before, now, cond]) =>
      before.includes(prev.prefix) &&
      now.includes(token.prefix) &&
      (cond === 'any' || (cond === 'same') === (prev.type === token.type)),
  );
}

// seqeval.scheme.Tokens.entities: a span opens on a start pattern, grows while tokens are
// inside, and counts only if the token after it closes it by an end pattern.
function strictEntities(tokens: readonly Token[], scheme: StrictScheme): Entity[] {
  const ext = [...tokens, OUTSIDE];
  const entities: Entity[] = [];
  let prev = OUTSIDE;
  let i = 0;
  while (i < ext.length) {
    if (matches(scheme.start, prev, ext[i])) {
      let end = i + 1;
      while (matches(scheme.inside, ext[end - 1], ext[end])) end++; // the final O is never inside
      if (matches(scheme.end, ext[end - 1], ext[end])) entities.push({ type: ext[i].type, start: i, end: end - 1 });
      i = end;
    } else {
      i++;
    }
    prev = ext[i - 1];
  }
  return entities;
}

// ---- argument checks ----

function checkScheme(scheme: NerScheme, mode: NerMode): void {
  if (scheme !== 'IOB1' && scheme !== 'IOB2') {
    throw new RangeError(`Expected 'IOB1' or 'IOB2' for scheme but received ${show(scheme)}`);
  }
  if (mode !== 'default' && mode !== 'strict') {
    throw new RangeError(`Expected 'default' or 'strict' for mode but received ${show(mode)}`);
  }
}

function checkSequences(yTrue: readonly (readonly string[])[], yPred: readonly (readonly string[])[]): void {
  for (const [value, name] of [[yTrue, 'yTrue'], [yPred, 'yPred']] as const) {
    if (!Array.isArray(value) || !value.every(Array.isArray)) {
      throw new TypeError(`Expected an array of tag arrays for ${name} but received ${show(value)}`);
    }
  }
  if (yPred.length !== yTrue.length) {
    throw new RangeError(`Expected ${yTrue.length} sentences (as in yTrue) for yPred but received ${yPred.length}`);
  }
  yTrue.forEach((tags, s) => {
    if (yPred[s].length !== tags.length) {
      throw new RangeError(`Expected ${tags.length} tags (as in yTrue[${s}]) for yPred[${s}] but received ${yPred[s].length}`);
    }
  });
}
