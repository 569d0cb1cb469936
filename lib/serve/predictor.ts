/**
 * Predictor: a fine-tuned model behind `predict(text | texts)` for a Node
 * service. Concurrent callers are micro-batched (batcher.ts) into one
 * forward pass, padded to the batch's longest text (the attention mask keeps
 * padding out of every answer). Tokenizing runs on the libuv pool and the
 * forward pass on a worker thread, so the event loop keeps serving. A
 * predictor made from a folder owns its model and frees it in close(); a
 * model passed in stays the caller's (predict() switches it to eval mode).
 */
import { PreTrainedBert, type Batch } from '../models/bert.js';
import { numLabelsOf } from '../models/config.js';
import { encodingsToBatch } from '../data/collate.js';
import type { Device } from '../tensor.js';
import { Tokenizer } from '../tokenizer.js';
import { optionsObject, rangeError, typeError } from '../validate.js';
import { ClosedError, MicroBatcher, type BatcherStats } from './batcher.js';
import {
  groupEntities,
  headSpec,
  labelNames,
  sequencePrediction,
  type HeadSpec,
  type SequencePrediction,
  type ServedEntity,
} from './postprocess.js';

/** What the predictor does: one answer per text, or the entities of each text. */
export type PredictorTask = 'sequence-classification' | 'token-classification';

/** One text's answer: a {@link SequencePrediction}, or for token classification its entities. */
export type Prediction = SequencePrediction | ServedEntity[];

/** What a predictor is made from: an HF model folder (with tokenizer files), or a loaded model and tokenizer. */
export type PredictorSource = string | { model: PreTrainedBert; tokenizer: Tokenizer };

/** Options of {@link createPredictor}. */
export interface PredictorOptions {
  /** Most texts in one forward pass. @default 32 */
  maxBatchSize?: number;
  /** While another batch runs, the longest a text waits for others before its batch runs (an idle predictor runs it at once). @default 5 */
  maxWaitMs?: number;
  /** Tokens per text, special tokens included (longer texts are truncated); capped at max_position_embeddings. @default 128 */
  maxLength?: number;
  /** Batches running at once: 2 tokenizes the next batch while one runs. @default 2 */
  maxInFlight?: number;
  /** Multi-label models: the probability above which a label is given. @default 0.5 */
  threshold?: number;
  /** Device for a model loaded from a folder ('cuda', 'cuda:1'). @default 'cpu' */
  device?: Device;
}

/** Counters of a predictor: forward passes, texts, calls. */
export interface PredictorStats extends BatcherStats {
  /** predict() calls. */
  requests: number;
  /** Forward passes run (= batches). */
  forwardPasses: number;
}

const ARCHS = new Set(['BertForSequenceClassification', 'BertForTokenClassification']);

/**
 * A served model. Make one with {@link createPredictor}.
 * @typeParam P the answer type: narrow it when the task is known (`createPredictor<LabelPrediction>(dir)`).
 */
export class Predictor<P extends Prediction = Prediction> implements AsyncDisposable {
  readonly model: PreTrainedBert;
  readonly tokenizer: Tokenizer;
  readonly task: PredictorTask;
  /** Label names in id order. */
  readonly labels: readonly string[];
  readonly maxLength: number;
  readonly #owned: boolean;
  readonly #head: HeadSpec;
  readonly #batcher: MicroBatcher<string, P>;
  #requests = 0;

  /** @internal Use createPredictor(). */
  constructor(model: PreTrainedBert, tokenizer: Tokenizer, owned: boolean, opts: PredictorOptions) {
    if (!ARCHS.has(model.architecture)) {
      throw typeError('a BertForSequenceClassification or BertForTokenClassification model', 'model', model.architecture);
    }
    this.model = model;
    this.tokenizer = tokenizer;
    this.#owned = owned;
    this.task = model.architecture === 'BertForTokenClassification' ? 'token-classification' : 'sequence-classification';
    this.labels = Object.freeze(labelNames(model.config.id2label, numLabelsOf(model.config)));
    const maxLength = opts.maxLength ?? 128;
    if (!Number.isInteger(maxLength) || maxLength < 2) throw rangeError('an integer >= 2', 'maxLength', maxLength);
    this.maxLength = Math.min(maxLength, model.config.max_position_embeddings);
    const threshold = opts.threshold ?? 0.5;
    if (typeof threshold !== 'number' || !(threshold >= 0 && threshold <= 1)) throw rangeError('a number in [0, 1]', 'threshold', threshold);
    this.#head = headSpec(this.labels, model.config.problem_type, threshold);
    this.#batcher = new MicroBatcher((texts) => this.#run(texts), opts, 'Predictor');
    model.eval();
  }

