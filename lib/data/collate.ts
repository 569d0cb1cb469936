// Collators: a list of examples in, one padded Batch out, in the row-major
// BigInt64 layout the model takes (lib/models/bert.ts). Text is tokenized
// here, per batch, by the tokenizer's own padding and truncation: the same
// call transformers' DataCollatorWithPadding makes (pad to the batch's
// longest, or up to a multiple of 8 for tensor cores), so the ids, token
// types and attention mask (0 on padding) are transformers' to the token.
// - classification: (B, T) inputs; labels (B) class ids, (B, L) multi-hot or (B) values
// - token classification: pre-split words (transformers' is_split_into_words);
//   a word's first piece gets its label, the rest -100 (or all, with
//   labelAllSubwords), as run_ner's tokenize_and_align_labels
// - masked LM: stacks masked examples; can mask itself given a seed
// Pure TypeScript over typed arrays; tokenization runs on the libuv pool.

import type { Encoding, Tokenizer } from '../tokenizer.js';
import type { ClassificationExample, MlmExample, ProblemType, TokenClassificationExample } from './datasets.js';
import { IGNORE_INDEX, maskTokens, type MaskingOptions, type MaskingVocab } from './masking.js';
import { optionalBoolean, optionalChoice, optionalInteger, optionsObject, typeError } from '../validate.js';

/**
 * A batch of model inputs, structurally the Batch of lib/models/bert.ts.
 * Row-major (B, T); `labels` is (B) class ids, (B, T) token or masked-LM
 * labels with -100 ignored, or a (B, L) Float32Array for multi-label and regression.
 */
export interface Batch {
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  tokenTypeIds: BigInt64Array;
  labels?: BigInt64Array | Float32Array;
  shape: [batch: number, seq: number];
}

/** What the DataLoader tells a collator about the batch. */
export interface CollateContext {
  /** The loader's epoch. */
  epoch: number;
  /** Dataset index of each example. */
  indices: readonly number[];
}

/** Turns examples into a Batch. */
export type Collate<T> = (examples: T[], context: CollateContext) => Batch | Promise<Batch>;

/** Padding and truncation of the tokenizing collators. */
export interface PaddingOptions {
  /**
   * Truncate to this many tokens, special tokens included.
   * @default the tokenizer's modelMaxLength (512 if unlimited)
   */
  maxLength?: number;
  /**
   * `'longest'` pads to the batch's longest sequence (dynamic padding); `'max_length'` always to maxLength.
   * @default 'longest'
   */
  padding?: 'longest' | 'max_length';
  /**
   * Round the padded length up to a multiple of this (8 suits tensor cores).
   * @default 1
   */
  padToMultipleOf?: number;
}

type EncodingTokenizer = Pick<Tokenizer, 'encodeBatch' | 'modelMaxLength'>;

interface Padding {
  maxLength: number;
  padding: 'longest' | 'max_length';
  multiple: number;
}

function paddingOf(opts: PaddingOptions, tokenizer: EncodingTokenizer | undefined): Padding {
  const fallback = tokenizer && Number.isFinite(tokenizer.modelMaxLength) ? tokenizer.modelMaxLength : 512;
  return {
    maxLength: optionalInteger(opts.maxLength, 'maxLength', fallback, 1, 2 ** 31 - 1),
    padding: optionalChoice(opts.padding, 'padding', ['longest', 'max_length'] as const, 'longest'),
    multiple: optionalInteger(opts.padToMultipleOf, 'padToMultipleOf', 1, 1, 4096),
  };
}

// The tokenizer call of a collator: truncate to maxLength, pad as asked.
function encodeOptions(pad: Padding) {
  return { truncation: true, maxLength: pad.maxLength, padding: pad.padding, padToMultipleOf: pad.multiple } as const;
}

/**
 * @internal Padded encodings (all one length, from one encodeBatch call with
 * padding) as one (B, T) batch; `tokenLabels` gives a row's token labels.
 */
export function encodingsToBatch(encodings: readonly Encoding[], tokenLabels?: (encoding: Encoding, b: number) => ArrayLike<number>): Batch {
  const B = encodings.length;
  const T = encodings[0]?.inputIds.length ?? 0;
  const inputIds = new BigInt64Array(B * T);
  const attentionMask = new BigInt64Array(B * T);
  const tokenTypeIds = new BigInt64Array(B * T);
  const labels = tokenLabels ? new BigInt64Array(B * T) : undefined;
  encodings.forEach((e, b) => {
    if (e.inputIds.length !== T) throw new RangeError(`Expected encodings padded to one length but received ${e.inputIds.length} and ${T}`);
    const { attentionMask: mask, tokenTypeIds: types } = e;
    const rowLabels = tokenLabels?.(e, b);
    for (let t = 0; t < T; t++) {
      inputIds[b * T + t] = BigInt(e.inputIds[t]);
      attentionMask[b * T + t] = BigInt(mask[t]);
      tokenTypeIds[b * T + t] = BigInt(types[t]);
      if (labels) labels[b * T + t] = BigInt(rowLabels![t]);
    }
  });
  const batch: Batch = { inputIds, attentionMask, tokenTypeIds, shape: [B, T] };
  if (labels) batch.labels = labels;
  return batch;
}

