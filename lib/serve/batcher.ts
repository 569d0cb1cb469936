/**
 * MicroBatcher: gathers items pushed by concurrent callers into batches for
 * one async call (a forward pass). When no batch is running, what is queued
 * is sent at once: waiting would only add latency, since nothing else uses
 * the model. While batches run, a batch is sent when it reaches
 * maxBatchSize, or maxWaitMs after its oldest item arrived (Triton's and
 * TorchServe's dynamic batching), at most maxInFlight at once; so a busy
 * server sends full batches and an idle one answers without waiting. Pure TypeScript:
 * the batch function does the work (off the event loop: it is async native).
 * A timer exists only while items wait, so an idle batcher never keeps the
 * process alive.
 */
import { rangeError, typeError } from '../validate.js';

/** Options of {@link MicroBatcher}. */
export interface MicroBatcherOptions {
  /** Most items in one batch. @default 32 */
  maxBatchSize?: number;
  /**
   * While another batch runs, the longest an item waits for others before its
   * batch is sent; 0 sends what arrived in the same tick. (With nothing
   * running, items are sent at once.) @default 5
   */
  maxWaitMs?: number;
  /** Batches running at once (2 lets one be prepared while another runs). @default 2 */
  maxInFlight?: number;
}

/** Counters of a {@link MicroBatcher}, since it was made. */
export interface BatcherStats {
  /** Items pushed. */
  items: number;
  /** Batches sent (for a predictor: forward passes). */
  batches: number;
  /** Batches whose function threw (their items were rejected). */
  failedBatches: number;
  /** The largest batch sent. */
  largestBatch: number;
  /** items / batches over the sent batches. */
  meanBatchSize: number;
  /** Items waiting now. */
  queued: number;
  /** Batches running now. */
  inFlight: number;
}

interface Waiting<I, O> {
  item: I;
  at: number;
  resolve: (o: O) => void;
  reject: (e: unknown) => void;
}

/** The error of a push after close(): code `ERR_CLOSED`. */
export class ClosedError extends Error {
  readonly code = 'ERR_CLOSED';
  constructor(what: string) {
    super(`${what} is closed: it takes no new requests`);
    this.name = 'ClosedError';
  }
}

/**
 * Micro-batches the items of concurrent callers.
 * @example
 * const b = new MicroBatcher(async (xs: number[]) => xs.map((x) => x * 2), { maxBatchSize: 16, maxWaitMs: 2 });
 * const [a, c] = await Promise.all([b.push(1), b.push(2)]); // one call of the function with [1, 2]
 */
export class MicroBatcher<I, O> {
  readonly maxBatchSize: number;
  readonly maxWaitMs: number;
  readonly maxInFlight: number;
  readonly #run: (items: I[]) => Promise<O[]>;
  readonly #name: string;
  #queue: Array<Waiting<I, O>> = [];
  #timer: NodeJS.Timeout | undefined;
  #scheduled = false;
  #inFlight = 0;
  #closed = false;
  #idle: Array<() => void> = [];
  #stats = { items: 0, batches: 0, sentItems: 0, failedBatches: 0, largestBatch: 0 };

  /**
   * @param run resolves to one output per item, in order.
   * @throws {TypeError} if run is not a function; {RangeError} for an option out of range.
   */
  constructor(run: (items: I[]) => Promise<O[]>, options: MicroBatcherOptions = {}, name = 'MicroBatcher') {
    if (typeof run !== 'function') throw typeError('a function', 'run', run);
    if (options === null || typeof options !== 'object') throw typeError('an options object', 'options', options);
    this.maxBatchSize = checkInt(options.maxBatchSize, 'maxBatchSize', 32, 1);
    this.maxInFlight = checkInt(options.maxInFlight, 'maxInFlight', 2, 1);
    const wait = options.maxWaitMs ?? 5;
    if (typeof wait !== 'number' || !Number.isFinite(wait) || wait < 0) throw rangeError('a finite number >= 0', 'maxWaitMs', wait);
    this.maxWaitMs = wait;
    this.#run = run;
    this.#name = name;
  }

  /** Queues one item; resolves with its output, or rejects with its batch's error. */
  push(item: I): Promise<O> {
    if (this.#closed) return Promise.reject(new ClosedError(this.#name));
    return new Promise<O>((resolve, reject) => {
      this.#queue.push({ item, at: performance.now(), resolve, reject });
      this.#stats.items++;
      this.#schedule();
    });
  }

  /** A snapshot of the counters. */
  stats(): BatcherStats {
    const s = this.#stats;
    return {
      items: s.items, batches: s.batches, failedBatches: s.failedBatches, largestBatch: s.largestBatch,
      meanBatchSize: s.batches ? s.sentItems / s.batches : 0, queued: this.#queue.length, inFlight: this.#inFlight,
    };
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Refuses new items (ERR_CLOSED), sends the queued ones at once, and resolves when every batch has settled. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#schedule();
    if (this.#queue.length === 0 && this.#inFlight === 0) return;
    await new Promise<void>((resolve) => this.#idle.push(resolve));
  }

  // Decides, after any change, whether to send a batch now, later (timer) or not yet (at the in-flight limit).
  // Sending is deferred to a microtask so that one caller's many items are all queued first.
  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#queue.length > 0 && this.#inFlight < this.maxInFlight) {
      const waited = performance.now() - this.#queue[0].at;
      if (!this.#closed && this.#inFlight > 0 && this.#queue.length < this.maxBatchSize && waited < this.maxWaitMs) {
        this.#arm(this.maxWaitMs - waited);
        return;
      }
      this.#send(this.#queue.splice(0, this.maxBatchSize));
    }
    if (this.#queue.length === 0) this.#disarm();
    if (this.#queue.length === 0 && this.#inFlight === 0) for (const done of this.#idle.splice(0)) done();
  }

  #arm(ms: number): void {
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#pump();
    }, Math.max(0, Math.ceil(ms)));
  }

  #disarm(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #send(batch: Array<Waiting<I, O>>): void {
    this.#disarm();
    this.#inFlight++;
    const s = this.#stats;
    s.batches++;
    s.sentItems += batch.length;
    s.largestBatch = Math.max(s.largestBatch, batch.length);
    let call: Promise<O[]>;
    try {
      call = this.#run(batch.map((w) => w.item));
    } catch (e) {
      call = Promise.reject(e);
    }
    // The in-flight count drops before the callers hear back, so stats() read in a callback is current.
    const settle = (error: unknown, outs?: O[]) => {
      this.#inFlight--;
      if (error === undefined && (!Array.isArray(outs) || outs.length !== batch.length)) {
        error = new TypeError(`Expected ${batch.length} outputs from the batch function but received ${Array.isArray(outs) ? outs.length : typeof outs}`);
      }
      if (error !== undefined) {
        s.failedBatches++;
        for (const w of batch) w.reject(error);
      } else {
        batch.forEach((w, i) => w.resolve(outs![i]));
      }
      this.#pump();
    };
    call.then((outs) => settle(undefined, outs), (e) => settle(e ?? new Error('batch failed')));
  }
}

function checkInt(v: unknown, name: string, fallback: number, min: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw typeError('an integer', name, v);
  if (v < min) throw rangeError(`an integer >= ${min}`, name, v);
  return v;
}
