// Turning the `tokenizers` package's encodings into bertorch's Encoding
// (typed arrays, UTF-16 offsets), plus the two pieces of transformers'
// behaviour done in TypeScript because the npm binding differs from the
// Python one: pair truncation lengths and decode's space clean-up.
// Pure functions over plain values; no state.

import { inspect, type InspectOptions } from 'node:util';
import type tokenizers from 'tokenizers';
import { codePointToUtf16 } from './offsets.js';
import { upperBound } from '../data/search.js';
import { rangeError } from '../validate.js';

type BackendEncoding = Awaited<ReturnType<InstanceType<typeof tokenizers.Tokenizer>['encode']>>;

/** The model inputs and alignment of one encoded text (or text pair). */
export interface Encoding {
  /** Token ids, `[CLS] A [SEP] (B [SEP])` then padding. */
  inputIds: Int32Array;
  /** 0 for the first sequence (and its special tokens), 1 for the second; 0 on padding. */
  tokenTypeIds: Int32Array;
  /** 1 on real tokens, 0 on padding. */
  attentionMask: Int32Array;
  /** 1 on `[CLS]`, `[SEP]` and padding: positions masked-LM must never pick. */
  specialTokensMask: Int32Array;
  /**
   * `[start, end)` of each token in its own input string (or, for pre-split words, in its
   * word), in UTF-16 code units; `[0, 0]` on special tokens and padding.
   */
  offsets: Array<[number, number]>;
  /** Index of the word each token belongs to (per sequence), `null` on special tokens and padding. */
  wordIds: Array<number | null>;
  /** 0 or 1 for the sequence a token comes from, `null` on special tokens and padding. */
  sequenceIds: Array<number | null>;
  /** The token strings. */
  tokens: string[];
}

/** @internal How many tokens each input kept before the special tokens were added. */
export interface Layout {
  first: number;
  second: number | undefined;
}

/** @internal An input as given: a text, or with `isSplitIntoWords` its words. */
export type Source = string | readonly string[];

/**
 * @internal What the backend encodes for an input: the text itself, or the
 * words joined by single spaces. The npm binding takes no pre-tokenized input,
 * and BERT's pre-tokenizer splits on whitespace whatever else it does, so the
 * joined text gives each word the pieces it gets alone; `starts` (UTF-16) then
 * recovers the word of each piece (test/hf-folders.test.ts checks this against
 * transformers' `is_split_into_words` on 120 word lists of 4 folders).
 */
export function encodedText(source: Source): string {
  return typeof source === 'string' ? source : source.join(' ');
}

function wordStarts(words: readonly string[]): Int32Array {
  const starts = new Int32Array(words.length);
  let at = 0;
  words.forEach((word, k) => {
    starts[k] = at;
    at += word.length + 1;
  });
  return starts;
}

// Sequence ids as transformers' `sequence_ids()`: null on whatever the
// post-processor added and on padding (the special-tokens mask), then 0 for the
// first input's tokens and 1 for the second's, whatever the template's order.
// (The binding's getSequenceIds() loses the first text's range when
// post-processing encodings made one by one.)
function sequenceIdsOf(layout: Layout, special: readonly number[]): Array<number | null> {
  const ids: Array<number | null> = new Array(special.length).fill(null);
  let seen = 0;
  for (let t = 0; t < special.length; t++) {
    if (special[t] === 1) continue;
    ids[t] = seen < layout.first ? 0 : 1;
    seen++;
  }
  return ids;
}

// Offsets in UTF-16 units of each token's own string (text, or word) and word
// ids: the package's for a text, recovered from the offsets for words.
function alignment(encoding: BackendEncoding, seqIds: Array<number | null>, sources: readonly [Source, Source | undefined]) {
  const kinds = sources.map((source) => {
    if (source === undefined) return undefined;
    const text = encodedText(source);
    return { map: codePointToUtf16(text), starts: typeof source === 'string' ? undefined : wordStarts(source) };
  });
  // The package's word ids serve texts only; words get theirs from the offsets.
  const packageWordIds = typeof sources[0] === 'string' ? encoding.getWordIds() : [];
  const wordIds: Array<number | null> = [];
  const offsets = encoding.getOffsets().map(([start, end], i): [number, number] => {
    const seq = seqIds[i];
    const kind = seq === null ? undefined : kinds[seq];
    if (!kind) {
      wordIds.push(null);
      return [start, end];
    }
    const [s, e] = kind.map ? [kind.map(start), kind.map(end)] : [start, end];
    if (!kind.starts) {
      wordIds.push(packageWordIds[i] ?? null);
      return [s, e];
    }
    const word = upperBound(kind.starts, s) - 1;
    wordIds.push(word);
    return [s - kind.starts[word], e - kind.starts[word]];
  });
  return { offsets, wordIds };
}

