// `bertorch evaluate --output`: one row per example (text, true label,
// prediction, its probability, whether they agree) as JSONL, or as a
// Parquet table with typed columns for a path ending in .parquet, so the
// errors can be read in pandas/Spark. Each head has its own columns:
// label lists of a multi-label model and tag sequences of a token
// classifier are JSON text (as predict writes them), regression values are
// doubles. Written under a temporary name and renamed: a failed run leaves
// nothing behind.

import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { TokenClassificationDataset } from '../data/conll.js';
import type { ClassificationDataset } from '../data/datasets.js';
import { ParquetTableWriter, type ParquetColumn } from '../data/parquet-writer.js';
import { softmax } from '../serve/postprocess.js';

/** A batch of logits as Trainer.collect keeps it: (rows, labels). */
interface LogitBatch {
  logits: Float32Array;
  shape: readonly number[];
}

export interface EvaluationRow {
  text: string;
  label: string;
  prediction: string;
  score: number;
  correct: boolean;
}

/** Rows of one evaluation and their typed columns. */
export interface EvaluationTable {
  columns: ParquetColumn[];
  rows: Array<Record<string, unknown>>;
}

const CLASS_COLUMNS: ParquetColumn[] = [
  { name: 'text', type: 'string' }, { name: 'label', type: 'string' }, { name: 'prediction', type: 'string' },
  { name: 'score', type: 'float' }, { name: 'correct', type: 'boolean' },
];

function checkCount(rows: number, examples: number): void {
  if (rows !== examples) throw new Error(`evaluate collected ${rows} predictions for ${examples} examples`);
}

/** A single-label classifier's rows as a table. */
export function singleLabelTable(data: ClassificationDataset, batches: readonly LogitBatch[], names: readonly string[]): EvaluationTable {
  return { columns: CLASS_COLUMNS, rows: evaluationRows(data, batches, names) as unknown as Array<Record<string, unknown>> };
}

/** Multi-label: gold and predicted (logit > 0) label lists as JSON text; score is the highest label probability. */
export function multiLabelTable(data: ClassificationDataset, batches: readonly LogitBatch[], names: readonly string[]): EvaluationTable {
  const rows: Array<Record<string, unknown>> = [];
  for (const { logits, shape } of batches) {
    const L = shape[1];
    for (let r = 0; r < shape[0]; r++) {
      const example = data.get(rows.length);
      const hot = example.label as Float32Array;
      const gold = names.filter((_, k) => hot[k] > 0.5);
      const row = logits.subarray(r * L, (r + 1) * L);
      const predicted = names.filter((_, k) => row[k] > 0);
      const score = 1 / (1 + Math.exp(-Math.max(...row)));
      rows.push({ text: example.text, label: JSON.stringify(gold), prediction: JSON.stringify(predicted), score,
        correct: gold.length === predicted.length && gold.every((g, k) => g === predicted[k]) });
    }
  }
  checkCount(rows.length, data.length);
  return { columns: CLASS_COLUMNS, rows };
}

/** Regression: the value, the prediction and their difference, as doubles. */
export function regressionTable(data: ClassificationDataset, batches: readonly LogitBatch[]): EvaluationTable {
  const rows: Array<Record<string, unknown>> = [];
  for (const { logits, shape } of batches) {
    const L = shape.length > 1 ? shape[1] : 1;
    for (let r = 0; r < shape[0]; r++) {
      const example = data.get(rows.length);
      const label = Number(example.label);
      const prediction = logits[r * L];
      rows.push({ text: example.text, label, prediction, error: prediction - label });
    }
  }
  checkCount(rows.length, data.length);
  return { columns: [{ name: 'text', type: 'string' }, { name: 'label', type: 'double' }, { name: 'prediction', type: 'double' }, { name: 'error', type: 'double' }], rows };
}

/** Token classification: the words, and gold and predicted tags per word as JSON text; correct when every tag agrees. */
export function tokenTable(data: TokenClassificationDataset, yTrue: readonly string[][], yPred: readonly string[][]): EvaluationTable {
  checkCount(yPred.length, data.length);
  const rows = yTrue.map((gold, k) => ({
    text: data.get(k).words.join(' '), label: JSON.stringify(gold), prediction: JSON.stringify(yPred[k]),
    correct: gold.every((tag, t) => tag === yPred[k][t]),
  }));
  return { columns: [{ name: 'text', type: 'string' }, { name: 'label', type: 'string' }, { name: 'prediction', type: 'string' }, { name: 'correct', type: 'boolean' }], rows };
}

/** The rows of a single-label classifier's evaluation, in data order. */
export function evaluationRows(data: ClassificationDataset, batches: readonly LogitBatch[], names: readonly string[]): EvaluationRow[] {
  const rows: EvaluationRow[] = [];
  for (const { logits, shape } of batches) {
    const L = shape[1];
    for (let r = 0; r < shape[0]; r++) {
      const p = softmax(logits.subarray(r * L, (r + 1) * L));
      let k = 0;
      for (let j = 1; j < L; j++) if (p[j] > p[k]) k = j;
      const example = data.get(rows.length);
      const label = names[example.label as number];
      rows.push({ text: example.text, label, prediction: names[k], score: p[k], correct: label === names[k] });
    }
  }
  checkCount(rows.length, data.length);
  return rows;
}

export async function writeEvaluationRows(file: string, { columns, rows }: EvaluationTable): Promise<void> {
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  if (file.toLowerCase().endsWith('.parquet')) {
    const table = new ParquetTableWriter(file, columns);
    try {
      for (const row of rows) table.write({ ...row });
      await table.close();
    } catch (error) {
      await table.abort();
      throw error;
    }
    return;
  }
  const temp = `${file}.tmp-${process.pid}`;
  try {
    await writeFile(temp, rows.map((row) => JSON.stringify(row)).join('\n') + '\n');
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
