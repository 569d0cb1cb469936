/**
 * FaqAnswerer: customer-service answering over a knowledge base of
 * (question, answer[, intent]) rows. A query is embedded by a
 * SentenceEncoder (concurrent queries share forward passes), matched against
 * the KB questions in a vector index (exact by default; searches of
 * concurrent queries are batched too), and answered with the best distinct
 * answers, or declared out of scope when the best score is under the
 * threshold that calibrate() chose for a target precision. An optional
 * intent classifier first narrows retrieval to the predicted intent's rows.
 * The answerer owns its index; the encoder and classifier stay the caller's.
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../models/atomic.js';
import { MicroBatcher } from '../serve/batcher.js';
import type { SentenceEncoder } from '../embeddings/encoder.js';
import { ExactIndex } from '../search/exact.js';
import { HnswIndex } from '../search/hnsw.js';
import type { SearchResults, VectorIndex } from '../search/types.js';
import { rangeError, typeError } from '../validate.js';
import { checkEntries, FaqInputError, readFaq, readFaqRows, type FaqEntry } from './kb.js';

/** What classifies a query's intent: a Predictor of a sequence classifier, or anything with its predict(). */
export interface IntentClassifier {
  predict(text: string): Promise<{ label: string; score: number }>;
}

/** Options of {@link FaqAnswerer.build}. */
export interface FaqOptions {
  /** 'exact' (native block search) or 'hnsw' (approximate, hnswlib-node). @default 'exact' */
  index?: 'exact' | 'hnsw';
  /** Best scores under this are out of scope. @default 0 (never, until calibrate()) */
  threshold?: number;
  /** Narrows retrieval to the rows of the predicted intent. */
  intentClassifier?: IntentClassifier;
  /** The classifier's least score for its intent to filter. @default 0.5 */
  intentThreshold?: number;
}

/** One answer: the KB row whose question matched best among the rows with this answer. */
export interface FaqMatch {
  id: string;
  answer: string;
  /** The KB question that matched. */
  question: string;
  /** Cosine similarity of the query and that question. */
  score: number;
  intent?: string;
}

/** What answer() says about one query. */
export interface FaqAnswer {
  query: string;
  /** True when the best score is under the threshold: hand over to a person. */
  outOfScope: boolean;
  /** The best score (of answers[0]), -Infinity without answers. */
  score: number;
  /** The best distinct answers, best first (returned even when out of scope, for logging). */
  answers: FaqMatch[];
  /** The classifier's intent, when there is one. */
  intent?: { label: string; score: number; filtered: boolean };
}

/** A held-out query and what a right answer is: its KB id, its intent, or none (out of scope). */
export interface HeldOutQuery {
  query: string;
  id?: string;
  intent?: string;
  outOfScope?: boolean;
}

/** What calibrate() found. */
export interface Calibration {
  threshold: number;
  /** Precision of the answered queries at that threshold. */
  precision: number;
  /** Share of the queries answered (not out of scope). */
  coverage: number;
  /** Share of in-scope queries whose top answer is right, threshold aside. */
  top1Accuracy: number;
  /** Whether targetPrecision was reached (else the threshold of the best precision). */
  reached: boolean;
  targetPrecision: number;
  queries: number;
}

/**
 * Answers questions from a knowledge base.
 * @example
 * const encoder = await SentenceEncoder.fromPretrained('models/all-MiniLM-L6-v2');
 * const faq = await FaqAnswerer.build('kb/faq.csv', encoder);
 * await faq.calibrate(heldOut, { targetPrecision: 0.9 });
 * const r = await faq.answer('where is my parcel?'); // { outOfScope, score, answers: [{ answer, question, score }] }
 */
export class FaqAnswerer implements AsyncDisposable {
  readonly encoder: SentenceEncoder;
  readonly entries: readonly FaqEntry[];
  readonly index: VectorIndex;
  threshold: number;
  intentClassifier?: IntentClassifier;
  intentThreshold: number;
  readonly #search: MicroBatcher<{ q: Float32Array; k: number }, SearchResults>;
  readonly #byIntent = new Map<string, number>();