interface Row {
  ids: ArrayLike<number>;
  types?: ArrayLike<number>;
  labels?: ArrayLike<number>;
}

// Right-pads rows into one (B, T) batch; token labels are padded with -100.
function stack(rows: Row[], length: number, padId: number, withTokenLabels: boolean): Batch {
  const B = rows.length;
  const inputIds = new BigInt64Array(B * length).fill(BigInt(padId));
  const attentionMask = new BigInt64Array(B * length);
  const tokenTypeIds = new BigInt64Array(B * length);
  const labels = withTokenLabels ? new BigInt64Array(B * length).fill(BigInt(IGNORE_INDEX)) : undefined;
  rows.forEach((row, b) => {
    const base = b * length;
    for (let t = 0; t < row.ids.length; t++) {
      inputIds[base + t] = BigInt(row.ids[t]);
      attentionMask[base + t] = 1n;
      if (row.types) tokenTypeIds[base + t] = BigInt(row.types[t]);
      if (labels && row.labels) labels[base + t] = BigInt(row.labels[t]);
    }
  });
  const batch: Batch = { inputIds, attentionMask, tokenTypeIds, shape: [B, length] };
  if (labels) batch.labels = labels;
  return batch;
}

function checkTokenizer(tokenizer: unknown): asserts tokenizer is EncodingTokenizer {
  if (tokenizer === null || typeof tokenizer !== 'object' || typeof (tokenizer as Tokenizer).encodeBatch !== 'function') {
    throw typeError('a Tokenizer', 'tokenizer', tokenizer);
  }
}

/** Options of {@link classificationCollator}. */
export interface ClassificationCollatorOptions extends PaddingOptions {
  /**
   * How labels are laid out: class ids (BigInt64, (B)), multi-hot (Float32, (B, L)) or values (Float32, (B)).
   * @default 'single_label_classification'
   */
  problemType?: ProblemType;
}

/**
 * A collator for sequence classification: tokenizes texts (and pairs) with truncation and dynamic padding.
 * @throws {TypeError} when called with an example whose label does not fit `problemType`.
 * @example
 * const collate = classificationCollator(tokenizer, { maxLength: 128, padToMultipleOf: 8, problemType: train.problemType });
 * const loader = new DataLoader(train, { batchSize: 32, shuffle: true, collate });
 */
export function classificationCollator(tokenizer: EncodingTokenizer, options?: ClassificationCollatorOptions): Collate<ClassificationExample> {
  checkTokenizer(tokenizer);
  const opts = optionsObject(options, 'options');
  const pad = paddingOf(opts, tokenizer);
  const problemType = optionalChoice(
    opts.problemType,
    'problemType',
    ['single_label_classification', 'multi_label_classification', 'regression'] as const,
    'single_label_classification',
  );
  return async (examples) => {
    const inputs = examples.map((e): string | [string, string] => (e.pair === undefined ? e.text : [e.text, e.pair]));
    const batch = encodingsToBatch(await tokenizer.encodeBatch(inputs, encodeOptions(pad)));
    batch.labels = classificationLabels(examples, problemType);
    return batch;
  };
}

function classificationLabels(examples: ClassificationExample[], problemType: ProblemType): BigInt64Array | Float32Array {
  if (problemType === 'multi_label_classification') {
    const width = (examples[0]?.label as Float32Array | undefined)?.length ?? 0;
    const out = new Float32Array(examples.length * width);
    examples.forEach((e, b) => {
      if (!(e.label instanceof Float32Array) || e.label.length !== width) {
        throw typeError(`a multi-hot Float32Array of length ${width}`, `examples[${b}].label`, e.label);
      }
      out.set(e.label, b * width);
    });
    return out;
  }
  if (problemType === 'regression') {
    return Float32Array.from(examples, (e, b) => {
      if (typeof e.label !== 'number') throw typeError('a number', `examples[${b}].label`, e.label);
      return e.label;
    });
  }
  return BigInt64Array.from(examples, (e, b) => {
    if (typeof e.label !== 'number' || !Number.isInteger(e.label) || e.label < 0) throw typeError('a class id', `examples[${b}].label`, e.label);
    return BigInt(e.label);
  });
}

/** Options of {@link tokenClassificationCollator}. */
export interface TokenClassificationCollatorOptions extends PaddingOptions {
  /**
   * Label every word piece, not only each word's first. A B-X word's later
   * pieces get I-X when `labels` (the names) has it, as HF's run_ner does.
   * @default false
   */
  labelAllSubwords?: boolean;
  /** Label names in id order (the dataset's `labels`), needed for the B-X to I-X rule. */
  labels?: readonly string[];
}

