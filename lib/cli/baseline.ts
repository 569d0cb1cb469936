// The TF-IDF + logistic-regression baseline of finetune and evaluate (issue
// 23 item 4): fitted on the training file, scored on the evaluation data,
// printed beside the model's scores; --no-baseline turns it off. Finetune
// records the training file in <out>/baseline.json so that evaluate refits
// the same baseline without being told.

import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TextBaseline, type BaselineEvaluation } from '../baseline/index.js';
import type { ClassificationDataset } from '../data/index.js';
import { say, type Io } from './command.js';
import type { Values } from './options.js';

export const BASELINE_FILE = 'baseline.json';

/** Texts (a pair joined by a space) and class ids of a single-label dataset. */
export function textsAndLabels(ds: ClassificationDataset): { texts: string[]; labels: Int32Array } {
  const texts: string[] = [];
  const labels = new Int32Array(ds.length);
  for (let k = 0; k < ds.length; k++) {
    const e = ds.get(k);
    texts.push(e.pair ? `${e.text} ${e.pair}` : e.text);
    labels[k] = e.label as number;
  }
  return { texts, labels };
}

/** Fits the baseline on `train` and scores it on `data`. */
export function fitBaseline(train: ClassificationDataset, data: ClassificationDataset, names: readonly string[], digits = 4): BaselineEvaluation {
  const tr = textsAndLabels(train);
  const te = textsAndLabels(data);
  return new TextBaseline().fit(tr.texts, tr.labels).evaluate(te.texts, te.labels, names, digits);
}

/** One line: accuracy and macro F1 of the baseline (and the model's, when given). */
export function baselineLine(b: BaselineEvaluation, model?: { accuracy?: number; f1?: number }): string {
  const f = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '?' : x.toFixed(4));
  const base = `baseline (${b.name}, fitted in ${b.fitSeconds.toFixed(1)} s): accuracy ${f(b.accuracy)}, macro F1 ${f(b.macroF1)}`;
  if (!model) return base;
  const lift = model.accuracy !== undefined ? ` (${model.accuracy >= b.accuracy ? '+' : ''}${((model.accuracy - b.accuracy) * 100).toFixed(1)} points over the baseline)` : '';
  return `model: accuracy ${f(model.accuracy)}, macro F1 ${f(model.f1)}${lift}; ${base}`;
}

/** Remembers the training file beside the fine-tuned model (for evaluate). */
export async function recordBaseline(out: string, v: Values, b: BaselineEvaluation): Promise<void> {
  const record = { train: path.resolve(v.train), textColumn: v.textColumn, textPairColumn: v.textPairColumn, labelColumn: v.labelColumn, accuracy: b.accuracy, macroF1: b.macroF1 };
  await writeFile(path.join(out, BASELINE_FILE), JSON.stringify(record, null, 2) + '\n');
}

/** The training file finetune recorded in a model folder, if any. */
export async function recordedTrainFile(dir: string, io: Io, v: Values): Promise<string | undefined> {
  try {
    const r = JSON.parse(await readFile(path.join(dir, BASELINE_FILE), 'utf8'));
    return typeof r.train === 'string' ? r.train : undefined;
  } catch (e) {
    if ((e as { code?: string }).code !== 'ENOENT') say(io, v, `ignoring ${path.join(dir, BASELINE_FILE)}: ${(e as Error).message}`);
    return undefined;
  }
}
