// Metrics the CLI computes from collected predictions, for finetune's
// evaluations and evaluate's report.

import { nerReport } from '../metrics/index.js';
import type { TokenClassificationDataset } from '../data/index.js';
import { argmaxRows, type EvalPrediction, type PredictionBatch } from '../train/index.js';

/**
 * Word-level tags of each sentence: the truth from the dataset, the prediction
 * from each word's first word piece (rows in dataset order); words cut off by
 * --max-length count as predicted 'O', so truncation shows as missed entities.
 */
export function nerTags(batches: readonly PredictionBatch[], data: TokenClassificationDataset, names: readonly string[]): { yTrue: string[][]; yPred: string[][] } {
  const yTrue: string[][] = [];
  const yPred: string[][] = [];
  let row = 0;
  for (const bt of batches) {
    const [B, T, C] = bt.shape;
    const pred = argmaxRows(bt.logits, C);
    for (let r = 0; r < B; r++, row++) {
      const truth = Array.from(data.get(row).labels, (id) => data.labels[id]);
      const tags: string[] = [];
      for (let t = 0; t < T && tags.length < truth.length; t++) if (bt.labels![r * T + t] !== -100) tags.push(names[pred[r * T + t]] ?? 'O');
      while (tags.length < truth.length) tags.push('O');
      yTrue.push(truth);
      yPred.push(tags);
    }
  }
  return { yTrue, yPred };
}

export function nerMetrics(p: EvalPrediction, data: TokenClassificationDataset, names: readonly string[]): Record<string, number> {
  const { yTrue, yPred } = nerTags(p.batches, data, names);
  const r = nerReport(yTrue, yPred, { zeroDivision: 0 });
  let right = 0, total = 0;
  yTrue.forEach((tags, k) => tags.forEach((tag, t) => { total++; if (yPred[k][t] === tag) right++; }));
  return { precision: r.microAvg.precision, recall: r.microAvg.recall, f1: r.microAvg.f1, accuracy: total ? right / total : 0 };
}

export function regressionMetrics(batches: readonly PredictionBatch[]): Record<string, number> {
  let se = 0, ae = 0, k = 0, sum = 0, sumSq = 0;
  for (const bt of batches) {
    for (let r = 0; r < bt.logits.length; r++) {
      const y = bt.labels![r];
      const d = bt.logits[r] - y;
      se += d * d; ae += Math.abs(d); sum += y; sumSq += y * y; k++;
    }
  }
  const variance = sumSq / k - (sum / k) ** 2;
  return { mse: se / k, mae: ae / k, r2: 1 - se / k / variance };
}
