// Dynamic masked-language-model masking (BERT, Devlin et al. 2019 §3.1; HF
// DataCollatorForLanguageModeling and DataCollatorForWholeWordMask; SpanBERT's
// span masking, Joshi et al. 2020): 15% of
// the tokens that are neither special nor padding become targets; of those 80%
// turn into [MASK], 10% into a random token and 10% stay as they are. Labels
// are the original ids at targets and -100 elsewhere (PyTorch's ignore_index).
// Masks are drawn from a small seeded generator keyed by (seed, epoch, index),
// so an example gets a new mask each epoch, and a rerun or a resumed run gets
// the same masks. Pure functions over typed arrays; no native code.

import type { Tokenizer } from '../tokenizer.js';
import { optionalBoolean, optionalInteger, optionalNumber, optionsObject, typeError } from '../validate.js';

/** The label value losses skip (PyTorch `CrossEntropyLoss(ignore_index=-100)`). */
export const IGNORE_INDEX = -100;

/**
 * A small seeded generator (sfc32, from PractRand) whose state is a hash of
 * integer keys, so `new Rng(seed, epoch, index)` is a stream of its own for
 * each example and epoch. Not for cryptography.
 * @example
 * const rng = new Rng(42, epoch, index);
 * if (rng.next() < 0.15) mask();
 */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(...keys: number[]) {
    // murmur3's fmix32 over the keys, two 32-bit halves each (keys up to 2^53).
    let h = 0x9e3779b9;
    const mix = (k: number) => {
      h = Math.imul(h ^ k, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      h ^= h >>> 16;
    };
    for (const key of keys) {
      if (!Number.isSafeInteger(key)) throw typeError('integer keys', 'Rng', key);
      mix(key >>> 0);
      mix(Math.floor(key / 2 ** 32) >>> 0);
    }
    this.#a = h;
    mix(1);
    this.#b = h;
    mix(2);
    this.#c = h;
    this.#d = 1;
    for (let i = 0; i < 12; i++) this.nextU32(); // warm up, as sfc32's authors advise
  }

  /** A uniform 32-bit unsigned integer. */
  nextU32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** A uniform number in [0, 1) with 32 bits of randomness. */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** A uniform integer in [0, n) for n up to 2^32 (bias below n / 2^32). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Shuffles `array` in place (Fisher-Yates) and returns it. */
  shuffle<T extends { length: number; [i: number]: unknown }>(array: T): T {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }
}

/** What masking needs to know about the vocabulary. */
export interface MaskingVocab {
  /** Id of `[MASK]`. */
  maskId: number;
  /** Number of tokens; random replacements are drawn from `[0, vocabSize)`, as HF does. */
  vocabSize: number;
  /** 1 at ids never chosen as targets: `[CLS]`, `[SEP]`, `[PAD]`, `[UNK]`, `[MASK]` and other special tokens (HF `all_special_ids`). */
  special: Uint8Array;
  /** 1 at ids that continue a word (WordPiece `##` pieces); needed for whole-word masking. */
  continuation?: Uint8Array;
}

/**
 * The {@link MaskingVocab} of a tokenizer: its special tokens, and `##` pieces as word continuations.
 * @example
 * const vocab = maskingVocabOf(await Tokenizer.fromPretrained('bert-tiny'));
 */
export function maskingVocabOf(tokenizer: Pick<Tokenizer, 'vocab' | 'specialTokenIds' | 'additionalSpecialTokens' | 'tokenToId'>): MaskingVocab {
  const vocab = tokenizer.vocab;
  const special = new Uint8Array(vocab.length);
  for (const id of Object.values(tokenizer.specialTokenIds)) special[id] = 1;
  for (const token of tokenizer.additionalSpecialTokens) {
    const id = tokenizer.tokenToId(token);
    if (id !== undefined) special[id] = 1;
  }
  const continuation = new Uint8Array(vocab.length);
  vocab.forEach((token, id) => {
    if (token.startsWith('##') && token.length > 2) continuation[id] = 1;
  });
  return { maskId: tokenizer.specialTokenIds.mask, vocabSize: vocab.length, special, continuation };
}

