/**
 * CrossEncoderRanker: recommendation by pair classification. A
 * BertForSequenceClassification reads (context, item) as one sequence —
 * [CLS] context [SEP] item [SEP], token_type_ids 0 then 1, encoded exactly as
 * transformers encodes text pairs — and its two logits (not clicked,
 * clicked) give the item's score for the context: the click log-odds,
 * logit[1] - logit[0] (a one-logit head's logit as is). It is fine-tuned on
 * click logs (context, item, clicked 0/1) with the library's Trainer, and
 * ranks candidates per context. Scoring sorts pairs by length before
 * batching (less padding), tokenizes the next batch on the libuv pool while
 * the current forward pass runs on a libtorch worker thread, and returns
 * scores in input order. A ranker owns its model: dispose() frees it.
 */
import { classificationCollator, encodingsToBatch, DataLoader, type Batch, type ClassificationExample } from '../data/index.js';
import { BertForSequenceClassification, PRESETS, type BertConfig } from '../models/index.js';
import { numLabelsOf } from '../models/config.js';
import { Tokenizer } from '../tokenizer.js';
import { Trainer, type FitResult, type TrainerOptions } from '../train/index.js';
import { optionalInteger, optionsObject, typeError } from '../validate.js';
import { evaluateRanking, type RankingMetrics } from './metrics.js';

/** One line of a click log: an item shown in a context, and whether it was clicked (1) or not (0). */
export interface Click {
  context: string;
  item: string;
  clicked: number | boolean;
}

/** A candidate with its score, as rank() returns them (best first). */
export interface RankedItem {
  item: string;
  /** Position of the item in the candidates given. */
  index: number;
  score: number;
}

/** Options of a ranker. */
export interface RankerOptions {
  /** Tokens per (context, item) pair, special tokens included; longer pairs are truncated longest-first. @default 128 */
  maxLength?: number;
  /** Pairs per forward pass when scoring. @default 64 */
  batchSize?: number;
}

/** Options of {@link CrossEncoderRanker.train}: the Trainer's, plus the batch size. */
export interface RankerTrainOptions extends TrainerOptions {
  /** Pairs per training step. @default 16 */
  batchSize?: number;
  /** Clicks evaluated each epoch (as the Trainer does; the ranking metrics come from evaluate()). */
  evalClicks?: readonly Click[];
}

/** Label names of a cross-encoder fine-tuned on clicks. */
export const CLICK_LABELS = ['not_clicked', 'clicked'] as const;

function clickExamples(clicks: readonly Click[], name: string): ClassificationExample[] {
  if (!Array.isArray(clicks)) throw typeError('an array of { context, item, clicked }', name, clicks);
  return clicks.map((c, i) => {
    if (c === null || typeof c !== 'object' || typeof c.context !== 'string' || typeof c.item !== 'string') {
      throw typeError('{ context: string, item: string, clicked: 0 | 1 }', `${name}[${i}]`, c);
    }
    const y = c.clicked === true ? 1 : c.clicked === false ? 0 : c.clicked;
    if (y !== 0 && y !== 1) throw typeError('0, 1, true or false', `${name}[${i}].clicked`, c.clicked);
    return { text: c.context, pair: c.item, label: y };
  });
}

/**
 * A cross-encoder that scores (context, item) pairs.
 * @example
 * const ranker = await CrossEncoderRanker.fromPretrained('out/ranker');
 * const top = await ranker.rank('running shoes for trails', candidates, { topK: 10 });
 * ranker.dispose();
 */
export class CrossEncoderRanker implements Disposable {
  readonly model: BertForSequenceClassification;
  readonly tokenizer: Tokenizer;
  readonly maxLength: number;
  readonly batchSize: number;

