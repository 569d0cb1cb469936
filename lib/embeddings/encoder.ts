/**
 * SentenceEncoder: texts -> sentence embeddings, as sentence-transformers'
 * `SentenceTransformer.encode` computes them (Transformer -> Pooling ->
 * Normalize), from a sentence-transformers folder or a plain BERT folder.
 * Texts are tokenized on the libuv pool, sorted by length and padded to the
 * longest of their batch; pooling runs natively inside the forward pass on
 * the model's worker thread, so only (B, C) floats come back to JS.
 * Concurrent calls share forward passes (lib/serve's MicroBatcher), one
 * batcher per (pooling, normalize, batchSize). An encoder made from a folder
 * owns its model and frees it in close(); a model passed in stays the caller's.
 */
import { BertModel, PreTrainedBert, type Batch } from '../models/bert.js';
import { ClosedError, MicroBatcher, type BatcherStats } from '../serve/batcher.js';
import type { Device } from '../tensor.js';
import { Tokenizer, type Encoding } from '../tokenizer.js';
import { optionsObject, rangeError, typeError } from '../validate.js';
import { readSentenceFolder, writeSentenceFolder, type Pooling } from './folder.js';

/** Options of {@link SentenceEncoder.encode}. */
export interface SentenceEncodeOptions {
  /** How token vectors become one: the folder's pooling by default. */
  pooling?: Pooling;
  /** L2-normalise each vector: the folder's Normalize module by default. */
  normalize?: boolean;
  /** Texts per forward pass. @default 32 */
  batchSize?: number;
}

/** Options of {@link SentenceEncoder.fromPretrained} and {@link SentenceEncoder.fromModel}. */
export interface SentenceEncoderOptions {
  /** Pooling when encode() names none. @default the folder's (mean for a plain BERT folder) */
  pooling?: Pooling;
  /** Normalisation when encode() says nothing. @default whether the folder has a Normalize module */
  normalize?: boolean;
  /** Tokens per text, special tokens included (longer texts are truncated). @default sentence_bert_config.json's max_seq_length, else min(model_max_length, max_position_embeddings) */
  maxSeqLength?: number;
  /** While another batch runs, the longest a text waits for others (see MicroBatcher). @default 5 */
  maxWaitMs?: number;
  /** Device of a model loaded from a folder. @default 'cpu' */
  device?: Device;
}

const POOLINGS: readonly Pooling[] = ['mean', 'cls', 'max'];

function checkPooling(v: unknown, name: string): Pooling | undefined {
  if (v !== undefined && !POOLINGS.includes(v as Pooling)) throw rangeError("'mean', 'cls' or 'max'", name, v);
  return v as Pooling | undefined;
}

function checkBool(v: unknown, name: string): boolean | undefined {
  if (v !== undefined && typeof v !== 'boolean') throw typeError('a boolean', name, v);
  return v as boolean | undefined;
}

/** The texts of an encode() call, checked: strings, not empty. */
function checkTexts(input: unknown): string[] {
  const texts = typeof input === 'string' ? [input] : input;
  if (!Array.isArray(texts)) throw typeError('a string or an array of strings', 'texts', input);
  texts.forEach((t, i) => {
    const name = typeof input === 'string' ? 'text' : `texts[${i}]`;
    if (typeof t !== 'string') throw typeError('a string', name, t);
    if (t.length === 0) throw rangeError('a non-empty string (an empty text has no embedding)', name, t);
  });
  return texts as string[];
}

/**
 * Sentence embeddings from a BERT encoder.
 * @example
 * const encoder = await SentenceEncoder.fromPretrained('models/all-MiniLM-L6-v2');
 * const vectors = await encoder.encode(['where is my parcel?', 'reset my password']); // Float32Array, 2 x 384
 * await encoder.close();
 */
export class SentenceEncoder implements AsyncDisposable {
  readonly model: PreTrainedBert;
  readonly tokenizer: Tokenizer;
  /** Pooling used when encode() names none. */
  readonly pooling: Pooling;
  /** Normalisation used when encode() says nothing. */
  readonly normalize: boolean;
  /** Tokens per text, special tokens included. */
  readonly maxSeqLength: number;
  /** Length of each vector (hidden_size). */
  readonly dim: number;
  readonly #owned: boolean;
  readonly #maxWaitMs: number;
  readonly #batchers = new Map<string, MicroBatcher<Encoding, Float32Array>>();
  #closed = false;
  #requests = 0;

