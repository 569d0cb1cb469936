// Reading training text for a WordPiece vocabulary: files (plain or .gz) and
// iterators are streamed in chunks, normalized by the `tokenizers` package's
// BertNormalizer, split into words by BertPreTokenizer's rule, and counted.
// The counts then go to learnWordPiece (wordpiece-trainer.ts). Memory: one
// chunk of text plus the table of distinct words, as in HF's trainer.

import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import tokenizers from 'tokenizers';
import type { NormalizerFlags } from './bert-json.js';
import { learnWordPiece } from './wordpiece-trainer.js';

/** What the trainer needs, already validated by trainWordPiece. */
export interface TrainPlan {
  files: string[];
  texts: Iterable<string> | AsyncIterable<string> | undefined;
  vocabSize: number;
  minFrequency: number;
  limitAlphabet: number | undefined;
  specialTokens: string[];
  flags: NormalizerFlags;
}

// Text is handed to the normalizer in pieces of about this many characters,
// cut at line ends (whitespace), so no word is split between two pieces.
const CHUNK_CHARS = 1 << 20;

// BertPreTokenizer (tokenizers/src/pre_tokenizers/bert.rs): split on Unicode
// White_Space, then isolate every punctuation character (ASCII punctuation or
// general category P). The binding's preTokenizeString gives the same words
// (test/tokenizer.test.ts checks it) but builds a JS array per word through
// N-API, 18 times slower than this one regular expression.
const BERT_WORD =
  /[\p{P}!-\/:-@[-`{-~]|[^\p{P}!-\/:-@[-`{-~\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/gu;

/** @internal The words BertPreTokenizer makes of already normalized text. */
export function bertWords(normalized: string): string[] {
  return normalized.match(BERT_WORD) ?? [];
}

/** Learns a WordPiece vocabulary and returns it in id order. */
export async function trainVocab(plan: TrainPlan): Promise<string[]> {
  const counter = new WordCounter(plan.flags);
  for (const file of plan.files) {
    const stream = file.endsWith('.gz') ? createReadStream(file).pipe(createGunzip()) : createReadStream(file);
    const decoder = new TextDecoder('utf-8');
    for await (const chunk of stream as AsyncIterable<Buffer>) counter.push(decoder.decode(chunk, { stream: true }));
    counter.push(decoder.decode());
    counter.flush();
  }
  if (plan.texts !== undefined) {
    for await (const text of plan.texts as AsyncIterable<string>) {
      if (typeof text !== 'string') throw new TypeError(`Expected strings from iterator but received ${typeof text}`);
      counter.push(text + '\n');
    }
    counter.flush();
  }
  return learnWordPiece(counter.counts, {
    vocabSize: plan.vocabSize,
    minFrequency: plan.minFrequency,
    specialTokens: plan.specialTokens,
    limitAlphabet: plan.limitAlphabet,
  });
}

class WordCounter {
  readonly counts = new Map<string, number>();
  readonly #normalizer: InstanceType<typeof tokenizers.Normalizer>;
  #pending = '';

  constructor(flags: NormalizerFlags) {
    this.#normalizer = tokenizers.bertNormalizer({
      cleanText: true,
      lowercase: flags.lowercase,
      handleChineseChars: flags.handleChineseChars,
      ...(flags.stripAccents === null ? {} : { stripAccents: flags.stripAccents }),
    });
  }

  push(text: string): void {
    this.#pending += text;
    if (this.#pending.length < CHUNK_CHARS) return;
    const cut = this.#pending.lastIndexOf('\n');
    if (cut < 0) return;
    this.#count(this.#pending.slice(0, cut + 1));
    this.#pending = this.#pending.slice(cut + 1);
  }

  flush(): void {
    this.#count(this.#pending);
    this.#pending = '';
  }

  #count(text: string): void {
    if (text.length === 0) return;
    const normalized = this.#normalizer.normalizeString(text);
    for (const word of bertWords(normalized)) this.counts.set(word, (this.counts.get(word) ?? 0) + 1);
  }
}