  /** Wraps a model and its tokenizer; the ranker owns the model from here on. */
  constructor(model: BertForSequenceClassification, tokenizer: Tokenizer, options?: RankerOptions) {
    if (!(model instanceof BertForSequenceClassification)) throw typeError('a BertForSequenceClassification', 'model', model);
    if (tokenizer === null || typeof tokenizer !== 'object' || typeof tokenizer.encodeBatch !== 'function') throw typeError('a Tokenizer', 'tokenizer', tokenizer);
    const n = numLabelsOf(model.config);
    if (n !== 1 && n !== 2) throw typeError('a model with 1 or 2 labels (a click score)', 'model', `${n} labels`);
    const o = optionsObject(options, 'options');
    this.model = model;
    this.tokenizer = tokenizer;
    this.maxLength = Math.min(optionalInteger(o.maxLength, 'maxLength', 128, 4), model.config.max_position_embeddings);
    this.batchSize = optionalInteger(o.batchSize, 'batchSize', 64, 1);
  }

  /** Loads a ranker saved by save() (or any HF BertForSequenceClassification folder with 1 or 2 labels and tokenizer files). */
  static async fromPretrained(dir: string, options?: RankerOptions): Promise<CrossEncoderRanker> {
    const tokenizer = await Tokenizer.fromPretrained(dir);
    const model = await BertForSequenceClassification.fromPretrained(dir);
    try {
      return new CrossEncoderRanker(model, tokenizer, options);
    } catch (e) {
      model.dispose();
      throw e;
    }
  }

  /**
   * A cross-encoder to fine-tune: from a pretrained HF folder (its encoder,
   * a new two-label head), or with random weights of `config` when `from` is a tokenizer.
   */
  static async create(from: string | Tokenizer, options: RankerOptions & { config?: Partial<BertConfig>; seed?: number } = {}): Promise<CrossEncoderRanker> {
    const labels = { id2label: { 0: CLICK_LABELS[0], 1: CLICK_LABELS[1] }, label2id: { [CLICK_LABELS[0]]: 0, [CLICK_LABELS[1]]: 1 } };
    if (typeof from === 'string') {
      const tokenizer = await Tokenizer.fromPretrained(from);
      const model = await BertForSequenceClassification.fromPretrained(from, { labels: [...CLICK_LABELS], seed: options.seed, config: options.config });
      return new CrossEncoderRanker(model, tokenizer, options);
    }
    const model = BertForSequenceClassification.create({
      ...PRESETS.mini, max_position_embeddings: 512, ...options.config, vocab_size: from.vocabSize, pad_token_id: from.specialTokenIds.pad, ...labels,
    }, { seed: options.seed });
    return new CrossEncoderRanker(model, from, options);
  }

  /**
   * The model inputs of (context, item) pairs: truncated longest-first to maxLength, padded to the longest (mask 0 on padding),
   * token types 0 for the context and 1 for the item — transformers' `tokenizer(contexts, items, truncation=True, padding=True)`.
   */
  async encode(pairs: ReadonlyArray<readonly [string, string]>): Promise<Batch> {
    return encodingsToBatch(await this.tokenizer.encodeBatch(pairs as Array<[string, string]>, { truncation: true, maxLength: this.maxLength, padding: 'longest' }));
  }