/** Options of {@link maskTokens}. */
export interface MaskingOptions {
  /**
   * Share of eligible tokens that become targets (HF `mlm_probability`).
   * @default 0.15
   */
  probability?: number;
  /**
   * Mask whole words: a word's `##` pieces are targets together, and about
   * `probability` of the eligible tokens are chosen word by word (HF
   * DataCollatorForWholeWordMask). Needs `vocab.continuation`.
   * @default false
   */
  wholeWord?: boolean;
  /**
   * Mask spans of whole words (SpanBERT, Joshi et al. 2020 §3.1): span
   * lengths in words drawn from a geometric distribution (p = 0.2, clipped at
   * 10, mean 3.8 words), each starting at a random unmasked word, until about
   * `probability` of the eligible tokens are targets. A span gets one
   * 80/10/10 decision for all its tokens. Needs `vocab.continuation`; takes
   * precedence over `wholeWord` (its spans are whole words already).
   * @default false
   */
  span?: boolean;
  /** @default 0 */
  seed?: number;
  /** @default 0 */
  epoch?: number;
  /** The example's index in its dataset. @default 0 */
  index?: number;
}

/** A masked example: model inputs and labels (-100 where there is nothing to predict). */
export interface MaskedTokens {
  inputIds: Int32Array;
  labels: Int32Array;
}

/**
 * Masks one sequence for masked-LM training: the same (seed, epoch, index)
 * always gives the same mask.
 * @throws {TypeError} for ids that are not an array of integers, or whole-word masking without `vocab.continuation`.
 * @throws {RangeError} for a probability outside [0, 1].
 * @example
 * const { inputIds, labels } = maskTokens(block, vocab, { seed: 42, epoch, index: i });
 */
export function maskTokens(ids: ArrayLike<number>, vocab: MaskingVocab, options?: MaskingOptions): MaskedTokens {
  const opts = optionsObject(options, 'options');
  const probability = optionalNumber(opts.probability, 'probability', 0.15, 0, 1);
  const wholeWord = optionalBoolean(opts.wholeWord, 'wholeWord', false);
  const span = optionalBoolean(opts.span, 'span', false);
  const seed = optionalInteger(opts.seed, 'seed', 0);
  const epoch = optionalInteger(opts.epoch, 'epoch', 0);
  const index = optionalInteger(opts.index, 'index', 0);
  if (ids === null || typeof ids !== 'object' || typeof ids.length !== 'number') throw typeError('an array of token ids', 'ids', ids);
  if ((wholeWord || span) && !vocab.continuation) throw typeError(`a vocab with continuation (see maskingVocabOf) for ${span ? 'span' : 'wholeWord'}`, 'vocab', vocab);
  const rng = new Rng(seed, epoch, index);
  const inputIds = Int32Array.from(ids);
  const labels = new Int32Array(inputIds.length).fill(IGNORE_INDEX);
  if (span) {
    for (const [start, end] of spanTargets(inputIds, vocab, probability, rng)) {
      // SpanBERT decides [MASK] / random / unchanged once per span, not per token.
      const r = rng.next();
      for (let t = start; t < end; t++) {
        labels[t] = inputIds[t];
        if (r < 0.8) inputIds[t] = vocab.maskId;
        else if (r < 0.9) inputIds[t] = rng.int(vocab.vocabSize);
      }
    }
    return { inputIds, labels };
  }
  const targets = wholeWord ? wholeWordTargets(inputIds, vocab, probability, rng) : tokenTargets(inputIds, vocab, probability, rng);
  for (let t = 0; t < inputIds.length; t++) {
    if (!targets[t]) continue;
    labels[t] = inputIds[t];
    // 80% [MASK], 10% a random token, 10% unchanged (BERT §3.1, HF torch_mask_tokens).
    const r = rng.next();
    if (r < 0.8) inputIds[t] = vocab.maskId;
    else if (r < 0.9) inputIds[t] = rng.int(vocab.vocabSize);
  }
  return { inputIds, labels };
}

function eligible(id: number, vocab: MaskingVocab): boolean {
  return !(id >= 0 && id < vocab.special.length && vocab.special[id] === 1);
}

// Each eligible token is a target with the given probability (a Bernoulli draw, as
// HF's DataCollatorForLanguageModeling), and at least one is, as in BERT's
// create_pretraining_data.py and HF's whole-word collator (max(1, ...)): a batch
// with no target has a NaN loss, which stops training. The extra draw happens
// only when the Bernoulli draws chose nothing, so it changes short sequences
// alone: n eligible tokens get 0.15 n + 0.85^n targets on average (n = 8: 1.47
// instead of 1.2; n = 30: 4.51 instead of 4.5).
function tokenTargets(ids: Int32Array, vocab: MaskingVocab, probability: number, rng: Rng): Uint8Array {
  const targets = new Uint8Array(ids.length);
  let any = false;
  for (let t = 0; t < ids.length; t++) {
    if (eligible(ids[t], vocab) && rng.next() < probability) {
      targets[t] = 1;
      any = true;
    }
  }
  if (!any && probability > 0) {
    const t = drawEligible(ids.length, (i) => eligible(ids[i], vocab), (n) => rng.int(n));
    if (t >= 0) targets[t] = 1;
  }
  return targets;
}

