// Tokenizing for writeShards off the main thread: worker_threads that each
// load the tokenizer from a saved folder.

import { Worker } from 'node:worker_threads';
import type { IdDtype } from './format.js';

export interface WorkerInit {
  tokenizersPath: string;
  /** Tokenizer.backendJson(): the backend the tokenizer itself runs. */
  tokenizerJson: string;
  addSpecialTokens: boolean;
  idDtype: IdDtype;
}
export interface ChunkResult {
  seq: number;
  ids?: Uint16Array | Uint32Array;
  lengths?: Uint32Array;
  error?: string;
}

// The worker, as plain JavaScript run with `eval`: it loads only the
// `tokenizers` package (no bertorch modules, no TypeScript loader), which
// keeps each thread small. It loads the tokenizer's backend JSON straight into the package
// and keeps only the ids: the same pipeline as Tokenizer.encode without
// truncation (test/shards.test.ts checks they agree), minus the offsets,
// masks and token strings a shard has no use for.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const tokenizers = require(workerData.tokenizersPath);
const backend = tokenizers.Tokenizer.fromString(workerData.tokenizerJson);
// Each Encoding holds its Rust buffers until V8 finalizes its wrapper, and V8
// does not see that memory: without a collection every few chunks the
// finalizers wait for a major GC the small JS heap rarely needs (peak RSS 459
// -> 326 MB on 400 MB of Parquet text; TOKENIZERS_PARALLELISM=false, 714 MB).
require('node:v8').setFlagsFromString('--expose-gc');
const collect = require('node:vm').runInNewContext('gc');
let chunks = 0;
parentPort.on('message', async ({ seq, texts }) => {
  if (++chunks % 8 === 0) collect();
  try {
    const encodings = await backend.encodeBatch(texts, { addSpecialTokens: workerData.addSpecialTokens });
    const lists = encodings.map((encoding) => encoding.getIds());
    const lengths = Uint32Array.from(lists, (list) => list.length);
    let total = 0;
    for (const list of lists) total += list.length;
    const ids = workerData.idDtype === 'uint16' ? new Uint16Array(total) : new Uint32Array(total);
    let at = 0;
    for (const list of lists) {
      ids.set(list, at);
      at += list.length;
    }
    parentPort.postMessage({ seq, ids, lengths }, [ids.buffer, lengths.buffer]);
  } catch (error) {
    parentPort.postMessage({ seq, error: String((error && error.message) || error) });
  }
});
`;

/** Worker threads, each with a tokenizer; `run` goes to the least busy one. */
export class TokenizerPool {
  readonly #workers: Array<{ worker: Worker; busy: number }> = [];
  readonly #waiting = new Map<number, { resolve: (r: ChunkResult) => void; reject: (e: Error) => void }>();
  #seq = 0;
  #failure: Error | undefined;

  constructor(size: number, init: WorkerInit) {
    for (let i = 0; i < size; i++) {
      const worker = spawnWorker(init);
      const slot = { worker, busy: 0 };
      worker.on('message', (result: ChunkResult) => {
        slot.busy--;
        const waiter = this.#waiting.get(result.seq)!;
        this.#waiting.delete(result.seq);
        if (result.error !== undefined) waiter.reject(new Error(`tokenizing worker failed: ${result.error}`));
        else waiter.resolve(result);
      });
      worker.on('error', (error) => this.#fail(error));
      worker.on('exit', (code) => {
        if (code !== 0) this.#fail(new Error(`tokenizing worker exited with code ${code}`));
      });
      this.#workers.push(slot);
    }
  }

  run(texts: string[]): Promise<ChunkResult> {
    if (this.#failure) return Promise.reject(this.#failure);
    const slot = this.#workers.reduce((a, b) => (b.busy < a.busy ? b : a));
    const seq = this.#seq++;
    slot.busy++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(seq, { resolve, reject });
      slot.worker.postMessage({ seq, texts });
    });
  }

  async close(): Promise<void> {
    this.#failure ??= new Error('tokenizer pool closed');
    await Promise.all(this.#workers.map(({ worker }) => worker.terminate()));
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const waiter of this.#waiting.values()) waiter.reject(error);
    this.#waiting.clear();
  }
}

// Each encoding holds ~100 bytes a token in Rust memory that is freed only
// when V8 collects its small JS wrapper; a small young generation makes
// those collections frequent, which keeps a worker's memory flat.
function spawnWorker(init: WorkerInit): Worker {
  return new Worker(WORKER_SOURCE, { eval: true, workerData: init, execArgv: [], resourceLimits: { maxYoungGenerationSizeMb: 2 } });
}