/**
 * A collator for token classification: tokenizes each sentence's words as
 * pre-split words (transformers' `is_split_into_words`) and aligns word labels
 * to word pieces by word id, as transformers' run_ner does; special tokens,
 * padding and the later pieces of a word get -100 (unless `labelAllSubwords`).
 * @example
 * const collate = tokenClassificationCollator(tokenizer, { labels: train.labels, labelAllSubwords: train.labelAllSubwords });
 */
export function tokenClassificationCollator(tokenizer: EncodingTokenizer, options?: TokenClassificationCollatorOptions): Collate<TokenClassificationExample> {
  checkTokenizer(tokenizer);
  const opts = optionsObject(options, 'options');
  const pad = paddingOf(opts, tokenizer);
  const labelAll = optionalBoolean(opts.labelAllSubwords, 'labelAllSubwords', false);
  if (opts.labels !== undefined && !Array.isArray(opts.labels)) throw typeError('an array of label names', 'labels', opts.labels);
  const inside = insideLabels(opts.labels);
  return async (examples) => {
    const encodings = await tokenizer.encodeBatch(examples.map((e) => e.words), { ...encodeOptions(pad), isSplitIntoWords: true });
    return encodingsToBatch(encodings, (e, b) => alignLabels(e.wordIds, examples[b].labels, labelAll, inside));
  };
}

// For each label id, the id its continuation pieces get (B-X to I-X when known).
function insideLabels(names: readonly string[] | undefined): (id: number) => number {
  if (!names) return (id) => id;
  const ids = new Map(names.map((name, id) => [name, id]));
  return (id) => {
    const name = names[id];
    return name?.startsWith('B-') ? ids.get(`I-${name.slice(2)}`) ?? id : id;
  };
}

/**
 * @internal Word labels to word-piece labels from word ids, as run_ner's
 * tokenize_and_align_labels: the first piece of a word gets the word's label,
 * later pieces -100 (or the inside label with `labelAll`), and positions
 * with no word (special tokens, padding) -100.
 */
export function alignLabels(
  wordIds: ReadonlyArray<number | null>,
  wordLabels: ArrayLike<number>,
  labelAll: boolean,
  inside: (id: number) => number,
): Int32Array {
  const labels = new Int32Array(wordIds.length).fill(IGNORE_INDEX);
  let previous: number | null = null;
  for (let t = 0; t < wordIds.length; t++) {
    const word = wordIds[t];
    if (word !== null && word < wordLabels.length) {
      if (word !== previous) labels[t] = wordLabels[word];
      else if (labelAll) labels[t] = inside(wordLabels[word]);
    }
    previous = word;
  }
  return labels;
}


/** Options of {@link mlmCollator}. */
export interface MlmCollatorOptions {
  /** Id of `[PAD]`. @default 0 (BERT's) */
  padId?: number;
  /** Round the padded length up to a multiple of this. @default 1 */
  padToMultipleOf?: number;
  /**
   * Mask examples that come unmasked (plain id arrays, e.g. from a ShardReader
   * or its blocks), seeded by (seed, loader epoch, dataset index).
   */
  masking?: Omit<MaskingOptions, 'epoch' | 'index'> & { vocab: MaskingVocab };
}

/**
 * A collator for masked-LM training: stacks masked examples (from an
 * MlmDataset) or masks plain id arrays itself, padding to the longest.
 * @throws {TypeError} when called with an unmasked example and no `masking` option.
 * @example
 * const loader = new DataLoader(new MlmDataset(reader, { blockSize: 128, tokenizer }), { batchSize: 64, collate: mlmCollator() });
 */
export function mlmCollator(options?: MlmCollatorOptions): Collate<MlmExample | Int32Array> {
  const opts = optionsObject(options, 'options');
  const padId = optionalInteger(opts.padId, 'padId', 0);
  const multiple = optionalInteger(opts.padToMultipleOf, 'padToMultipleOf', 1, 1, 4096);
  const masking = opts.masking === undefined ? undefined : optionsObject(opts.masking, 'masking');
  if (masking && (masking.vocab === null || typeof masking.vocab !== 'object')) throw typeError('a MaskingVocab', 'masking.vocab', masking.vocab);
  const { vocab, ...maskingOptions } = masking ?? {};
  return (examples, context) => {
    const rows = examples.map((example, k): Row => {
      if (!ArrayBuffer.isView(example) && example?.labels) return { ids: example.inputIds, labels: example.labels };
      if (!masking) throw typeError('a masked example ({ inputIds, labels }) or a masking option', `examples[${k}]`, example);
      const ids = ArrayBuffer.isView(example) ? example : example.inputIds;
      const masked = maskTokens(ids, vocab!, { ...maskingOptions, epoch: context?.epoch ?? 0, index: context?.indices[k] ?? k });
      return { ids: masked.inputIds, labels: masked.labels };
    });
    const longest = Math.max(0, ...rows.map((r) => r.ids.length));
    return stack(rows, Math.ceil(longest / multiple) * multiple, padId, true);
  };
}