/**
 * @internal One of the positions in [0, length) that `eligible` accepts,
 * uniformly (`draw(n)` gives an integer in [0, n)), or -1 when there is none:
 * the at-least-one-target rule of both maskers (this file's and MlmSource's).
 */
export function drawEligible(length: number, eligible: (i: number) => boolean, draw: (n: number) => number): number {
  const candidates: number[] = [];
  for (let i = 0; i < length; i++) if (eligible(i)) candidates.push(i);
  return candidates.length > 0 ? candidates[draw(candidates.length)] : -1;
}

// Words: a start and its ## pieces, as [start, end) runs of eligible tokens.
function wordsOf(ids: Int32Array, vocab: MaskingVocab): { words: Array<[number, number]>; eligibleCount: number } {
  const continuation = vocab.continuation!;
  const words: Array<[number, number]> = [];
  let eligibleCount = 0;
  for (let t = 0; t < ids.length; t++) {
    if (!eligible(ids[t], vocab)) continue;
    eligibleCount++;
    const continues = continuation[ids[t]] === 1 && words.length > 0 && words[words.length - 1][1] === t;
    if (continues) words[words.length - 1][1] = t + 1;
    else words.push([t, t + 1]);
  }
  return { words, eligibleCount };
}

/** SpanBERT's span lengths in words: Geo(0.2) on 1..10, renormalised (their len_distrib). */
export const SPAN_LENGTH_PROBABILITIES: readonly number[] = (() => {
  const w = Array.from({ length: 10 }, (_, i) => 0.2 * 0.8 ** i);
  const sum = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / sum);
})();

function spanLength(rng: Rng): number {
  let r = rng.next();
  for (let i = 0; i < SPAN_LENGTH_PROBABILITIES.length; i++) {
    r -= SPAN_LENGTH_PROBABILITIES[i];
    if (r < 0) return i + 1;
  }
  return SPAN_LENGTH_PROBABILITIES.length;
}

// SpanBERT's PairWithSpanMaskingScheme: a length, an anchor word not yet
// masked, then that word and the ones after it while the span is shorter
// than the length, the next word is adjacent (no special token between) and
// unmasked, and the budget round(probability x eligible tokens) (at least 1)
// is not reached. A word is taken whole, so the last one may pass the budget
// by its extra pieces; SpanBERT cuts it there instead, a broken word.
// Returns the spans as [start, end) token ranges.
/** @internal The spans maskTokens({ span: true }) masks, for tests of their statistics. */
export function spanTargets(ids: Int32Array, vocab: MaskingVocab, probability: number, rng: Rng): Array<[number, number]> {
  const { words, eligibleCount } = wordsOf(ids, vocab);
  const spans: Array<[number, number]> = [];
  if (eligibleCount === 0 || probability === 0) return spans;
  const wanted = Math.max(1, Math.round(eligibleCount * probability));
  const masked = new Uint8Array(words.length);
  const free: number[] = words.map((_, i) => i);
  let covered = 0;
  while (covered < wanted && free.length > 0) {
    const length = spanLength(rng);
    let w = free[rng.int(free.length)];
    const start = words[w][0];
    let n = 0;
    for (; n < length && w < words.length && !masked[w] && covered < wanted; n++, w++) {
      if (n > 0 && words[w][0] !== words[w - 1][1]) break;
      masked[w] = 1;
      covered += words[w][1] - words[w][0];
    }
    spans.push([start, words[w - 1][1]]);
    for (let i = free.length - 1; i >= 0; i--) if (masked[free[i]]) free.splice(i, 1);
  }
  return spans;
}

// HF DataCollatorForWholeWordMask._whole_word_mask: words (a start and its
// ## pieces) in random order are taken while they fit into
// round(probability x eligible tokens), at least one token.
function wholeWordTargets(ids: Int32Array, vocab: MaskingVocab, probability: number, rng: Rng): Uint8Array {
  const { words, eligibleCount } = wordsOf(ids, vocab);
  const targets = new Uint8Array(ids.length);
  if (eligibleCount === 0 || probability === 0) return targets;
  const wanted = Math.max(1, Math.round(eligibleCount * probability));
  let covered = 0;
  for (const [start, end] of rng.shuffle(words)) {
    if (covered >= wanted) break;
    if (covered + (end - start) > wanted) continue;
    targets.fill(1, start, end);
    covered += end - start;
  }
  return targets;
}