  /** @internal Use fromPretrained() or fromModel(). */
  constructor(model: PreTrainedBert, tokenizer: Tokenizer, owned: boolean, o: Required<Pick<SentenceEncoderOptions, 'pooling' | 'normalize' | 'maxSeqLength'>> & SentenceEncoderOptions) {
    if (model.architecture !== 'BertModel') throw typeError('a BertModel (the bare encoder)', 'model', model.architecture);
    this.model = model;
    this.tokenizer = tokenizer;
    this.#owned = owned;
    this.pooling = o.pooling;
    this.normalize = o.normalize;
    if (!Number.isInteger(o.maxSeqLength) || o.maxSeqLength < 2) throw rangeError('an integer >= 2', 'maxSeqLength', o.maxSeqLength);
    this.maxSeqLength = Math.min(o.maxSeqLength, model.config.max_position_embeddings);
    this.dim = model.config.hidden_size;
    const wait = o.maxWaitMs ?? 5;
    if (typeof wait !== 'number' || !(wait >= 0)) throw rangeError('a number >= 0', 'maxWaitMs', wait);
    this.#maxWaitMs = wait;
    // Dropout off. (Switching per batch would race the in-flight forward: ERR_BUSY.)
    model.eval();
  }

  /**
   * Loads a sentence-transformers folder (modules.json, 1_Pooling/config.json,
   * sentence_bert_config.json, optional Normalize) or a plain BERT folder.
   * @throws {SentenceFolderError} for an unsupported module or pooling mode (naming the file);
   *   the errors of BertModel.fromPretrained and Tokenizer.fromPretrained.
   */
  static async fromPretrained(dir: string, options?: SentenceEncoderOptions): Promise<SentenceEncoder> {
    if (typeof dir !== 'string' || dir === '') throw typeError('a folder path', 'dir', dir);
    const opts = optionsObject(options, 'options') as SentenceEncoderOptions;
    checkPooling(opts.pooling, 'pooling');
    checkBool(opts.normalize, 'normalize');
    const folder = await readSentenceFolder(dir);
    const tokenizer = await Tokenizer.fromPretrained(folder.modelDir);
    const model = await BertModel.fromPretrained(folder.modelDir);
    try {
      if (opts.device && opts.device !== 'cpu') model.to(opts.device);
      const fallback = Math.min(tokenizer.modelMaxLength, model.config.max_position_embeddings);
      return new SentenceEncoder(model, tokenizer, true, {
        ...opts,
        pooling: opts.pooling ?? folder.pooling,
        normalize: opts.normalize ?? folder.normalize,
        maxSeqLength: opts.maxSeqLength ?? folder.maxSeqLength ?? tokenizer.maxSeqLength ?? fallback,
      });
    } catch (e) {
      model.dispose();
      throw e;
    }
  }

  /** An encoder over a loaded BertModel and tokenizer (they stay the caller's). */
  static fromModel(model: PreTrainedBert, tokenizer: Tokenizer, options?: SentenceEncoderOptions): SentenceEncoder {
    if (!(model instanceof PreTrainedBert)) throw typeError('a BertModel', 'model', model);
    if (!(tokenizer instanceof Tokenizer)) throw typeError('a Tokenizer', 'tokenizer', tokenizer);
    const opts = optionsObject(options, 'options') as SentenceEncoderOptions;
    const fallback = Math.min(tokenizer.modelMaxLength, model.config.max_position_embeddings);
    return new SentenceEncoder(model, tokenizer, false, {
      ...opts,
      pooling: checkPooling(opts.pooling, 'pooling') ?? 'mean',
      normalize: checkBool(opts.normalize, 'normalize') ?? false,
      maxSeqLength: opts.maxSeqLength ?? tokenizer.maxSeqLength ?? fallback,
    });
  }

