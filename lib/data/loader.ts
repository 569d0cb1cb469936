// DataLoader: batches of a dataset, in a seeded order, for one rank of a
// data-parallel job, prepared ahead while the training step runs.
// Order: PyTorch's DistributedSampler (shuffle by seed + epoch, pad by
// repeating to a multiple of worldSize, rank r takes every worldSize-th
// index from r), then optional length bucketing (HF's LengthGroupedSampler
// idea: sort within mega-batches of 50 batches, shuffle the batches).
// Batches are built off the critical path: the next `prefetch` batches are
// started (on setImmediate, so synchronous collation runs while the consumer
// awaits) before the current one is handed over. state()/resume() record how
// many batches of the epoch were consumed, so a resumed run continues exactly.

import type { Batch, Collate } from './collate.js';
import { Rng } from './masking.js';
import { optionalBoolean, optionalInteger, optionsObject, rangeError, typeError } from '../validate.js';

/** What a DataLoader needs of a dataset. `get` receives the epoch (for per-epoch masking). */
export interface LoaderDataset<T> {
  readonly length: number;
  get(i: number, epoch: number): T | Promise<T>;
  /** Example length, used by `bucketByLength: true`. */
  lengthOf?(i: number): number;
}

/** Options of {@link DataLoader}. */
export interface DataLoaderOptions<T> {
  /** Examples per batch (per rank). */
  batchSize: number;
  /** Turns examples into a Batch (see collate.ts). */
  collate: Collate<T>;
  /** Reshuffle every epoch, by seed + epoch. @default false */
  shuffle?: boolean;
  /** @default 0 */
  seed?: number;
  /** Leave out the last batch if it is incomplete. @default false */
  dropLast?: boolean;
  /** This process's rank in data-parallel training. @default 0 */
  rank?: number;
  /** Number of ranks; each rank gets a disjoint, equal share (padded by repeating examples). @default 1 */
  worldSize?: number;
  /**
   * Pad the ranks' shares to equal length by repeating examples (PyTorch's
   * DistributedSampler; training needs it, every rank steps together). With
   * false every example is on exactly one rank and shares differ by at most
   * one: what evaluation gathered over the ranks needs (the Trainer reads a
   * loader this way by itself, through {@link DataLoader.unpadded}).
   * @default true
   */
  padShards?: boolean;
  /**
   * Batch examples of similar length together to save padding: `true` uses
   * the dataset's `lengthOf`, or give a function of the index.
   * @default false
   */
  bucketByLength?: boolean | ((index: number) => number);
  /** Batches prepared ahead of the one being consumed. @default 2 */
  prefetch?: number;
}

/** Where a DataLoader stands: the epoch and how many of its batches were consumed. */
export interface LoaderState {
  epoch: number;
  index: number;
}

const MEGABATCH = 50; // batches per bucketing group (HF LengthGroupedSampler's mega-batch)

/**
 * Iterates batches of a dataset.
 * @example
 * const loader = new DataLoader(train, { batchSize: 32, shuffle: true, seed: 42, collate });
 * for (let epoch = 0; epoch < 3; epoch++) {
 *   loader.setEpoch(epoch);
 *   for await (const batch of loader) await model.trainStep(batch);
 * }
 */
export class DataLoader<T> {
  readonly dataset: LoaderDataset<T>;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;
  readonly rank: number;
  readonly worldSize: number;
  readonly padShards: boolean;
  readonly prefetch: number;
  readonly #options: DataLoaderOptions<T>;
  readonly #collate: Collate<T>;
  readonly #lengthOf: ((index: number) => number) | undefined;
  #epoch = 0;
  #index = 0;
  #active = false;
  #plan: { epoch: number; batches: number[][] } | undefined;

