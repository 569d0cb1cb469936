// `bertorch evaluate --output`: one row per example (text, true label,
// predicted label, its probability, whether they agree) as JSONL, or as a
// Parquet table with typed columns for a path ending in .parquet, so the
// errors can be read in pandas/Spark. Written under a temporary name and
// renamed: a failed run leaves nothing behind.

import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ClassificationDataset } from '../data/datasets.js';
import { ParquetTableWriter } from '../data/parquet-writer.js';
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
  if (rows.length !== data.length) throw new Error(`evaluate collected ${rows.length} predictions for ${data.length} examples`);
  return rows;
}

export async function writeEvaluationRows(file: string, rows: readonly EvaluationRow[]): Promise<void> {
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  if (file.toLowerCase().endsWith('.parquet')) {
    const table = new ParquetTableWriter(file, [
      { name: 'text', type: 'string' }, { name: 'label', type: 'string' }, { name: 'prediction', type: 'string' },
      { name: 'score', type: 'float' }, { name: 'correct', type: 'boolean' },
    ]);
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