  /** @internal Use build() or load(). */
  constructor(encoder: SentenceEncoder, entries: FaqEntry[], index: VectorIndex, o: FaqOptions) {
    this.encoder = encoder;
    this.entries = entries;
    this.index = index;
    this.threshold = checkThreshold(o.threshold ?? 0, 'threshold');
    this.intentClassifier = o.intentClassifier;
    this.intentThreshold = checkThreshold(o.intentThreshold ?? 0.5, 'intentThreshold');
    for (const e of entries) if (e.intent) this.#byIntent.set(e.intent, (this.#byIntent.get(e.intent) ?? 0) + 1);
    // Concurrent queries share one native search call (same k).
    this.#search = new MicroBatcher(async (items) => {
      const k = items[0].k;
      const same = items.every((x) => x.k === k);
      if (!same) return Promise.all(items.map((x) => index.search(x.q, x.k)));
      const qs = new Float32Array(items.length * index.dim);
      items.forEach((x, i) => qs.set(x.q, i * index.dim));
      const r = await index.search(qs, k);
      return items.map((_, i) => sliceResults(r, i));
    }, { maxBatchSize: 64, maxWaitMs: 2 }, 'FaqAnswerer');
  }

  /**
   * Embeds the KB questions and indexes them.
   * @param source a CSV / TSV / JSONL file (see readFaq) or entries.
   * @throws {FaqInputError} naming file:line for an empty KB, a duplicate id, a row without an answer.
   */
  static async build(source: string | readonly FaqEntry[], encoder: SentenceEncoder, options: FaqOptions = {}): Promise<FaqAnswerer> {
    if (options === null || typeof options !== 'object') throw typeError('an options object', 'options', options);
    const kind = options.index ?? 'exact';
    if (kind !== 'exact' && kind !== 'hnsw') throw rangeError("'exact' or 'hnsw'", 'index', kind);
    const entries = typeof source === 'string' ? await readFaq(source) : checkEntries(source);
    const vectors = await encoder.encode(entries.map((e) => e.question), { normalize: true });
    const index: VectorIndex = kind === 'exact' ? new ExactIndex(encoder.dim, 'cosine') : new HnswIndex(encoder.dim, 'cosine', { capacity: Math.max(16, entries.length) });
    await index.add(entries.map((_, i) => i), vectors);
    return new FaqAnswerer(encoder, entries, index, options);
  }

  /** Reads what save() wrote, with this encoder (the one it was built with). */
  static async load(dir: string, encoder: SentenceEncoder, options: Omit<FaqOptions, 'index'> = {}): Promise<FaqAnswerer> {
    const meta = JSON.parse(await readFile(path.join(dir, 'faq.json'), 'utf8')) as { threshold: number; index: 'exact' | 'hnsw'; dim: number };
    if (meta.dim !== encoder.dim) throw rangeError(`an encoder of dim ${meta.dim} (the index's)`, 'encoder.dim', encoder.dim);
    const entries = (await readFile(path.join(dir, 'kb.jsonl'), 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as FaqEntry);
    const file = path.join(dir, meta.index === 'exact' ? 'questions.index' : 'questions.hnsw');
    const index = meta.index === 'exact' ? await ExactIndex.load(file) : await HnswIndex.load(file);
    return new FaqAnswerer(encoder, entries, index, { threshold: meta.threshold, ...options });
  }

  /** Writes kb.jsonl, the index and faq.json (threshold, index kind) into `dir`. */
  async save(dir: string, extra: Record<string, unknown> = {}): Promise<void> {
    await mkdir(dir, { recursive: true });
    const kind = this.index instanceof ExactIndex ? 'exact' : 'hnsw';
    await writeFileAtomic(path.join(dir, 'kb.jsonl'), this.entries.map((e) => JSON.stringify(e)).join('\n') + '\n');
    await this.index.save(path.join(dir, kind === 'exact' ? 'questions.index' : 'questions.hnsw'));
    await writeFileAtomic(path.join(dir, 'faq.json'), JSON.stringify({ ...extra, threshold: this.threshold, index: kind, dim: this.index.dim, entries: this.entries.length }, null, 2) + '\n');
  }

  /**
   * The best `k` distinct answers for `query`, with the out-of-scope verdict.
   * @throws {TypeError} / {RangeError} for an empty query or a bad k.
   */
  async answer(query: string, { k = 3 }: { k?: number } = {}): Promise<FaqAnswer> {
    if (typeof query !== 'string') throw typeError('a string', 'query', query);
    if (!Number.isInteger(k) || k < 1) throw rangeError('an integer >= 1', 'k', k);
    const [q, intent] = await Promise.all([this.encoder.encode(query, { normalize: true }), this.#intent(query)]);
    const filter = intent && intent.score >= this.intentThreshold && this.#byIntent.has(intent.label) ? intent.label : undefined;
    // Over-fetch: rows sharing an answer collapse to one, and an intent filter drops rows.
    const fetch = Math.min(this.entries.length, filter ? Math.max(50, 10 * k) : Math.max(4 * k, 10));
    let hits = (await this.#search.push({ q, k: fetch })).hits(0);
    if (filter) {
      const kept = hits.filter((h) => this.entries[h.id].intent === filter);
      if (kept.length) hits = kept;
    }
    const answers: FaqMatch[] = [];
    const seen = new Set<string>();
    for (const h of hits) {
      const e = this.entries[h.id];
      if (seen.has(e.answer)) continue;
      seen.add(e.answer);
      answers.push({ id: e.id, answer: e.answer, question: e.question, score: h.score, ...(e.intent ? { intent: e.intent } : {}) });
      if (answers.length === k) break;
    }
    const score = answers[0]?.score ?? -Infinity;
    const out: FaqAnswer = { query, outOfScope: !(score >= this.threshold), score, answers };
    if (intent) out.intent = { ...intent, filtered: filter !== undefined };
    return out;
  }

  /**
   * Chooses the threshold: the lowest best-score at which the answered
   * held-out queries are right at least `targetPrecision` of the time
   * (answering as many as possible); sets and returns it.
   * A query is right when its top answer has its id, or its intent; an
   * out-of-scope query is never right when answered.
   * @throws {FaqInputError} for a held-out file row without a query or any expectation.
   */
  async calibrate(heldOut: string | readonly HeldOutQuery[], { targetPrecision = 0.9 }: { targetPrecision?: number } = {}): Promise<Calibration> {
    if (typeof targetPrecision !== 'number' || !(targetPrecision > 0 && targetPrecision <= 1)) throw rangeError('a number in (0, 1]', 'targetPrecision', targetPrecision);
    const items = typeof heldOut === 'string' ? await readHeldOut(heldOut) : checkHeldOut(heldOut);
    const results = await Promise.all(items.map((x) => this.answer(x.query, { k: 1 })));
    const scored = results.map((r, i) => {
      const x = items[i];
      const top = r.answers[0];
      const right = !x.outOfScope && !!top && ((x.id !== undefined && top.id === x.id) || (x.intent !== undefined && top.intent === x.intent));
      return { score: r.score, right };
    }).sort((a, b) => b.score - a.score);
    const inScope = items.filter((x) => !x.outOfScope).length;
    let best = { threshold: Infinity, precision: 0, answered: 0 };
    let bestPrecision = { threshold: Infinity, precision: 0, answered: 0 };
    let right = 0;
    scored.forEach((s, i) => {
      right += s.right ? 1 : 0;
      // A threshold can only fall between different scores.
      if (i + 1 < scored.length && scored[i + 1].score === s.score) return;
      const p = right / (i + 1);
      if (p >= targetPrecision && i + 1 > best.answered) best = { threshold: s.score, precision: p, answered: i + 1 };
      if (p > bestPrecision.precision) bestPrecision = { threshold: s.score, precision: p, answered: i + 1 };
    });
    const reached = best.answered > 0;
    const chosen = reached ? best : bestPrecision;
    this.threshold = chosen.threshold;
    return {
      threshold: chosen.threshold, precision: chosen.precision, coverage: chosen.answered / scored.length,
      top1Accuracy: inScope ? scored.filter((s) => s.right).length / inScope : NaN, reached, targetPrecision, queries: scored.length,
    };
  }

  /** Frees the index (the encoder and classifier stay the caller's). */
  async close(): Promise<void> {
    await this.#search.close();
    this.index.dispose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #intent(query: string): Promise<{ label: string; score: number } | undefined> {
    if (!this.intentClassifier) return undefined;
    const p = await this.intentClassifier.predict(query);
    return { label: p.label, score: p.score };
  }
}

function sliceResults(r: SearchResults, i: number): SearchResults {
  const k = r.k;
  return new (r.constructor as typeof SearchResults)(r.ids.slice(i * k, (i + 1) * k), r.scores.slice(i * k, (i + 1) * k), k);
}

function checkThreshold(v: unknown, name: string): number {
  if (typeof v !== 'number' || Number.isNaN(v)) throw rangeError('a number', name, v);
  return v;
}

function checkHeldOut(items: readonly HeldOutQuery[]): HeldOutQuery[] {
  if (!Array.isArray(items) || items.length === 0) throw typeError('a non-empty array of { query, id | intent | outOfScope }', 'heldOut', items);
  return items.map((x, i) => {
    if (!x || typeof x.query !== 'string' || !x.query) throw typeError('a non-empty string', `heldOut[${i}].query`, x?.query);
    if (x.id === undefined && x.intent === undefined && !x.outOfScope) throw typeError('an id, an intent or outOfScope: true', `heldOut[${i}]`, x);
    return x;
  });
}

/** Held-out queries from CSV / TSV / JSONL: `query`, and `id` or `intent`, or `out_of_scope` (1/true). */
export async function readHeldOut(file: string): Promise<HeldOutQuery[]> {
  const out: HeldOutQuery[] = [];
  for await (const { line, fields } of readFaqRows(file)) {
    const query = fields.query?.trim();
    if (!query) throw new FaqInputError(file, line, 'row without a query (column "query")');
    const oos = /^(1|true|yes)$/i.test(fields.out_of_scope?.trim() ?? '');
    const x: HeldOutQuery = { query };
    if (fields.id?.trim()) x.id = fields.id.trim();
    if (fields.intent?.trim()) x.intent = fields.intent.trim();
    if (oos) x.outOfScope = true;
    if (x.id === undefined && x.intent === undefined && !oos) throw new FaqInputError(file, line, 'row without an expected id, intent or out_of_scope');
    out.push(x);
  }
  if (!out.length) throw new FaqInputError(file, undefined, 'no held-out queries');
  return out;
}