  /**
   * @throws {TypeError} for a dataset without length/get, a missing collate, or bucketByLength: true on a dataset without lengthOf.
   * @throws {RangeError} for a batchSize below 1 or a rank outside [0, worldSize).
   */
  constructor(dataset: LoaderDataset<T>, options: DataLoaderOptions<T>) {
    if (dataset === null || typeof dataset !== 'object' || typeof dataset.get !== 'function' || !Number.isInteger(dataset.length)) {
      throw typeError('a dataset with length and get(i)', 'dataset', dataset);
    }
    const opts = optionsObject(options, 'options');
    if (typeof opts.collate !== 'function') throw typeError('a function', 'collate', opts.collate);
    this.dataset = dataset;
    this.#options = options;
    this.#collate = opts.collate;
    this.batchSize = optionalInteger(opts.batchSize, 'batchSize', NaN, 1);
    if (Number.isNaN(this.batchSize)) throw typeError('an integer', 'batchSize', opts.batchSize);
    this.shuffle = optionalBoolean(opts.shuffle, 'shuffle', false);
    this.seed = optionalInteger(opts.seed, 'seed', 0);
    this.dropLast = optionalBoolean(opts.dropLast, 'dropLast', false);
    this.worldSize = optionalInteger(opts.worldSize, 'worldSize', 1, 1);
    this.rank = optionalInteger(opts.rank, 'rank', 0, 0);
    if (this.rank >= this.worldSize) throw rangeError(`a rank below worldSize (${this.worldSize})`, 'rank', this.rank);
    this.padShards = optionalBoolean(opts.padShards, 'padShards', true);
    this.prefetch = optionalInteger(opts.prefetch, 'prefetch', 2, 0, 1024);
    const bucket = opts.bucketByLength;
    if (bucket === true) {
      if (typeof dataset.lengthOf !== 'function') throw typeError('a dataset with lengthOf(i) for bucketByLength: true', 'dataset', dataset);
      this.#lengthOf = (i) => dataset.lengthOf!(i);
    } else if (typeof bucket === 'function') {
      this.#lengthOf = bucket;
    } else if (bucket !== undefined && bucket !== false) {
      throw typeError('a boolean or a function', 'bucketByLength', bucket);
    }
  }

