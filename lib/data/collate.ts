// Collators: a list of examples in, one padded Batch out, in the row-major
// BigInt64 layout the model takes (lib/models/bert.ts). Text is tokenized
// here, per batch (HF's dynamic padding: pad to the batch's longest, or up
// to a multiple of 8 for tensor cores), with truncation to maxLength.
// - classification: (B, T) inputs; labels (B) class ids, (B, L) multi-hot or (B) values
// - token classification: word labels aligned to word pieces: a word's first
//   piece gets its label, the rest -100 (or all, with labelAllSubwords)
// - masked LM: stacks masked examples; can mask itself given a seed
// Pure TypeScript over typed arrays; tokenization runs on the libuv pool.

import type { Tokenizer } from '../tokenizer.js';
import { upperBound } from './search.js';
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

type EncodingTokenizer = Pick<Tokenizer, 'encodeBatch' | 'specialTokenIds' | 'modelMaxLength'>;

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

function paddedLength(longest: number, pad: Padding): number {
  const length = pad.padding === 'max_length' ? Math.max(pad.maxLength, longest) : longest;
  return Math.ceil(length / pad.multiple) * pad.multiple;
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
    const encodings = await tokenizer.encodeBatch(inputs, { truncation: true, maxLength: pad.maxLength });
    const length = paddedLength(Math.max(0, ...encodings.map((e) => e.inputIds.length)), pad);
    const batch = stack(
      encodings.map((e) => ({ ids: e.inputIds, types: e.tokenTypeIds })),
      length,
      tokenizer.specialTokenIds.pad,
      false,
    );
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
 * A collator for token classification: joins each sentence's words with
 * spaces, tokenizes, and aligns word labels to word pieces by character
 * offsets (so a word the tokenizer splits further, like "U.S.", is still one word).
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
    const starts = examples.map((e) => wordStarts(e.words));
    const encodings = await tokenizer.encodeBatch(
      examples.map((e) => e.words.join(' ')),
      { truncation: true, maxLength: pad.maxLength },
    );
    const rows = encodings.map((encoding, b) => ({
      ids: encoding.inputIds,
      types: encoding.tokenTypeIds,
      labels: alignLabels(encoding.offsets, encoding.sequenceIds, starts[b], examples[b].labels, labelAll, inside),
    }));
    return stack(rows, paddedLength(Math.max(0, ...rows.map((r) => r.ids.length)), pad), tokenizer.specialTokenIds.pad, true);
  };
}

// Character offset of each word in words.join(' ').
function wordStarts(words: readonly string[]): Int32Array {
  const starts = new Int32Array(words.length);
  let at = 0;
  words.forEach((word, k) => {
    starts[k] = at;
    at += word.length + 1;
  });
  return starts;
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
 * @internal Word labels to word-piece labels: the piece whose offset starts a
 * new word gets the word's label; later pieces of the word get -100, or the
 * (inside) label with `labelAll`; special tokens get -100.
 */
export function alignLabels(
  offsets: ReadonlyArray<readonly [number, number]>,
  sequenceIds: ReadonlyArray<number | null>,
  starts: Int32Array,
  wordLabels: ArrayLike<number>,
  labelAll: boolean,
  inside: (id: number) => number,
): Int32Array {
  const labels = new Int32Array(offsets.length).fill(IGNORE_INDEX);
  let previous = -1;
  for (let t = 0; t < offsets.length; t++) {
    if (sequenceIds[t] !== 0) continue;
    const word = upperBound(starts, offsets[t][0]) - 1;  // the last word starting at or before the token
    if (word < 0 || word >= wordLabels.length) continue;
    if (word !== previous) labels[t] = wordLabels[word];
    else if (labelAll) labels[t] = inside(wordLabels[word]);
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
