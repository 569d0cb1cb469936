// How one encode call pads and truncates, decided per call as transformers'
// PreTrainedTokenizerFast does (set_truncation_and_padding): the padding and
// truncation a tokenizer.json carries (all-MiniLM-L6-v2 ships Fixed(128) and
// max_length 128) are switched off in the backend, and only their sides, pad
// token type and the like survive as defaults. Without that the backend cut
// the text before [SEP] was added and padded every text to 128 with
// attention on the padding.
// Pure functions over plain values; no state.

import type { TokenizerJson } from './bert-json.js';
import { optionalBoolean, optionalChoice, optionalInteger, optionsObject, rangeError } from '../validate.js';

export type Side = 'right' | 'left';

/** Options of {@link Tokenizer.encode} and {@link Tokenizer.encodeBatch}, after transformers' `__call__`. */
export interface EncodeOptions {
  /**
   * Length to truncate to and, with `padding: 'max_length'`, to pad to, special tokens included.
   * @default the tokenizer's `modelMaxLength` (only used when truncating or padding to max_length)
   */
  maxLength?: number;
  /**
   * `'longest_first'` (or `true`) removes tokens from the longer sequence first;
   * `'only_second'` only from the pair's second text; `false` never truncates.
   * @default false
   */
  truncation?: 'longest_first' | 'only_second' | boolean;
  /**
   * `'max_length'` pads to `maxLength`; `'longest'` (or `true`) pads a batch to its longest
   * encoding (a single encode is not padded); `false` never pads. Padding goes on the
   * tokenizer's `paddingSide`.
   * @default false
   */
  padding?: 'max_length' | 'longest' | boolean;
  /**
   * Round the padded length up to a multiple of this (transformers' `pad_to_multiple_of`).
   * Only applies when padding.
   * @default 1
   */
  padToMultipleOf?: number;
  /**
   * Add `[CLS]` and `[SEP]` (whatever the post-processor of tokenizer.json adds).
   * @default true
   */
  addSpecialTokens?: boolean;
  /**
   * The input is already split into words (arrays of strings), as transformers'
   * `is_split_into_words`: each word is pre-tokenized alone and `wordIds` index the words.
   * @default false
   */
  isSplitIntoWords?: boolean;
}

/** @internal One call's padding and truncation, resolved. */
export interface EncodePlan {
  truncation: 'longest_first' | 'only_second' | false;
  maxLength: number;
  addSpecialTokens: boolean;
  /** Pad to this length (max_length), or undefined. */
  padTo: number | undefined;
  /** Pad a batch to its longest. */
  padLongest: boolean;
  multiple: number;
  words: boolean;
}

/** @internal What a tokenizer takes from its files about padding and truncation. */
export interface PaddingDefaults {
  modelMaxLength: number;
  paddingSide: Side;
  truncationSide: Side;
  padTypeId: number;
}

/** @internal Resolves the options of one call, transformers' `_get_padding_truncation_strategies`. */
export function encodePlan(options: EncodeOptions | undefined, modelMaxLength: number, batch: boolean): EncodePlan {
  const opts = optionsObject(options, 'options');
  const truncation = optionalChoice(opts.truncation, 'truncation', ['longest_first', 'only_second', true, false] as const, false);
  const padding = optionalChoice(opts.padding, 'padding', ['max_length', 'longest', true, false] as const, false);
  const addSpecialTokens = optionalBoolean(opts.addSpecialTokens, 'addSpecialTokens', true);
  const words = optionalBoolean(opts.isSplitIntoWords, 'isSplitIntoWords', false);
  const multiple = optionalInteger(opts.padToMultipleOf, 'padToMultipleOf', 1, 1, 65536);
  const fallback = modelMaxLength === Infinity ? undefined : modelMaxLength;
  const maxLength = opts.maxLength === undefined ? fallback : optionalInteger(opts.maxLength, 'maxLength', 0, 1, 2 ** 31 - 1);
  if (padding === 'max_length' && maxLength === undefined) {
    throw rangeError("a maxLength (the tokenizer's modelMaxLength is unlimited) with padding 'max_length'", 'maxLength', opts.maxLength);
  }
  return {
    // Like transformers, truncation without any length limit does nothing.
    truncation: truncation === false || maxLength === undefined ? false : truncation === true ? 'longest_first' : truncation,
    maxLength: maxLength ?? Infinity,
    addSpecialTokens,
    padTo: padding === 'max_length' ? roundUp(maxLength!, multiple) : undefined,
    padLongest: batch && (padding === 'longest' || padding === true),
    multiple,
    words,
  };
}

/** @internal The length a batch pads to: max_length, or its longest (rounded up), or none. */
export function padTarget(plan: EncodePlan, lengths: readonly number[]): number | undefined {
  if (plan.padTo !== undefined) return plan.padTo;
  if (!plan.padLongest) return undefined;
  return roundUp(lengths.reduce((most, n) => Math.max(most, n), 0), plan.multiple);
}

function roundUp(n: number, multiple: number): number {
  return Math.ceil(n / multiple) * multiple;
}

/**
 * @internal The backend's tokenizer.json (padding and truncation off) and the
 * defaults transformers keeps from the file's settings: `setdefault` of
 * padding_side, truncation_side and pad_token_type_id, so tokenizer_config.json wins.
 */
export function backendSettings(json: TokenizerJson, config: { paddingSide?: Side; truncationSide?: Side }): {
  backendJson: TokenizerJson;
  defaults: Omit<PaddingDefaults, 'modelMaxLength'>;
} {
  const padding = (json.padding ?? undefined) as { direction?: string; pad_type_id?: number } | undefined;
  const truncation = (json.truncation ?? undefined) as { direction?: string } | undefined;
  const side = (direction: string | undefined): Side | undefined =>
    direction === undefined ? undefined : direction.toLowerCase() === 'left' ? 'left' : 'right';
  return {
    backendJson: { ...json, padding: null, truncation: null },
    defaults: {
      paddingSide: config.paddingSide ?? side(padding?.direction) ?? 'right',
      truncationSide: config.truncationSide ?? side(truncation?.direction) ?? 'right',
      padTypeId: Number.isInteger(padding?.pad_type_id) ? padding!.pad_type_id! : 0,
    },
  };
}
