/**
 * Small helpers over Batch labels: how many rows / tokens a batch scores (the
 * weight of its mean loss when gradients are accumulated) and label copies as
 * plain typed arrays. No native calls except reading a labels Tensor.
 */
import type { Batch } from '../models/bert.js';
import { Tensor } from '../tensor.js';

/** Labels as Int32Array (class ids, token labels) or Float32Array (regression / multi-label targets). */
export function labelsToArray(labels: Batch['labels']): Int32Array | Float32Array | undefined {
  if (labels === undefined) return undefined;
  const raw = labels instanceof Tensor ? labels.toArray() : labels;
  if (raw instanceof Float32Array) return raw;
  if (raw instanceof Int32Array) return raw;
  if (raw instanceof Float64Array) return Float32Array.from(raw);
  if (raw instanceof BigInt64Array) return Int32Array.from(raw, (x) => Number(x));
  return Int32Array.from(raw as ArrayLike<number>);
}

/**
 * The number of loss terms a batch's mean loss averages over: its rows for
 * class labels and float targets, its tokens whose label is not -100 for
 * token labels. Weighting each micro-batch's mean loss by this over the
 * window's total makes accumulated gradients equal the big batch's.
 */
/** @internal Examples in a batch. */
export function batchRows(batch: Batch): number {
  return batch.shape?.[0] ?? (batch.inputIds instanceof Tensor ? batch.inputIds.shape[0] : 0);
}

export function lossTerms(batch: Batch): number {
  const { labels } = batch;
  if (labels === undefined) return 0;
  const rows = batchRows(batch);
  if (labels instanceof Float32Array) return rows;
  if (labels instanceof Tensor && labels.dtype.startsWith('float')) return labels.shape[0];
  const arr = labelsToArray(labels)!;
  if (arr.length === rows) return rows;
  let n = 0;
  for (let i = 0; i < arr.length; i++) if (arr[i] !== -100) n++;
  return n;
}
