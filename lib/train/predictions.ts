/**
 * What evaluate() and predict() collect from forward passes, as plain typed
 * arrays copied out of the logits tensors (which are disposed at once), and
 * the default metrics over them: accuracy and macro precision / recall / F1
 * through lib/metrics (sklearn's numbers), masked-token accuracy for MLM.
 */
import { invalidRange, invalidType } from '../errors.js';
import { classificationReport } from '../metrics/index.js';

/** One batch's logits and labels. */
export interface PredictionBatch {
  /** Row-major logits, shape (B, C) for sequence heads, (B, T, C) for token heads. */
  logits: Float32Array;
  shape: number[];
  /** Class ids (B) or token labels (B * T, -100 ignored); float targets for regression. */
  labels?: Int32Array | Float32Array;
  /** (B * T) attention mask, for token-level heads. */
  attentionMask?: Int32Array;
}

/** Everything a computeMetrics hook sees. */
export interface EvalPrediction {
  batches: PredictionBatch[];
  /** Mean loss over the labeled rows / tokens (NaN without labels). */
  loss: number;
  /** Model architecture name, e.g. 'BertForSequenceClassification'. */
  architecture: string;
  /** id -> label name, from the model config. */
  labelNames?: string[];
}

/** Index of the largest of each row of `size` values. */
export function argmaxRows(data: Float32Array, size: number): Int32Array {
  if (!(data instanceof Float32Array)) invalidType('a Float32Array', 'data', data);
  // A size that does not divide the data (0.001 made a billion rows) is a caller's bug.
  if (!Number.isInteger(size) || size < 1 || data.length % size !== 0) invalidRange(`a positive integer that divides data.length (${data.length})`, 'size', size);
  const rows = data.length / size;
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    const o = r * size;
    for (let c = 1; c < size; c++) if (data[o + c] > data[o + best]) best = c;
    out[r] = best;
  }
  return out;
}

/**
 * Predicted and true ids over every scored row: each example for sequence
 * heads; each token whose label is not -100 for token heads (and MLM).
 */
export function flattenPredictions(p: Pick<EvalPrediction, 'batches'>): { predictions: Int32Array; labels: Int32Array } {
  const preds: number[] = [];
  const labels: number[] = [];
  for (const b of p.batches) {
    const c = b.shape[b.shape.length - 1];
    const ids = argmaxRows(b.logits, c);
    if (!b.labels || b.labels instanceof Float32Array) continue;
    for (let i = 0; i < ids.length; i++) {
      if (b.labels[i] === -100) continue;
      preds.push(ids[i]);
      labels.push(b.labels[i]);
    }
  }
  return { predictions: Int32Array.from(preds), labels: Int32Array.from(labels) };
}

/**
 * The default computeMetrics: `accuracy`, and for classifiers macro-averaged
 * `precision`, `recall`, `f1` (sklearn's classification_report numbers). For
 * masked-LM heads only `accuracy` (of masked tokens) and `perplexity`; for
 * replaced-token detection none (its loss is the measure).
 */
export function defaultMetrics(p: EvalPrediction): Record<string, number> {
  // Its logits are the discriminator's per token, its labels the generator's targets: only the loss compares.
  if (p.architecture === 'BertForReplacedTokenDetection') return {};
  const { predictions, labels } = flattenPredictions(p);
  if (labels.length === 0) return {};
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if (predictions[i] === labels[i]) correct++;
  const accuracy = correct / labels.length;
  if (p.architecture === 'BertForMaskedLM' || p.architecture === 'BertForPreTraining')
    return { accuracy, perplexity: Math.exp(p.loss) };
  const r = classificationReport(Array.from(labels), Array.from(predictions), { zeroDivision: 0 });
  return { accuracy, precision: r.macroAvg.precision, recall: r.macroAvg.recall, f1: r.macroAvg.f1 };
}