  /** This loader with every example on one rank only (`padShards: false`), or itself if it has that already. */
  unpadded(): DataLoader<T> {
    return this.padShards && this.worldSize > 1 ? new DataLoader(this.dataset, { ...this.#options, padShards: false }) : this;
  }

  /** Batches per epoch for this rank. */
  get length(): number {
    const n = this.dataset.length;
    const perRank = this.padShards ? Math.ceil(n / this.worldSize) : Math.floor(n / this.worldSize) + (this.rank < n % this.worldSize ? 1 : 0);
    return this.dropLast ? Math.floor(perRank / this.batchSize) : Math.ceil(perRank / this.batchSize);
  }

  /** The current epoch. */
  get epoch(): number {
    return this.#epoch;
  }

  /** Selects the epoch (and so the shuffle). A new epoch starts at its first batch. */
  setEpoch(epoch: number): void {
    optionalInteger(epoch, 'epoch', 0, 0);
    if (epoch === this.#epoch) return;
    this.#epoch = epoch;
    this.#index = 0;
  }

  /** The epoch, and how many of its batches have been handed out (save it with a checkpoint). */
  state(): LoaderState {
    return { epoch: this.#epoch, index: this.#index };
  }

  /**
   * Continues from a saved {@link DataLoader.state}: the next iteration
   * yields the batches of `state.epoch` from `state.index` on.
   * @throws {RangeError} for an index beyond the epoch's batches.
   */
  resume(state: LoaderState): void {
    const s = optionsObject(state, 'state');
    const epoch = optionalInteger(s.epoch, 'state.epoch', NaN, 0);
    const index = optionalInteger(s.index, 'state.index', NaN, 0, this.length);
    if (Number.isNaN(epoch) || Number.isNaN(index)) throw typeError('{ epoch, index }', 'state', state);
    this.#epoch = epoch;
    this.#index = index;
  }

  /** The dataset indices of each batch of `epoch` for this rank. */
  batches(epoch = this.#epoch): number[][] {
    if (this.#plan?.epoch === epoch) return this.#plan.batches;
    const batches = this.#makePlan(epoch);
    this.#plan = { epoch, batches };
    return batches;
  }

  /**
   * Yields the epoch's remaining batches; the next `prefetch` are being built
   * while the consumer works on one. A loop broken off early is continued by
   * the next iteration (as after resume); when the epoch is done, the next
   * iteration starts it again from the top (call setEpoch first for a new order).
   * @throws {Error} if the loader is already being iterated.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<Batch> {
    if (this.#active) throw new Error('This DataLoader is already being iterated; finish or break out of that loop first');
    this.#active = true;
    const epoch = this.#epoch;
    const plan = this.batches(epoch);
    const queue: Array<Promise<Batch>> = [];
    let next = this.#index;
    const fill = (ahead: number) => {
      while (queue.length < ahead && next < plan.length) {
        const batch = this.#build(plan[next++], epoch);
        batch.catch(() => {}); // awaited below in order; this only keeps an early failure from being "unhandled"
        queue.push(batch);
      }
    };
    try {
      while (next < plan.length || queue.length > 0) {
        fill(Math.max(1, this.prefetch));
        const batch = await queue.shift()!;
        this.#index++;
        fill(this.prefetch);
        yield batch;
      }
      this.#index = 0;
    } finally {
      this.#active = false;
    }
  }

  async #build(indices: number[], epoch: number): Promise<Batch> {
    await new Promise((resolve) => setImmediate(resolve));
    const examples = await Promise.all(indices.map((i) => this.dataset.get(i, epoch)));
    return this.#collate(examples, { epoch, indices });
  }

  #makePlan(epoch: number): number[][] {
    const own = rankIndices(this.dataset.length, this.shuffle, this.seed, epoch, this.rank, this.worldSize, this.padShards);
    const size = this.batchSize;
    let batches: number[][] = [];
    if (this.#lengthOf) {
      const lengths = new Map(own.map((i) => [i, this.#lengthOf!(i)]));
      for (let m = 0; m < own.length; m += size * MEGABATCH) {
        const group = own.slice(m, m + size * MEGABATCH).sort((a, b) => lengths.get(b)! - lengths.get(a)!);
        for (let k = 0; k < group.length; k += size) batches.push(group.slice(k, k + size));
      }
      if (this.dropLast) batches = batches.filter((batch) => batch.length === size);
      if (this.shuffle) new Rng(this.seed, epoch, 1).shuffle(batches);
    } else {
      for (let k = 0; k < own.length; k += size) batches.push(own.slice(k, k + size));
      if (this.dropLast && batches.length > 0 && batches[batches.length - 1].length < size) batches.pop();
    }
    return batches;
  }
}

/**
 * The indices rank `rank` of `worldSize` sees in `epoch`: PyTorch
 * DistributedSampler's (drop_last=False) split of a shuffled or sequential
 * order, padded by repeating its start so every rank has ceil(n / worldSize)
 * (unless `pad` is false).
 * @example
 * rankIndices(10, false, 0, 0, 1, 4); // [1, 5, 9]
 * rankIndices(10, false, 0, 0, 3, 4); // [3, 7, 0]
 * rankIndices(10, false, 0, 0, 3, 4, false); // [3, 7]
 */
export function rankIndices(n: number, shuffle: boolean, seed: number, epoch: number, rank: number, worldSize: number, pad = true): number[] {
  if (n === 0) return [];
  const order = Array.from({ length: n }, (_, i) => i);
  if (shuffle) new Rng(seed, epoch).shuffle(order);
  const total = pad ? Math.ceil(n / worldSize) * worldSize : n;
  const own: number[] = [];
  for (let k = rank; k < total; k += worldSize) own.push(order[k % n]);
  return own;
}
