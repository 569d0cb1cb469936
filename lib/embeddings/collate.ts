/**
 * Right-padding of token-id rows into one (B, T) batch: Int32 ids, attention
 * mask 0 on padding, token types 0, optional per-row labels. Plain typed
 * arrays, no native code (the SentenceEncoder's and the ranking batches').
 */
import type { Batch } from '../models/bert.js';

/** Pads `rows` to the longest; `labels` (one per row) become batch.labels. */
export function collateIds(rows: readonly ArrayLike<number>[], padId: number, labels?: readonly number[]): Batch & { shape: [number, number] } {
  const B = rows.length;
  const T = Math.max(1, ...rows.map((r) => r.length));
  const inputIds = new Int32Array(B * T).fill(padId);
  const attentionMask = new Int32Array(B * T);
  const tokenTypeIds = new Int32Array(B * T);
  rows.forEach((r, b) => {
    inputIds.set(r, b * T);
    attentionMask.fill(1, b * T, b * T + r.length);
  });
  const batch: Batch & { shape: [number, number] } = { inputIds, attentionMask, tokenTypeIds, shape: [B, T] };
  if (labels) batch.labels = Int32Array.from(labels);
  return batch;
}