/**
 * @internal An encoding of the package as bertorch's Encoding. `inputIds` is
 * copied at once; every other field when first read (then kept as a plain
 * value). Each field is a call into the package that allocates its array, so
 * a caller reading ids alone skips most of the cost (scripts/bench/data.ts,
 * one thread: 528k tokens/s with every field copied, 730k now, against 768k
 * for the package's encodeBatch reading ids alone). Until its last lazy field
 * is read, an Encoding holds the package's encoding (about the size of the
 * arrays it would have become) and the inputs. Offsets are in UTF-16 units of
 * the string a token comes from: the text, or with pre-split words the word
 * (as transformers' `offset_mapping` with `is_split_into_words`).
 */
export function toEncoding(encoding: BackendEncoding, layout: Layout, sources: readonly [Source, Source | undefined]): Encoding {
  const out = { inputIds: Int32Array.from(encoding.getIds()) } as Encoding;
  let special: number[] | undefined;
  let sequenceIds: Array<number | null> | undefined;
  let aligned: ReturnType<typeof alignment> | undefined;
  const specialMask = () => (special ??= encoding.getSpecialTokensMask());
  const seqIds = () => (sequenceIds ??= sequenceIdsOf(layout, specialMask()));
  const align = () => (aligned ??= alignment(encoding, seqIds(), sources));
  lazy(out, 'tokenTypeIds', () => Int32Array.from(encoding.getTypeIds()));
  lazy(out, 'attentionMask', () => Int32Array.from(encoding.getAttentionMask()));
  lazy(out, 'specialTokensMask', () => Int32Array.from(specialMask()));
  lazy(out, 'offsets', () => align().offsets);
  lazy(out, 'wordIds', () => align().wordIds);
  lazy(out, 'sequenceIds', seqIds);
  lazy(out, 'tokens', () => encoding.getTokens());
  // console.log would print [Getter/Setter] for the fields not read yet.
  Object.defineProperty(out, inspect.custom, { value: (_depth: number, options: InspectOptions) => inspect({ ...out }, options) });
  return out;
}

// An enumerable property computed on first read, then a plain data property
// (so spreading, JSON.stringify, structuredClone and assignment all behave
// as they would on a plain object). On a frozen object the accessor cannot be
// replaced: the value is kept in the closure instead.
function lazy<T extends object, K extends keyof T>(obj: T, key: K, compute: () => T[K]): void {
  let kept: { value: T[K] } | undefined;
  const settle = (value: T[K]) => {
    if (Object.getOwnPropertyDescriptor(obj, key)?.configurable) {
      Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
    } else {
      kept = { value };
    }
    return value;
  };
  Object.defineProperty(obj, key, { get: () => (kept ? kept.value : settle(compute())), set: settle, enumerable: true, configurable: true });
}

/**
 * @internal How many tokens of each text survive truncation to `budget`
 * (maxLength minus the special tokens): HF tokenizers' `truncate_encodings`,
 * as transformers runs it. Done here because the npm binding's build splits a
 * pair differently when both texts exceed the budget.
 */
export function truncatedLengths(
  n1: number,
  n2: number | undefined,
  budget: number,
  strategy: 'longest_first' | 'only_second',
): [number, number] {
  const second = n2 ?? 0;
  if (budget === 0) return [0, 0];
  if (n1 + second <= budget) return [n1, second];
  const toRemove = n1 + second - budget;
  if (strategy === 'only_second') {
    if (n2 === undefined) throw rangeError("a text pair with truncation 'only_second'", 'pair', n2);
    if (n2 <= toRemove) {
      throw new RangeError(
        `Expected a second text of more than ${toRemove} tokens for truncation 'only_second' but received one of ${n2} tokens`,
      );
    }
    return [n1, n2 - toRemove];
  }
  if (n2 === undefined) return [n1 - toRemove, 0];
  // The shorter text keeps what it can; if both are long, they share the budget
  // and the longer one gets the odd token.
  const swap = n1 > n2;
  let [short, long] = swap ? [n2, n1] : [n1, n2];
  long = short > budget ? short : Math.max(short, budget - short);
  if (short + long > budget) {
    short = Math.floor(budget / 2);
    long = short + (budget % 2);
  }
  return swap ? [long, short] : [short, long];
}


/** @internal transformers' `clean_up_tokenization`. */
// transformers' `clean_up_tokenization` (tokenization_utils_base.py), which its
// decode applies to the whole text. The package's WordPiece decoder does the
// same replacements one token at a time, so it misses " ' " across tokens.
export function cleanUpTokenization(text: string): string {
  return text
    .replaceAll(' .', '.')
    .replaceAll(' ?', '?')
    .replaceAll(' !', '!')
    .replaceAll(' ,', ',')
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}
