/**
 * A promise queue: calls on one model run one after another, never at once
 * (the native side would answer ERR_BUSY). Errors do not stall the queue.
 */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();
  #pending = 0;

  get pending(): number { return this.#pending; }

  run<T>(fn: () => Promise<T>): Promise<T> {
    this.#pending++;
    const next = this.#tail.then(fn, fn);
    this.#tail = next.then(() => undefined, () => undefined).finally(() => { this.#pending--; });
    return next;
  }
}
