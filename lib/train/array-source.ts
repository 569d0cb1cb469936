/**
 * ArraySource: an in-memory BatchSource over an array of examples, with a
 * seeded per-epoch shuffle and exact resume. For tests and small labeled sets
 * (a fine-tuning set of a few thousand examples); large corpora go through
 * lib/data's DataLoader. Plain typed arrays out, no native code.
 */
import { invalidRange, invalidType } from '../errors.js';
import { mixSeed, mulberry32, permutation } from './rng.js';
import type { Batch, BatchSource, DataPosition } from './source.js';

/** A tokenized example: ids, and a class label or per-token labels. */
export interface Example {
  inputIds: ArrayLike<number>;
  tokenTypeIds?: ArrayLike<number>;
  /** A class id (sequence classification). */
  label?: number;
  /** Per-token label ids, -100 where ignored (token classification, MLM). */
  labels?: ArrayLike<number>;
}

export interface ArraySourceOptions<E> {
  /** @default 8 */
  batchSize?: number;
  /** Reshuffle each epoch with a seed derived from (seed, epoch). @default false */
  shuffle?: boolean;
  /** @default 0 */
  seed?: number;
  /** Drop the last incomplete batch. @default false */
  dropLast?: boolean;
  /**
   * Examples to a Batch; `position` ({epoch, index} of this batch) lets a collate
   * draw per-batch randomness that a resumed run repeats (MLM masking).
   * @default {@link collateExamples} (for {@link Example}s)
   */
  collate?: (examples: E[], position: DataPosition) => Batch;
}

/**
 * Pads a list of {@link Example}s to the longest one (right padding with
 * `padId`, attention mask 0 and label -100 on padding).
 * @example collateExamples([{ inputIds: [2, 7, 3], label: 1 }])
 */
export function collateExamples(examples: readonly Example[], padId = 0): Batch {
  const B = examples.length;
  const T = Math.max(1, ...examples.map((e) => e.inputIds.length));
  const inputIds = new BigInt64Array(B * T).fill(BigInt(padId));
  const attentionMask = new BigInt64Array(B * T);
  const tokenTypeIds = new BigInt64Array(B * T);
  const tokenLabels = examples[0]?.labels !== undefined;
  const classLabels = examples[0]?.label !== undefined;
  const labels = tokenLabels ? new BigInt64Array(B * T).fill(-100n) : classLabels ? new BigInt64Array(B) : undefined;
  examples.forEach((e, b) => {
    for (let t = 0; t < e.inputIds.length; t++) {
      inputIds[b * T + t] = BigInt(e.inputIds[t]);
      attentionMask[b * T + t] = 1n;
      if (e.tokenTypeIds) tokenTypeIds[b * T + t] = BigInt(e.tokenTypeIds[t]);
      if (tokenLabels && labels) labels[b * T + t] = BigInt(e.labels![t]);
    }
    if (classLabels && labels) labels[b] = BigInt(e.label!);
  });
  return { inputIds, attentionMask, tokenTypeIds, labels, shape: [B, T] };
}

/**
 * A resumable in-memory batch source.
 * @example
 * const train = new ArraySource(examples, { batchSize: 16, shuffle: true, seed: 1 });
 * await new Trainer(model, { epochs: 3 }).fit(train);
 */
export class ArraySource<E = Example> implements BatchSource {
  readonly items: readonly E[];
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;
  #collate: (examples: E[], position: DataPosition) => Batch;
  #epoch = 0;
  #index = 0;

  constructor(items: readonly E[], o: ArraySourceOptions<E> = {}) {
    if (!Array.isArray(items)) invalidType('an array of examples', 'items', items);
    this.items = items;
    this.batchSize = o.batchSize ?? 8;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) invalidRange('a positive integer', 'batchSize', o.batchSize);
    this.shuffle = o.shuffle ?? false;
    this.seed = o.seed ?? 0;
    this.dropLast = o.dropLast ?? false;
    this.#collate = o.collate ?? ((xs) => collateExamples(xs as Example[]));
  }

  /** A source yielding these ready-made batches in order, every epoch. */
  static fromBatches(batches: readonly Batch[]): ArraySource<Batch> {
    return new ArraySource(batches, { batchSize: 1, collate: (xs) => xs[0] });
  }

  get length(): number {
    const n = this.items.length / this.batchSize;
    return this.dropLast ? Math.floor(n) : Math.ceil(n);
  }

  setEpoch(epoch: number): void {
    if (!Number.isInteger(epoch) || epoch < 0) invalidRange('a non-negative integer', 'epoch', epoch);
    this.#epoch = epoch;
    this.#index = 0;
  }

  state(): DataPosition { return { epoch: this.#epoch, index: this.#index }; }

  resume(s: DataPosition): void {
    if (!s || !Number.isInteger(s.epoch) || s.epoch < 0 || !Number.isInteger(s.index) || s.index < 0)
      invalidType('{epoch, index} of non-negative integers', 'state', s);
    this.#epoch = s.epoch;
    this.#index = s.index;
  }

  /** The order of examples in an epoch: a permutation seeded by (seed, epoch), or identity. */
  order(epoch: number): Int32Array {
    if (this.shuffle) return permutation(this.items.length, mulberry32(mixSeed(this.seed, epoch)));
    return Int32Array.from({ length: this.items.length }, (_, i) => i);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Batch> {
    const order = this.order(this.#epoch);
    while (this.#index < this.length) {
      const start = this.#index * this.batchSize;
      const idx = order.subarray(start, Math.min(start + this.batchSize, order.length));
      const position = { epoch: this.#epoch, index: this.#index };
      this.#index++;  // state() now names the next batch
      yield this.#collate(Array.from(idx, (i) => this.items[i]), position);
    }
  }
}
