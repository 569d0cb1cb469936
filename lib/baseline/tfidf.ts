/**
 * TF-IDF features as scikit-learn's TfidfVectorizer computes them, for the
 * word-count baseline printed beside every fine-tuned model (issue 23 item 4):
 * word n-grams (token pattern \b\w\w+\b, lowercased) and character n-grams
 * inside word boundaries (analyzer 'char_wb'), each block with smooth idf,
 * sublinear tf and L2-normalised rows, side by side (sklearn's FeatureUnion /
 * hstack). Sparse rows as parallel typed arrays. Pure TypeScript, no native
 * code; an instance is immutable after fit().
 */
import { invalidRange } from '../errors.js';

/** One sparse row: feature indices (ascending) and values. */
export interface SparseRow {
  indices: Int32Array;
  values: Float32Array;
}

export interface TfidfOptions {
  /** Word n-gram range. @default [1, 2] */
  wordNgrams?: [number, number];
  /** Character n-gram range within words ('char_wb'); null for none. @default [2, 5] */
  charNgrams?: [number, number] | null;
  /** Ignore n-grams found in fewer documents. @default 1 */
  minDf?: number;
  /** 1 + ln(tf) instead of tf. @default true */
  sublinearTf?: boolean;
}

// sklearn's default token_pattern r"(?u)\b\w\w+\b": two or more word characters.
const WORD = /[\p{L}\p{N}\p{M}_]{2,}/gu;

/** sklearn _word_ngrams: the tokens' n-grams joined by spaces. */
export function wordNgrams(text: string, [lo, hi]: [number, number]): string[] {
  const tokens = text.toLowerCase().match(WORD) ?? [];
  const out: string[] = [];
  for (let n = lo; n <= hi; n++) for (let i = 0; i + n <= tokens.length; i++) out.push(n === 1 ? tokens[i] : tokens.slice(i, i + n).join(' '));
  return out;
}

/** sklearn _char_wb_ngrams: n-grams of each whitespace-split word padded with a space on both sides. */
export function charWbNgrams(text: string, [lo, hi]: [number, number]): string[] {
  const out: string[] = [];
  for (const word of text.toLowerCase().split(/\s+/)) {
    if (!word) continue;
    const w = [...` ${word} `];  // code points, as Python strings index
    for (let n = lo; n <= hi; n++) {
      let offset = 0;
      out.push(w.slice(offset, offset + n).join(''));
      while (offset + n < w.length) {
        offset++;
        out.push(w.slice(offset, offset + n).join(''));
      }
      if (offset === 0) break;  // a word shorter than n counts once
    }
  }
  return out;
}

interface Block {
  vocab: Map<string, number>;
  idf: Float64Array;
  analyze: (text: string) => string[];
}

export class TfidfVectorizer {
  readonly options: Required<TfidfOptions>;
  #blocks: Block[] = [];
  #offsets: number[] = [];

  constructor(options: TfidfOptions = {}) {
    const range = (r: unknown, name: string) => {
      if (!Array.isArray(r) || r.length !== 2 || !r.every((x) => Number.isInteger(x) && x >= 1) || r[0] > r[1]) invalidRange('[lo, hi] with 1 <= lo <= hi', name, r);
    };
    const o = { wordNgrams: [1, 2] as [number, number], charNgrams: [2, 5] as [number, number] | null, minDf: 1, sublinearTf: true, ...options };
    range(o.wordNgrams, 'wordNgrams');
    if (o.charNgrams !== null) range(o.charNgrams, 'charNgrams');
    if (!Number.isInteger(o.minDf) || o.minDf < 1) invalidRange('a positive integer', 'minDf', o.minDf);
    this.options = o;
  }

  /** Number of features (after fit). */
  get size(): number {
    return this.#offsets.length ? this.#offsets[this.#offsets.length - 1] : 0;
  }

  /** Learns the vocabularies and idf weights of `texts`; returns their rows. */
  fitTransform(texts: readonly string[]): SparseRow[] {
    const { wordNgrams: wr, charNgrams: cr } = this.options;
    const analyzers = [(t: string) => wordNgrams(t, wr), ...(cr ? [(t: string) => charWbNgrams(t, cr)] : [])];
    this.#blocks = analyzers.map((analyze) => this.#fitBlock(texts, analyze));
    this.#offsets = [0];
    for (const b of this.#blocks) this.#offsets.push(this.#offsets[this.#offsets.length - 1] + b.vocab.size);
    return this.transform(texts);
  }

  #fitBlock(texts: readonly string[], analyze: (t: string) => string[]): Block {
    const df = new Map<string, number>();
    for (const t of texts) for (const g of new Set(analyze(t))) df.set(g, (df.get(g) ?? 0) + 1);
    // sklearn sorts the vocabulary; indices follow that order.
    const terms = [...df.keys()].filter((g) => df.get(g)! >= this.options.minDf).sort();
    const vocab = new Map(terms.map((g, i) => [g, i]));
    const n = texts.length;
    const idf = Float64Array.from(terms, (g) => Math.log((1 + n) / (1 + df.get(g)!)) + 1);  // smooth_idf
    return { vocab, idf, analyze };
  }

  /** Rows of `texts` with the fitted vocabularies (unknown n-grams dropped). */
  transform(texts: readonly string[]): SparseRow[] {
    if (!this.#blocks.length) throw new Error('TfidfVectorizer: call fitTransform() before transform()');
    return texts.map((text) => {
      const idx: number[] = [];
      const val: number[] = [];
      this.#blocks.forEach((b, k) => {
        const counts = new Map<number, number>();
        for (const g of b.analyze(text)) {
          const j = b.vocab.get(g);
          if (j !== undefined) counts.set(j, (counts.get(j) ?? 0) + 1);
        }
        const js = [...counts.keys()].sort((a, c) => a - c);
        const w = js.map((j) => (this.options.sublinearTf ? 1 + Math.log(counts.get(j)!) : counts.get(j)!) * b.idf[j]);
        const norm = Math.sqrt(w.reduce((sum, x) => sum + x * x, 0)) || 1;
        js.forEach((j, i) => { idx.push(this.#offsets[k] + j); val.push(w[i] / norm); });
      });
      return { indices: Int32Array.from(idx), values: Float32Array.from(val) };
    });
  }
}
