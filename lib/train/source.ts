/**
 * BatchSource: what the Trainer reads batches from. lib/data's DataLoader has
 * this shape; any object that does works (array-source.ts is the in-memory
 * one the tests use, mlm-batches.ts the one scripts/main.ts pretrains with).
 * A source is resumable: state() after a batch names the next batch, and
 * resume(state) makes the next iteration start there, so a checkpoint can
 * record the data position and a resumed run sees the same batches.
 */
import type { Batch } from '../models/bert.js';

export type { Batch };

/** Where a source is: the epoch and the index of the next batch in it. */
export interface DataPosition {
  epoch: number;
  index: number;
}

/**
 * A resumable, epoch-aware stream of batches (lib/data's DataLoader).
 *
 * Contract the Trainer relies on:
 * - `setEpoch(e)` makes the next iteration yield epoch e from its first batch
 *   (a shuffling source reshuffles with a seed derived from e);
 * - `state()` is `{epoch, index}` of the next batch the iteration will yield;
 * - `resume(s)` makes the next iteration yield epoch s.epoch from batch
 *   s.index on, exactly the batches an uninterrupted run would have yielded;
 * - `length` is the number of batches in one epoch.
 */
export interface BatchSource {
  readonly length: number;
  setEpoch(epoch: number): void;
  state(): DataPosition;
  resume(state: DataPosition): void;
  [Symbol.asyncIterator](): AsyncIterator<Batch>;
}

/** Anything evaluate() and predict() can read: a BatchSource or plain batches. */
export type EvalData = BatchSource | Iterable<Batch> | AsyncIterable<Batch>;

export function isBatchSource(x: unknown): x is BatchSource {
  const s = x as BatchSource;
  return !!s && typeof s === 'object' && typeof s.setEpoch === 'function' && typeof s.state === 'function' &&
    typeof s.resume === 'function' && typeof s[Symbol.asyncIterator] === 'function' && Number.isInteger(s.length);
}
