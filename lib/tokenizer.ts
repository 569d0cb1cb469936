// BERT's WordPiece tokenizer over HuggingFace's `tokenizers` package (Rust,
// N-API): this file validates arguments, builds the same tokenizer.json that
// transformers' BertTokenizerFast builds, and turns encodings into typed
// arrays. Normalizing, splitting and WordPiece lookup are the package's; only
// where its npm build behaves unlike transformers (pair truncation lengths,
// decode clean-up, training options) is the behaviour done in TypeScript,
// see tokenizer/encoding.ts and tokenizer/wordpiece-trainer.ts. No libtorch:
// the bertorch addon is never loaded from here (DESIGN.md "Layers").
// Threading: encode/decode run on the libuv pool (Promises); training runs on
// the JS thread, yielding to the event loop as it goes. A Tokenizer is
// immutable, so concurrent calls are safe.

import { createHash } from 'node:crypto';
import { access, mkdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import tokenizers from 'tokenizers';
import { usableMemory } from './memory.js';
import {
  BERT_SPECIAL_TOKENS,
  bertTokenizerJson,
  normalizerFlags,
  overrideNormalizer,
  specialTokensOf,
  type NormalizerFlags,
  type SpecialTokens,
  type TokenizerJson,
} from './tokenizer/bert-json.js';
import {
  readTokenizerConfig,
  readTokenizerJson,
  readVocabFile,
  vocabInIdOrder,
  specialTokensMapJson,
  tokenizerConfigJson,
  vocabFileText,
  writeAtomic,
  type ConfigToWrite,
} from './tokenizer/hf-files.js';
import { cleanUpTokenization, encodedText, toEncoding, truncatedLengths, type Encoding, type Source } from './tokenizer/encoding.js';
import { backendSettings, encodePlan, padTarget, type EncodeOptions, type EncodePlan, type Side } from './tokenizer/plan.js';
import { trainVocab } from './tokenizer/train.js';
import {
  optionalBoolean,
  optionalInteger,
  optionsObject,
  rangeError,
  requireString,
  show,
  typeError,
} from './validate.js';

export type { NormalizerFlags, SpecialTokens } from './tokenizer/bert-json.js';
export type { Encoding } from './tokenizer/encoding.js';
export type { EncodeOptions } from './tokenizer/plan.js';
export { BERT_SPECIAL_TOKENS } from './tokenizer/bert-json.js';

type Backend = InstanceType<typeof tokenizers.Tokenizer>;
type BackendEncoding = Awaited<ReturnType<Backend['encode']>>;

/** Options of {@link Tokenizer.decode}. */
export interface DecodeOptions {
  /**
   * Leave out `[CLS]`, `[SEP]`, `[PAD]` and the other special tokens.
   * @default false
   */
  skipSpecialTokens?: boolean;
  /**
   * Remove spaces before punctuation and in English contractions ("do n't" to
   * "don't"), as transformers' `clean_up_tokenization` does.
   * @default the tokenizer's `cleanUpTokenizationSpaces`
   */
  cleanUpTokenizationSpaces?: boolean;
}

/** Options of {@link Tokenizer.fromVocab}: the keys of HF's BertTokenizerFast. */
export interface VocabOptions {
  /**
   * Lowercase the text (HF `do_lower_case`).
   * @default true
   */
  lowercase?: boolean;
  /**
   * Strip accents; `null` follows `lowercase` (HF `strip_accents`).
   * @default null
   */
  stripAccents?: boolean | null;
  /**
   * Split around CJK ideographs (HF `tokenize_chinese_chars`).
   * @default true
   */
  handleChineseChars?: boolean;
  /**
   * Names of the special tokens, if not BERT's `[UNK]`, `[CLS]`, `[SEP]`, `[PAD]`, `[MASK]`.
   * @default BERT_SPECIAL_TOKENS
   */
  specialTokens?: Partial<SpecialTokens>;
  /**
   * Longest input the model takes (HF `model_max_length`), used when truncating
   * or padding without `maxLength`. `Infinity` means no limit.
   * @default 512
   */
  modelMaxLength?: number;
}

/**
 * Options of {@link trainWordPiece}. Defaults are those of HF's
 * `BertWordPieceTokenizer.train`, and the semantics those of its WordPieceTrainer.
 */
export interface TrainWordPieceOptions {
  /** Plain text files (`.gz` too). Give `files`, `iterator`, or both. */
  files?: string[];
  /** Texts to train on, for example the lines of a prepared corpus. */
  iterator?: Iterable<string> | AsyncIterable<string>;
  /**
   * Vocabulary size, special tokens included. The alphabet is always kept
   * whole, so a tiny size can give more; a corpus that runs out of pairs to
   * merge gives fewer.
   * @default 30000
   */
  vocabSize?: number;
  /**
   * Stop merging when the most frequent pair occurs fewer times than this (HF `min_frequency`).
   * @default 2
   */
  minFrequency?: number;
  /**
   * Keep at most this many distinct characters, the most frequent (HF `limit_alphabet`); `Infinity` keeps all.
   * @default 1000
   */
  limitAlphabet?: number;
  /**
   * Special tokens, first in the vocabulary in this order. Must contain BERT's
   * five; any others become `additional_special_tokens`.
   * @default ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
   */
  specialTokens?: string[];
  /** @default true */
  lowercase?: boolean;
  /** @default null (follows `lowercase`) */
  stripAccents?: boolean | null;
  /** @default true */
  handleChineseChars?: boolean;
  /** @default 512 */
  modelMaxLength?: number;
}

const DEFAULT_MODEL_MAX_LENGTH = 512;

interface TokenizerInit {
  json: TokenizerJson;
  special: SpecialTokens;
  additionalSpecialTokens: string[];
  modelMaxLength: number;
  source: string;
  cleanUpTokenizationSpaces?: boolean;
  paddingSide?: Side;
  truncationSide?: Side;
  maxSeqLength?: number;
}

/**
 * A BERT WordPiece tokenizer, equal id for id to transformers'
 * `BertTokenizerFast` loaded from the same files.
 *
 * @example
 * const tok = await Tokenizer.fromPretrained('models/bert-base-uncased');
 * const { inputIds, attentionMask } = await tok.encode('Hello world', undefined, { maxLength: 16, padding: 'max_length' });
 */
export class Tokenizer {
  /** Names of the special tokens. */
  readonly specialTokens: Readonly<SpecialTokens>;
  /** Ids of the special tokens. */
  readonly specialTokenIds: Readonly<Record<keyof SpecialTokens, number>>;
  /** Extra special tokens beyond BERT's five (HF `additional_special_tokens`). */
  readonly additionalSpecialTokens: readonly string[];
  /** The BertNormalizer switches, or undefined if tokenizer.json uses another normalizer. */
  readonly normalizer: Readonly<NormalizerFlags> | undefined;
  /** Longest input the model takes (HF `model_max_length`); `Infinity` if unlimited. */
  readonly modelMaxLength: number;
  /** Whether decode cleans up spaces (HF `clean_up_tokenization_spaces`, true for BERT). */
  readonly cleanUpTokenizationSpaces: boolean;
  /** Where padding goes (HF `padding_side`: tokenizer_config.json, else tokenizer.json's padding direction). */
  readonly paddingSide: Side;
  /** Which end truncation cuts (HF `truncation_side`). */
  readonly truncationSide: Side;
  /** Token type id of padding (HF `pad_token_type_id`). */
  readonly padTypeId: number;
  /**
   * sentence-transformers' `max_seq_length` (sentence_bert_config.json) when the folder
   * has one: the length its embeddings are computed at. transformers itself ignores it,
   * so encode() does too.
   */
  readonly maxSeqLength: number | undefined;

  readonly #jsonText: string;
  readonly #backendText: string;
  readonly #backend: Backend;
  readonly #vocab: readonly string[];
  readonly #ids: ReadonlyMap<string, number>;
  #hash: string | undefined;

  /** @internal Use {@link Tokenizer.fromFile}, {@link Tokenizer.fromVocab}, {@link Tokenizer.fromPretrained} or {@link trainWordPiece}. */
  constructor(init: TokenizerInit) {
    if (init?.json?.model?.type !== 'WordPiece') {
      throw typeError('a WordPiece tokenizer', init?.source ?? 'tokenizer', init?.json?.model?.type ?? init);
    }
    // The file as given is what save() writes back; the backend runs without
    // its padding and truncation, which every call decides for itself.
    this.#jsonText = JSON.stringify(init.json);
    const { backendJson, defaults } = backendSettings(init.json, init);
    this.#backendText = JSON.stringify(backendJson);
    try {
      this.#backend = tokenizers.Tokenizer.fromString(this.#backendText);
    } catch (error) {
      throw new TypeError(`Expected a valid tokenizer.json for ${init.source} but received one that failed to load: ${(error as Error).message}`);
    }
    this.#vocab = vocabInIdOrder(this.#backend.getVocab(true), init.source);
    this.#ids = new Map(this.#vocab.map((token, id) => [token, id]));
    const ids = {} as Record<keyof SpecialTokens, number>;
    for (const role of Object.keys(init.special) as Array<keyof SpecialTokens>) {
      const id = this.#ids.get(init.special[role]);
      if (id === undefined) {
        throw new TypeError(
          `Expected the ${role} token ${show(init.special[role])} in the vocabulary of ${init.source} but received a vocabulary without it`,
        );
      }
      ids[role] = id;
    }
    this.specialTokens = Object.freeze({ ...init.special });
    this.specialTokenIds = Object.freeze(ids);
    this.additionalSpecialTokens = Object.freeze([...init.additionalSpecialTokens]);
    this.normalizer = Object.freeze(normalizerFlags(init.json));
    this.modelMaxLength = init.modelMaxLength;
    this.cleanUpTokenizationSpaces = init.cleanUpTokenizationSpaces ?? true;
    this.paddingSide = defaults.paddingSide;
    this.truncationSide = defaults.truncationSide;
    this.padTypeId = defaults.padTypeId;
    this.maxSeqLength = init.maxSeqLength;
  }

  /**
   * Loads a HuggingFace `tokenizer.json` with a WordPiece model.
   * @throws {TypeError} if the file is not a WordPiece tokenizer.json or lacks a BERT special token.
   * @example
   * const tok = await Tokenizer.fromFile('model/tokenizer.json');
   */
  static async fromFile(path: string, options?: { modelMaxLength?: number }): Promise<Tokenizer> {
    requireString(path, 'path');
    const opts = optionsObject(options, 'options');
    const json = await readTokenizerJson(path);
    const special = specialTokensOf(json);
    return new Tokenizer({
      json,
      special,
      additionalSpecialTokens: extraSpecialTokens(json, special),
      modelMaxLength: checkModelMaxLength(opts.modelMaxLength),
      source: path,
    });
  }

  /**
   * Builds a tokenizer from a BERT `vocab.txt`, exactly as transformers'
   * `BertTokenizerFast(vocab_file, ...)` does.
   * @throws {TypeError} if a token repeats or a special token is missing.
   * @example
   * const tok = await Tokenizer.fromVocab('vocab.txt', { lowercase: false });
   */
  static async fromVocab(path: string, options?: VocabOptions): Promise<Tokenizer> {
    requireString(path, 'path');
    const opts = optionsObject(options, 'options');
    const vocab = await readVocabFile(path);
    const special = { ...BERT_SPECIAL_TOKENS, ...checkSpecialNames(opts.specialTokens) };
    for (const name of Object.values(special)) {
      if (!vocab.includes(name)) throw typeError(`a vocabulary containing ${name}`, 'path', path);
    }
    return new Tokenizer({
      json: bertTokenizerJson(vocab, checkFlags(opts), special),
      special,
      additionalSpecialTokens: [],
      modelMaxLength: checkModelMaxLength(opts.modelMaxLength),
      source: path,
    });
  }

  /**
   * Loads a HuggingFace tokenizer folder: `tokenizer.json` if present, else
   * `vocab.txt`, with `tokenizer_config.json` (`do_lower_case`, `strip_accents`,
   * `tokenize_chinese_chars`, special tokens, `model_max_length`) applied as
   * transformers' BertTokenizerFast applies it.
   * @throws {TypeError} if the folder has neither file.
   * @example
   * const tok = await Tokenizer.fromPretrained('checkpoints/step-1000');
   */
  static async fromPretrained(dir: string): Promise<Tokenizer> {
    requireString(dir, 'dir');
    const config = await readTokenizerConfig(dir);
    const special = { ...BERT_SPECIAL_TOKENS, ...config.special };
    const modelMaxLength = config.modelMaxLength ?? Infinity;
    const jsonPath = join(dir, 'tokenizer.json');
    if (await exists(jsonPath)) {
      const json = await readTokenizerJson(jsonPath);
      if (config.tokenizerClass === undefined || /^Bert/.test(config.tokenizerClass)) overrideNormalizer(json, config.flags);
      return new Tokenizer({
        json,
        special,
        additionalSpecialTokens: config.additionalSpecialTokens,
        modelMaxLength,
        source: jsonPath,
        cleanUpTokenizationSpaces: config.cleanUpTokenizationSpaces,
        paddingSide: config.paddingSide,
        truncationSide: config.truncationSide,
        maxSeqLength: config.maxSeqLength,
      });
    }
    const vocabPath = join(dir, 'vocab.txt');
    if (!(await exists(vocabPath))) throw typeError('a folder with tokenizer.json or vocab.txt', 'dir', dir);
    const vocab = await readVocabFile(vocabPath);
    return new Tokenizer({
      json: bertTokenizerJson(vocab, config.flags, special, config.additionalSpecialTokens),
      special,
      additionalSpecialTokens: config.additionalSpecialTokens,
      modelMaxLength,
      source: vocabPath,
      cleanUpTokenizationSpaces: config.cleanUpTokenizationSpaces,
      paddingSide: config.paddingSide,
      truncationSide: config.truncationSide,
      maxSeqLength: config.maxSeqLength,
    });
  }

  /**
   * @internal The tokenizer.json the backend runs (padding and truncation off):
   * what other threads load to encode as this tokenizer does (lib/data/shards).
   */
  backendJson(): string {
    return this.#backendText;
  }

  /** Number of tokens, special tokens included. */
  get vocabSize(): number {
    return this.#vocab.length;
  }

  /** All tokens in id order (the lines of vocab.txt). */
  get vocab(): readonly string[] {
    return this.#vocab;
  }

  /** The id of `token`, or undefined if it is not in the vocabulary. */
  tokenToId(token: string): number | undefined {
    return this.#ids.get(token);
  }

  /** The token with id `id`, or undefined. */
  idToToken(id: number): string | undefined {
    return this.#vocab[id];
  }

  /**
   * sha256 (hex) of the vocabulary in id order, one token a line: the same as
   * `sha256sum vocab.txt` of a saved tokenizer. Token shards record it so that
   * ids are never read back with another vocabulary.
   */
  vocabHash(): string {
    this.#hash ??= createHash('sha256').update(vocabFileText(this.#vocab)).digest('hex');
    return this.#hash;
  }

  /**
   * Encodes a text, or a pair of texts, into model inputs. With
   * `isSplitIntoWords`, a text is an array of words.
   * @throws {TypeError} for a non-string text (or non-array of strings with `isSplitIntoWords`) or bad options.
   * @throws {RangeError} for a `maxLength` the truncation cannot reach: shorter than the
   *   special tokens, or `'only_second'` with no pair or a pair too short to cut.
   * @example
   * const enc = await tok.encode('Is it?', 'It is.', { maxLength: 8, truncation: 'only_second', padding: 'max_length' });
   * const words = await tok.encode(['Ada', 'Lovelace'], { isSplitIntoWords: true }); // words.wordIds: [null, 0, 1, null]
   */
  encode(text: Source, pair?: Source | null, options?: EncodeOptions): Promise<Encoding>;
  encode(text: Source, options?: EncodeOptions): Promise<Encoding>;
  async encode(text: Source, pairOrOptions?: Source | null | EncodeOptions, maybeOptions?: EncodeOptions): Promise<Encoding> {
    const isOptions = pairOrOptions !== null && typeof pairOrOptions === 'object' && !Array.isArray(pairOrOptions);
    const [pair, options] = isOptions ? [undefined, pairOrOptions as EncodeOptions] : [pairOrOptions as Source | null | undefined, maybeOptions];
    const plan = encodePlan(options, this.modelMaxLength, false);
    checkSource(text, 'text', plan.words);
    if (pair !== undefined && pair !== null) checkSource(pair, 'pair', plan.words);
    const [encoding] = await this.#encode([[text, pair ?? undefined]], plan);
    return encoding;
  }

  /**
   * Encodes many texts (or `[text, pair]` tuples) at once; with `padding: 'longest'`
   * all come out as long as the longest. With `isSplitIntoWords`, each input is an
   * array of words, or a `[words, words]` pair.
   * @throws {TypeError} for a non-array input or bad options.
   * @example
   * const batch = await tok.encodeBatch(['a b', ['c', 'd']], { padding: 'longest' });
   */
  async encodeBatch(
    inputs: ReadonlyArray<string | readonly [string, string] | readonly string[] | readonly [readonly string[], readonly string[]]>,
    options?: EncodeOptions,
  ): Promise<Encoding[]> {
    if (!Array.isArray(inputs)) throw typeError('an array of texts or [text, pair] tuples', 'inputs', inputs);
    const plan = encodePlan(options, this.modelMaxLength, true);
    const items = inputs.map((input, i): [Source, Source | undefined] => {
      if (plan.words) {
        // A pair of word lists is two arrays; a word list is an array of strings.
        if (Array.isArray(input) && input.length === 2 && Array.isArray(input[0])) {
          checkSource(input[0], `inputs[${i}][0]`, true);
          checkSource(input[1], `inputs[${i}][1]`, true);
          return [input[0] as readonly string[], input[1] as readonly string[]];
        }
        checkSource(input, `inputs[${i}]`, true);
        return [input as readonly string[], undefined];
      }
      if (typeof input === 'string') return [input, undefined];
      if (!Array.isArray(input) || input.length !== 2) throw typeError('a text or a [text, pair] tuple', `inputs[${i}]`, input);
      checkText(input[0], `inputs[${i}][0]`);
      checkText(input[1], `inputs[${i}][1]`);
      return [input[0] as string, input[1] as string];
    });
    return this.#encode(items, plan);
  }

  /**
   * Turns ids back into text (WordPiece decoder: `##` pieces joined, spaces before punctuation cleaned up).
   * @throws {TypeError} if `ids` is not an array of non-negative integers.
   * @example
   * const text = await tok.decode(enc.inputIds, { skipSpecialTokens: true });
   */
  async decode(ids: ArrayLike<number>, options?: DecodeOptions): Promise<string> {
    const [skip, cleanUp] = this.#decodeOptions(options);
    const text = await this.#backend.decode(checkIds(ids, 'ids'), skip);
    return cleanUp ? cleanUpTokenization(text) : text;
  }

  /** {@link Tokenizer.decode} for many sequences at once. */
  async decodeBatch(batch: ReadonlyArray<ArrayLike<number>>, options?: DecodeOptions): Promise<string[]> {
    if (!Array.isArray(batch)) throw typeError('an array of id arrays', 'batch', batch);
    const [skip, cleanUp] = this.#decodeOptions(options);
    const texts = await this.#backend.decodeBatch(batch.map((ids, i) => checkIds(ids, `batch[${i}]`)), skip);
    return cleanUp ? texts.map(cleanUpTokenization) : texts;
  }

  #decodeOptions(options: DecodeOptions | undefined): [boolean, boolean] {
    const opts = optionsObject(options, 'options');
    return [
      optionalBoolean(opts.skipSpecialTokens, 'skipSpecialTokens', false),
      optionalBoolean(opts.cleanUpTokenizationSpaces, 'cleanUpTokenizationSpaces', this.cleanUpTokenizationSpaces),
    ];
  }

  /**
   * Writes `tokenizer.json`, `vocab.txt`, `tokenizer_config.json` and
   * `special_tokens_map.json` into `dir` (created if needed), so that
   * `transformers.AutoTokenizer.from_pretrained(dir)` loads the same tokenizer.
   * Each file is replaced atomically.
   * @example
   * await tok.save('out/my-bert');
   */
  async save(dir: string): Promise<void> {
    requireString(dir, 'dir');
    await mkdir(dir, { recursive: true });
    const specialIds = new Map<string, number>();
    for (const name of [...Object.values(this.specialTokens), ...this.additionalSpecialTokens]) {
      specialIds.set(name, this.#ids.get(name)!);
    }
    const config: ConfigToWrite = {
      flags: this.normalizer ?? { lowercase: false, stripAccents: null, handleChineseChars: true },
      special: this.specialTokens,
      additionalSpecialTokens: this.additionalSpecialTokens,
      modelMaxLength: this.modelMaxLength,
      specialIds,
      cleanUpTokenizationSpaces: this.cleanUpTokenizationSpaces,
    };
    // Serialised by the tokenizers package itself, the canonical form.
    const jsonPath = join(dir, 'tokenizer.json');
    const temp = `${jsonPath}.tmp-${process.pid}-${Date.now()}`;
    try {
      tokenizers.Tokenizer.fromString(this.#jsonText).save(temp, true);
      await rename(temp, jsonPath);
    } catch (error) {
      await unlink(temp).catch(() => {});
      throw error;
    }
    await writeAtomic(join(dir, 'vocab.txt'), vocabFileText(this.#vocab));
    await writeAtomic(join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfigJson(config), null, 2) + '\n');
    await writeAtomic(join(dir, 'special_tokens_map.json'), JSON.stringify(specialTokensMapJson(config), null, 2) + '\n');
  }

  // Each input is encoded alone without special tokens, truncated here (see
  // truncatedLengths), joined with [CLS]/[SEP] by the post-processor of
  // tokenizer.json, then padded: what transformers' fast tokenizer does in
  // one Rust call, done in steps because the npm binding's build splits a
  // pair differently when truncating.
  async #encode(items: Array<[Source, Source | undefined]>, plan: EncodePlan): Promise<Encoding[]> {
    const inputs = items.flatMap(([text, pair]) => (pair === undefined ? [text] : [text, pair])).map(encodedText);
    const pieces = await this.#backend.encodeBatch(inputs, { addSpecialTokens: false });
    let next = 0;
    const joined = items.map(([, pair]) => {
      const first = pieces[next++];
      const second = pair === undefined ? null : pieces[next++];
      if (plan.truncation !== false) {
        const added = plan.addSpecialTokens ? (second ? 3 : 2) : 0;
        if (plan.maxLength < added) {
          throw rangeError(`a maxLength of at least ${added} (the special tokens)`, 'maxLength', plan.maxLength);
        }
        const [n1, n2] = truncatedLengths(first.getLength(), second?.getLength(), plan.maxLength - added, plan.truncation);
        first.truncate(n1, 0, this.truncationSide);
        second?.truncate(n2, 0, this.truncationSide);
      }
      const layout = { first: first.getLength(), second: second?.getLength() };
      return { encoding: this.#backend.postProcess(first, second, plan.addSpecialTokens), layout };
    });
    const target = padTarget(plan, joined.map((j) => j.encoding.getLength()));
    // The tokenizers package pads in Rust, which aborts the process when an
    // allocation fails: refuse a padding that cannot fit in memory first.
    if (target !== undefined && target * items.length * PADDED_TOKEN_BYTES > usableMemory()) {
      throw rangeError(`a maxLength whose padding of ${items.length} text(s) fits in the ${(usableMemory() / 1e9).toFixed(1)} GB of memory this process may use`, 'maxLength', target);
    }
    return joined.map(({ encoding, layout }, i) => {
      if (target !== undefined && encoding.getLength() < target) {
        encoding.pad(target, { padId: this.specialTokenIds.pad, padTypeId: this.padTypeId, padToken: this.specialTokens.pad, direction: this.paddingSide });
      }
      return toEncoding(encoding, layout, items[i]);
    });
  }
}

// What one padded position costs in the package's Encoding (id, type id,
// token string, offsets, masks: about 100 bytes), rounded up.
const PADDED_TOKEN_BYTES = 128;

/**
 * Trains a BERT WordPiece vocabulary on text files or an iterator of texts and
 * returns the tokenizer (save it with {@link Tokenizer.save}).
 * @throws {TypeError} if neither `files` nor `iterator` is given, or a file is missing.
 * @throws {RangeError} for a `vocabSize` smaller than the number of special tokens.
 * @example
 * const tok = await trainWordPiece({ files: ['corpus/train.txt'], vocabSize: 8000 });
 * await tok.save('tokenizer');
 */
export async function trainWordPiece(options: TrainWordPieceOptions): Promise<Tokenizer> {
  const opts = optionsObject(options, 'options');
  if (opts.files === undefined && opts.iterator === undefined) throw typeError('files or iterator', 'options', options);
  const files = opts.files ?? [];
  if (!Array.isArray(files)) throw typeError('an array of paths', 'files', files);
  for (const [i, file] of files.entries()) {
    requireString(file, `files[${i}]`);
    if (!(await stat(file).then((s) => s.isFile(), () => false))) throw typeError('an existing file', `files[${i}]`, file);
  }
  const iterator = opts.iterator;
  if (iterator !== undefined && !(Symbol.iterator in Object(iterator)) && !(Symbol.asyncIterator in Object(iterator))) {
    throw typeError('an iterable of strings', 'iterator', iterator);
  }
  const specialTokens = opts.specialTokens ?? ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
  if (!Array.isArray(specialTokens) || specialTokens.some((t) => typeof t !== 'string' || t.length === 0)) {
    throw typeError('an array of non-empty strings', 'specialTokens', specialTokens);
  }
  for (const name of Object.values(BERT_SPECIAL_TOKENS)) {
    if (!specialTokens.includes(name)) throw typeError(`special tokens including ${name}`, 'specialTokens', specialTokens);
  }
  const unique = [...new Set(specialTokens)];
  const vocabSize = optionalInteger(opts.vocabSize, 'vocabSize', 30000, unique.length, 2 ** 26);
  const minFrequency = optionalInteger(opts.minFrequency, 'minFrequency', 2, 0);
  const limitAlphabet = opts.limitAlphabet === Infinity ? undefined : optionalInteger(opts.limitAlphabet, 'limitAlphabet', 1000, 1);
  const flags = checkFlags(opts);
  const vocab = await trainVocab({ files, texts: iterator, vocabSize, minFrequency, limitAlphabet, specialTokens: unique, flags });
  const additional = unique.filter((t) => !Object.values(BERT_SPECIAL_TOKENS).includes(t));
  return new Tokenizer({
    json: bertTokenizerJson(vocab, flags, { ...BERT_SPECIAL_TOKENS }, additional),
    special: { ...BERT_SPECIAL_TOKENS },
    additionalSpecialTokens: additional,
    modelMaxLength: checkModelMaxLength(opts.modelMaxLength),
    source: 'trainWordPiece',
  });
}

// ---- helpers ----

function checkText(value: unknown, name: string): void {
  if (typeof value !== 'string') throw typeError('a string', name, value);
}

function checkSource(value: unknown, name: string, words: boolean): void {
  if (!words) return checkText(value, name);
  if (!Array.isArray(value) || value.some((w) => typeof w !== 'string')) {
    throw typeError('an array of words (strings) with isSplitIntoWords', name, value);
  }
}

function checkIds(ids: ArrayLike<number>, name: string): number[] {
  if (ids === null || typeof ids !== 'object' || typeof ids.length !== 'number') throw typeError('an array of token ids', name, ids);
  const out = Array.from(ids);
  for (const id of out) {
    if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) throw typeError('an array of non-negative integer token ids', name, ids);
  }
  return out;
}

function checkFlags(opts: { lowercase?: unknown; stripAccents?: unknown; handleChineseChars?: unknown }): NormalizerFlags {
  const stripAccents = opts.stripAccents;
  if (stripAccents !== undefined && stripAccents !== null && typeof stripAccents !== 'boolean') {
    throw typeError('a boolean or null', 'stripAccents', stripAccents);
  }
  return {
    lowercase: optionalBoolean(opts.lowercase, 'lowercase', true),
    stripAccents: stripAccents ?? null,
    handleChineseChars: optionalBoolean(opts.handleChineseChars, 'handleChineseChars', true),
  };
}

function checkModelMaxLength(value: unknown): number {
  if (value === undefined) return DEFAULT_MODEL_MAX_LENGTH;
  if (value === Infinity) return Infinity;
  return optionalInteger(value, 'modelMaxLength', DEFAULT_MODEL_MAX_LENGTH, 1, 2 ** 31 - 1);
}

function checkSpecialNames(value: unknown): Partial<SpecialTokens> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object') throw typeError('an object of special token names', 'specialTokens', value);
  const out: Partial<SpecialTokens> = {};
  for (const [role, name] of Object.entries(value)) {
    if (!(role in BERT_SPECIAL_TOKENS)) throw rangeError('one of unk, cls, sep, pad, mask', 'a specialTokens key', role);
    out[role as keyof SpecialTokens] = requireString(name, `specialTokens.${role}`);
  }
  return out;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

function extraSpecialTokens(json: TokenizerJson, special: SpecialTokens): string[] {
  const roles = new Set(Object.values(special));
  return (json.added_tokens ?? []).filter((t) => t.special && !roles.has(t.content)).map((t) => t.content);
}