  /**
   * The embeddings of `texts`, row i for texts[i]: a Float32Array of
   * texts.length x dim, row-major. Calls from concurrent callers share forward passes.
   * @throws {TypeError} for a text that is not a string; {RangeError} for an empty text
   *   or a text with no tokens, or an option out of range; {ClosedError} (ERR_CLOSED) after close().
   * @example
   * const v = await encoder.encode(['a question', 'another'], { batchSize: 64 });
   * const second = v.subarray(encoder.dim, 2 * encoder.dim);
   */
  async encode(texts: string | readonly string[], options?: SentenceEncodeOptions): Promise<Float32Array> {
    this.#requests++;
    const list = checkTexts(texts);
    const opts = optionsObject(options, 'options') as SentenceEncodeOptions;
    const pooling = checkPooling(opts.pooling, 'pooling') ?? this.pooling;
    const normalize = checkBool(opts.normalize, 'normalize') ?? this.normalize;
    const batchSize = opts.batchSize ?? 32;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw rangeError('an integer >= 1', 'batchSize', batchSize);
    if (this.#closed) throw new ClosedError('SentenceEncoder');
    const out = new Float32Array(list.length * this.dim);
    if (list.length === 0) return out;
    const encodings = await this.tokenizer.encodeBatch(list, { truncation: true, maxLength: this.maxSeqLength });
    encodings.forEach((e, i) => {
      if (e.inputIds.length <= 2) throw rangeError('a text with at least one token (this one is only whitespace or control characters)', typeof texts === 'string' ? 'text' : `texts[${i}]`, list[i]);
    });
    // Longest first, as sentence-transformers sorts: each batch pads to little more than it needs.
    const order = Array.from(encodings.keys()).sort((a, b) => encodings[b].inputIds.length - encodings[a].inputIds.length);
    const batcher = this.#batcher(pooling, normalize, batchSize);
    const rows = await Promise.all(order.map((i) => batcher.push(encodings[i])));
    order.forEach((i, j) => out.set(rows[j], i * this.dim));
    return out;
  }

  /** Counters of the forward passes since the encoder was made. */
  stats(): BatcherStats & { requests: number } {
    const all = [...this.#batchers.values()].map((b) => b.stats());
    const sum = (k: keyof BatcherStats) => all.reduce((s, x) => s + x[k], 0);
    const batches = sum('batches');
    return {
      requests: this.#requests, items: sum('items'), batches, failedBatches: sum('failedBatches'),
      largestBatch: Math.max(0, ...all.map((x) => x.largestBatch)),
      meanBatchSize: batches ? all.reduce((s, x) => s + x.meanBatchSize * x.batches, 0) / batches : 0,
      queued: sum('queued'), inFlight: sum('inFlight'),
    };
  }

  /**
   * Writes the model, tokenizer and sentence-transformers files into `dir`:
   * `SentenceTransformer(dir)` and {@link SentenceEncoder.fromPretrained} load it back.
   */
  async save(dir: string): Promise<void> {
    if (typeof dir !== 'string' || dir === '') throw typeError('a folder path', 'dir', dir);
    await this.model.savePretrained(dir);
    await this.tokenizer.save(dir);
    await writeSentenceFolder(dir, { pooling: this.pooling, normalize: this.normalize, maxSeqLength: this.maxSeqLength, dim: this.dim });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Finishes what was asked, refuses new calls (ERR_CLOSED), frees the model if the encoder loaded it. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#batchers.values()].map((b) => b.close()));
    if (this.#owned) this.model.dispose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #batcher(pooling: Pooling, normalize: boolean, batchSize: number): MicroBatcher<Encoding, Float32Array> {
    const key = `${pooling}/${normalize}/${batchSize}`;
    let b = this.#batchers.get(key);
    if (!b) {
      b = new MicroBatcher((items) => this.#forward(items, pooling, normalize), { maxBatchSize: batchSize, maxWaitMs: this.#maxWaitMs }, 'SentenceEncoder');
      this.#batchers.set(key, b);
    }
    return b;
  }

  // One forward pass: pad to the batch's longest, pool natively, one (B, C) copy back.
  async #forward(items: Encoding[], pooling: Pooling, normalize: boolean): Promise<Float32Array[]> {
    const out = await this.model.forward(padEncodings(items, this.tokenizer.specialTokenIds.pad), { pooling, normalize, skipPadding: true });
    try {
      const data = (await out.sentenceEmbedding!.data()) as Float32Array;
      return items.map((_, i) => data.subarray(i * this.dim, (i + 1) * this.dim));
    } finally {
      for (const t of [out.logits, out.loss, out.poolerOutput, out.sentenceEmbedding]) t?.dispose();
    }
  }
}

/** Right-pads unpadded encodings to the longest: (B, T) Int32 ids, mask and token types. */
export function padEncodings(items: readonly Pick<Encoding, 'inputIds' | 'tokenTypeIds'>[], padId: number): Batch & { shape: [number, number] } {
  const B = items.length;
  const T = Math.max(1, ...items.map((e) => e.inputIds.length));
  const inputIds = new Int32Array(B * T).fill(padId);
  const attentionMask = new Int32Array(B * T);
  const tokenTypeIds = new Int32Array(B * T);
  items.forEach((e, b) => {
    inputIds.set(e.inputIds, b * T);
    attentionMask.fill(1, b * T, b * T + e.inputIds.length);
    tokenTypeIds.set(e.tokenTypeIds, b * T);
  });
  return { inputIds, attentionMask, tokenTypeIds, shape: [B, T] };
}
