/**
 * From logits to answers, as HF's text-classification and token-classification
 * pipelines give them: class probabilities (softmax; sigmoid for multi-label
 * and one-logit heads; raw values for regression) and named entities (the
 * prediction of each word's first word piece, grouped by IOB2 into spans with
 * character offsets into the text). Pure functions over typed arrays; softmax
 * runs in float64, so a row's answer depends only on its logits.
 */
import type { ProblemType } from '../models/config.js';

/** A single-label answer: the best label, its probability, and every label's. */
export interface LabelPrediction {
  label: string;
  score: number;
  probabilities: Record<string, number>;
}

/** A multi-label answer: every label whose sigmoid probability is above the threshold (best first). */
export interface MultiLabelPrediction extends LabelPrediction {
  labels: string[];
}

/** A regression answer: the value (an array for a head with several outputs). */
export interface RegressionPrediction {
  value: number | number[];
}

/** What a sequence classifier answers for one text. */
export type SequencePrediction = LabelPrediction | MultiLabelPrediction | RegressionPrediction;

/** A named entity: `text.slice(start, end) === text` (UTF-16 offsets); score is the mean of its words' probabilities. */
export interface ServedEntity {
  type: string;
  start: number;
  end: number;
  text: string;
  score: number;
}

/** How a head's logits become an answer: HF pipeline's `function_to_apply` plus the label names. */
export interface HeadSpec {
  /** Label names in id order (config.id2label). */
  labels: readonly string[];
  /** `softmax` (single-label), `sigmoid` (multi-label, or one logit), `none` (regression). */
  activation: 'softmax' | 'sigmoid' | 'none';
  multiLabel: boolean;
  /** Multi-label cut-off. @default 0.5 */
  threshold: number;
}

/** Label names in id order from config.id2label (`LABEL_i` for gaps), as HF reads them. */
export function labelNames(id2label: Record<string, string> | undefined, numLabels: number): string[] {
  return Array.from({ length: numLabels }, (_, i) => id2label?.[String(i)] ?? `LABEL_${i}`);
}

/**
 * The head's activation, after HF's TextClassificationPipeline: regression gives raw
 * values; multi-label, and a single-logit head, a sigmoid; otherwise a softmax.
 */
export function headSpec(labels: readonly string[], problemType: ProblemType | null | undefined, threshold = 0.5): HeadSpec {
  if (problemType === 'regression') return { labels, activation: 'none', multiLabel: false, threshold };
  if (problemType === 'multi_label_classification') return { labels, activation: 'sigmoid', multiLabel: true, threshold };
  return { labels, activation: labels.length === 1 ? 'sigmoid' : 'softmax', multiLabel: false, threshold };
}

/** Softmax of `row` in float64 (max-subtracted). */
export function softmax(row: ArrayLike<number>): Float64Array {
  const out = new Float64Array(row.length);
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]);
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += out[i] = Math.exp(row[i] - max);
  for (let i = 0; i < row.length; i++) out[i] /= sum;
  return out;
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** The answer for one (C) logits row of a sequence classifier. */
export function sequencePrediction(row: ArrayLike<number>, head: HeadSpec): SequencePrediction {
  if (head.activation === 'none') return { value: row.length === 1 ? row[0] : Array.from(row) };
  const p = head.activation === 'softmax' ? softmax(row) : Float64Array.from(row, sigmoid);
  const probabilities: Record<string, number> = {};
  let best = 0;
  for (let i = 0; i < p.length; i++) {
    probabilities[head.labels[i]] = p[i];
    if (p[i] > p[best]) best = i;
  }
  const out: LabelPrediction = { label: head.labels[best], score: p[best], probabilities };
  if (!head.multiLabel) return out;
  const order = Array.from(p.keys()).filter((i) => p[i] > head.threshold).sort((a, b) => p[b] - p[a]);
  return { ...out, labels: order.map((i) => head.labels[i]) };
}

/** One sequence of a token classifier's output, with its encoding's alignment. */
export interface TokenLogits {
  /** The text that was encoded (offsets index into it). */
  text: string;
  /** Row-major (T, C) logits; rows past `wordIds.length` (padding) are ignored. */
  logits: ArrayLike<number>;
  /** C. */
  numLabels: number;
  /** Word index of each token, `null` on special tokens (Encoding.wordIds). */
  wordIds: ArrayLike<number | null>;
  /** `[start, end)` of each token in `text` (Encoding.offsets). */
  offsets: ArrayLike<readonly [number, number]>;
  /** Tag names in id order: `O`, `B-X`, `I-X` (a bare `X` is read as `I-X`). */
  labels: readonly string[];
}

interface Word {
  start: number;
  end: number;
  tag: string;
  score: number;
}

// One tag and probability per word, from its first word piece (HF aggregation_strategy 'first').
function words(s: TokenLogits): Word[] {
  const out: Word[] = [];
  let previous: number | null = null;
  for (let t = 0; t < s.wordIds.length; t++) {
    const w = s.wordIds[t];
    if (w === null || w === undefined) {
      previous = null;
      continue;
    }
    const [start, end] = s.offsets[t];
    if (w === previous) {
      out[out.length - 1].end = Math.max(out[out.length - 1].end, end);
      continue;
    }
    previous = w;
    const row = Array.prototype.slice.call(s.logits, t * s.numLabels, (t + 1) * s.numLabels) as number[];
    const p = softmax(row);
    let best = 0;
    for (let c = 1; c < p.length; c++) if (p[c] > p[best]) best = c;
    out.push({ start, end, tag: s.labels[best] ?? 'O', score: p[best] });
  }
  return out;
}

/**
 * Named entities of one sequence: each word takes the tag of its first word
 * piece; `B-X` opens an entity, `I-X` continues an open X entity (and opens
 * one otherwise, as conlleval and seqeval's default mode read it), `O` closes.
 * @example
 * groupEntities({ text: 'Ada Lovelace', logits, numLabels: 3, wordIds: [null, 0, 1, null], offsets, labels: ['O', 'B-PER', 'I-PER'] });
 * // [{ type: 'PER', start: 0, end: 12, text: 'Ada Lovelace', score: 0.97 }]
 */
export function groupEntities(s: TokenLogits): ServedEntity[] {
  const entities: ServedEntity[] = [];
  let open: { type: string; start: number; end: number; scores: number[] } | null = null;
  const close = () => {
    if (!open) return;
    const score = open.scores.reduce((a, b) => a + b, 0) / open.scores.length;
    entities.push({ type: open.type, start: open.start, end: open.end, text: s.text.slice(open.start, open.end), score });
    open = null;
  };
  for (const w of words(s)) {
    if (w.tag === 'O') {
      close();
      continue;
    }
    const m = /^([BI])-(.+)$/.exec(w.tag);
    const [prefix, type] = m ? [m[1], m[2]] : ['I', w.tag];
    if (prefix === 'I' && open && open.type === type) {
      open.end = w.end;
      open.scores.push(w.score);
      continue;
    }
    close();
    open = { type, start: w.start, end: w.end, scores: [w.score] };
  }
  close();
  return entities;
}