  /**
   * Scores of (context, item) pairs, in input order (the click log-odds for a two-label model).
   * @example const [a, b] = await ranker.score([['user likes jazz', 'Kind of Blue'], ['user likes jazz', 'Thriller']]);
   */
  async score(pairs: ReadonlyArray<readonly [string, string]>): Promise<Float64Array> {
    if (!Array.isArray(pairs)) throw typeError('an array of [context, item] pairs', 'pairs', pairs);
    pairs.forEach((p, i) => {
      if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== 'string' || typeof p[1] !== 'string') throw typeError('a [context, item] pair of strings', `pairs[${i}]`, p);
    });
    const out = new Float64Array(pairs.length);
    if (pairs.length === 0) return out;
    this.model.eval();
    // Longest first, so padding within a batch is small and the first batch shows the peak memory.
    const order = Array.from(pairs.keys()).sort((a, b) => (pairs[b][0].length + pairs[b][1].length) - (pairs[a][0].length + pairs[a][1].length));
    const batches: number[][] = [];
    for (let i = 0; i < order.length; i += this.batchSize) batches.push(order.slice(i, i + this.batchSize));
    const encode = (idx: number[]) => this.encode(idx.map((k) => pairs[k]));
    let next = encode(batches[0]);
    for (let b = 0; b < batches.length; b++) {
      const batch = await next;
      if (b + 1 < batches.length) {
        next = encode(batches[b + 1]);
        next.catch(() => {}); // awaited next round
      }
      const res = await this.model.forward(batch, { skipPadding: true });
      let logits: Float32Array;
      try {
        logits = (await res.logits.data()) as Float32Array;
      } finally {
        for (const t of [res.logits, res.loss, res.poolerOutput]) t?.dispose();
      }
      const C = logits.length / batches[b].length;
      batches[b].forEach((k, r) => { out[k] = C === 2 ? logits[r * 2 + 1] - logits[r * 2] : logits[r * C]; });
    }
    return out;
  }

  /**
   * Candidates for a context, best first (ties keep the given order).
   * @param topK keep only the best k. @default all
   */
  async rank(context: string, candidates: readonly string[], { topK }: { topK?: number } = {}): Promise<RankedItem[]> {
    if (typeof context !== 'string') throw typeError('a string', 'context', context);
    if (!Array.isArray(candidates)) throw typeError('an array of strings', 'candidates', candidates);
    const k = optionalInteger(topK, 'topK', candidates.length, 1);
    const scores = await this.score(candidates.map((c) => [context, c] as const));
    return candidates.map((item, index) => ({ item, index, score: scores[index] }))
      .sort((a, b) => b.score - a.score || a.index - b.index).slice(0, k);
  }

  /**
   * Fine-tunes on click logs with the Trainer (cross-entropy on clicked / not clicked).
   * @example await ranker.train(clicks, { epochs: 3, lr: 5e-4, batchSize: 32 });
   */
  async train(clicks: readonly Click[], options: RankerTrainOptions = {}): Promise<FitResult> {
    const { batchSize = 16, evalClicks, ...trainerOptions } = options;
    const train = clickExamples(clicks, 'clicks');
    const collate = classificationCollator(this.tokenizer, { maxLength: this.maxLength });
    const asSet = (xs: ClassificationExample[]) => ({ length: xs.length, get: (i: number) => xs[i], lengthOf: (i: number) => xs[i].text.length + (xs[i].pair?.length ?? 0) });
    const loader = new DataLoader(asSet(train), { batchSize, shuffle: true, seed: trainerOptions.seed ?? 42, collate });
    const evalData = evalClicks ? new DataLoader(asSet(clickExamples(evalClicks, 'evalClicks')), { batchSize: this.batchSize, collate }) : undefined;
    const trainer = new Trainer(this.model, { saveAtEnd: false, ...trainerOptions });
    const result = await trainer.fit(loader, { evalData });
    this.model.eval();
    return result;
  }

  /** Ranking metrics of the model's scores on click logs, grouped by context (see evaluateRanking). */
  async evaluate(clicks: readonly Click[], { ks = [1, 5, 10] }: { ks?: readonly number[] } = {}): Promise<RankingMetrics> {
    const examples = clickExamples(clicks, 'clicks');
    const scores = await this.score(examples.map((e) => [e.text, e.pair!] as const));
    return evaluateRanking(examples.map((e, i) => ({ group: e.text, label: e.label as number, score: scores[i] })), { ks });
  }

  /** Saves the model and tokenizer as an HF folder (transformers loads it as a cross-encoder). */
  async save(dir: string): Promise<void> {
    await this.model.savePretrained(dir);
    await this.tokenizer.save(dir);
  }

  dispose(): void {
    this.model.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