  /**
   * The answer for a text, or for each of several texts (in order). Calls from
   * concurrent callers share forward passes.
   * @throws {TypeError} for a text that is not a string; {ClosedError} (ERR_CLOSED) after close().
   * @example
   * const { label, score } = await predictor.predict('where is my parcel?') as LabelPrediction;
   */
  predict(text: string): Promise<P>;
  predict(texts: readonly string[]): Promise<P[]>;
  predict(input: string | readonly string[]): Promise<P | P[]> {
    this.#requests++;
    if (typeof input === 'string') return this.#batcher.push(input);
    if (!Array.isArray(input)) return Promise.reject(typeError('a string or an array of strings', 'text', input));
    const bad = input.findIndex((t) => typeof t !== 'string');
    if (bad >= 0) return Promise.reject(typeError('a string', `texts[${bad}]`, input[bad]));
    return Promise.all(input.map((t) => this.#batcher.push(t)));
  }

  /** Counters since the predictor was made. */
  stats(): PredictorStats {
    const s = this.#batcher.stats();
    return { ...s, requests: this.#requests, forwardPasses: s.batches };
  }

  get closed(): boolean {
    return this.#batcher.closed;
  }

  /** Answers what was already asked, refuses new calls (ERR_CLOSED), then frees the model if the predictor loaded it. Idempotent. */
  async close(): Promise<void> {
    await this.#batcher.close();
    if (this.#owned) this.model.dispose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // One forward pass over a batch of texts.
  async #run(texts: string[]): Promise<P[]> {
    const encodings = await this.tokenizer.encodeBatch(texts, { truncation: true, maxLength: this.maxLength, padding: 'longest' });
    const batch = encodingsToBatch(encodings) as Batch & { shape: [number, number] };
    const out = await this.model.forward(batch, { skipPadding: true });
    let logits: Float32Array;
    try {
      logits = (await out.logits.data()) as Float32Array;
    } finally {
      for (const t of [out.logits, out.loss, out.poolerOutput]) t?.dispose();
    }
    const [B, T] = batch.shape!;
    const C = logits.length / (this.task === 'token-classification' ? B * T : B);
    if (this.task === 'sequence-classification') {
      return texts.map((_, b) => sequencePrediction(logits.subarray(b * C, (b + 1) * C), this.#head) as P);
    }
    return texts.map((text, b) => groupEntities({
      text, logits: logits.subarray(b * T * C, (b + 1) * T * C), numLabels: C,
      wordIds: encodings[b].wordIds, offsets: encodings[b].offsets, labels: this.labels,
    }) as P);
  }
}

/**
 * Makes a predictor from an HF model folder (config.json, model.safetensors and
 * tokenizer files, as savePretrained + Tokenizer.save write them) or from a
 * loaded `{ model, tokenizer }`.
 * @throws {TypeError} for a model that is not a sequence or token classifier, or bad options;
 *   the errors of fromPretrained for a bad folder.
 * @example
 * const predictor = await createPredictor('out/intents', { maxBatchSize: 32, maxWaitMs: 5 });
 * await predictor.predict('cancel my order'); // { label: 'cancel_order', score: 0.93, probabilities: {...} }
 * await predictor.close();
 */
export async function createPredictor<P extends Prediction = Prediction>(source: PredictorSource, options?: PredictorOptions): Promise<Predictor<P>> {
  const opts = optionsObject(options, 'options');
  if (typeof source === 'string') {
    const tokenizer = await Tokenizer.fromPretrained(source);
    const model = await PreTrainedBert.fromPretrained(source);
    try {
      if (opts.device && opts.device !== 'cpu') model.to(opts.device);
      return new Predictor<P>(model, tokenizer, true, opts);
    } catch (e) {
      model.dispose();
      throw e;
    }
  }
  if (source === null || typeof source !== 'object' || !(source.model instanceof PreTrainedBert) || typeof source.tokenizer?.encodeBatch !== 'function') {
    throw typeError('a model folder or { model, tokenizer }', 'source', source);
  }
  if (opts.device !== undefined) throw typeError('no device for a model passed in (move it with model.to())', 'device', opts.device);
  return new Predictor<P>(source.model, source.tokenizer, false, opts);
}

export { ClosedError };
