// The `tokenizer.json` of a BERT WordPiece tokenizer, as HuggingFace's
// `BertTokenizerFast` (transformers' BertConverter) builds it: BertNormalizer,
// BertPreTokenizer, WordPiece model ("##" prefix, 100 characters a word),
// `[CLS] A [SEP] (B [SEP])` template and the WordPiece decoder. Building the
// same JSON that Python builds is what makes our ids equal to transformers'.
// Plain data only: the `tokenizers` package parses it (lib/tokenizer.ts).

/** BertNormalizer switches (HF `do_lower_case`, `strip_accents`, `tokenize_chinese_chars`). */
export interface NormalizerFlags {
  /** Lowercase the text (HF `do_lower_case`). */
  lowercase: boolean;
  /** Strip accents; `null` follows `lowercase`, as in the original BERT (HF `strip_accents`). */
  stripAccents: boolean | null;
  /** Put spaces around CJK ideographs (HF `tokenize_chinese_chars`). */
  handleChineseChars: boolean;
}

/** The tokens that play BERT's special roles. */
export interface SpecialTokens {
  unk: string;
  cls: string;
  sep: string;
  pad: string;
  mask: string;
}

/** BERT's own special tokens. */
export const BERT_SPECIAL_TOKENS: Readonly<SpecialTokens> = Object.freeze({
  unk: '[UNK]',
  cls: '[CLS]',
  sep: '[SEP]',
  pad: '[PAD]',
  mask: '[MASK]',
});

/** HF's BertConverter: words longer than this become `[UNK]`. */
export const MAX_INPUT_CHARS_PER_WORD = 100;

/** The JSON shape we read back out of a tokenizer.json (only the fields we use). */
export interface TokenizerJson {
  added_tokens?: Array<{ id: number; content: string; special?: boolean }>;
  normalizer?: {
    type?: string;
    lowercase?: boolean;
    strip_accents?: boolean | null;
    handle_chinese_chars?: boolean;
    [key: string]: unknown;
  } | null;
  post_processor?: {
    type?: string;
    sep?: [string, number];
    cls?: [string, number];
    special_tokens?: Record<string, { id: string; ids: number[]; tokens: string[] }>;
    [key: string]: unknown;
  } | null;
  padding?: { pad_token?: string } | null;
  model?: { type?: string; unk_token?: string; vocab?: unknown; [key: string]: unknown };
  [key: string]: unknown;
}

/**
 * Builds the tokenizer.json object of a BERT WordPiece tokenizer over `vocab`
 * (tokens in id order). `special` names must all be in `vocab`; `extraSpecial`
 * tokens (also in `vocab`) are marked special as well.
 */
export function bertTokenizerJson(
  vocab: readonly string[],
  flags: NormalizerFlags,
  special: SpecialTokens,
  extraSpecial: readonly string[] = [],
): TokenizerJson {
  const ids = new Map<string, number>();
  vocab.forEach((token, id) => ids.set(token, id));
  const idOf = (token: string): number => {
    const id = ids.get(token);
    if (id === undefined) throw new Error(`special token ${token} is not in the vocabulary`);
    return id;
  };
  const specials = [...new Set([special.pad, special.unk, special.cls, special.sep, special.mask, ...extraSpecial])];
  const addedTokens = specials
    .map((content) => ({
      id: idOf(content),
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    }))
    .sort((a, b) => a.id - b.id);
  const cls = { id: special.cls, type_id: 0 };
  const sep = (typeId: number) => ({ SpecialToken: { id: special.sep, type_id: typeId } });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: flags.handleChineseChars,
      strip_accents: flags.stripAccents,
      lowercase: flags.lowercase,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: cls }, { Sequence: { id: 'A', type_id: 0 } }, sep(0)],
      pair: [{ SpecialToken: cls }, { Sequence: { id: 'A', type_id: 0 } }, sep(0), { Sequence: { id: 'B', type_id: 1 } }, sep(1)],
      special_tokens: {
        [special.cls]: { id: special.cls, ids: [idOf(special.cls)], tokens: [special.cls] },
        [special.sep]: { id: special.sep, ids: [idOf(special.sep)], tokens: [special.sep] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: special.unk,
      continuing_subword_prefix: '##',
      max_input_chars_per_word: MAX_INPUT_CHARS_PER_WORD,
      vocab: Object.fromEntries(vocab.map((token, id) => [token, id])),
    },
  };
}

/** The BertNormalizer switches of a tokenizer.json, or undefined for another normalizer. */
export function normalizerFlags(json: TokenizerJson): NormalizerFlags | undefined {
  const n = json.normalizer;
  if (!n || n.type !== 'BertNormalizer') return undefined;
  return {
    lowercase: n.lowercase ?? true,
    stripAccents: n.strip_accents ?? null,
    handleChineseChars: n.handle_chinese_chars ?? true,
  };
}

/**
 * Applies tokenizer_config.json's switches to a BertNormalizer the way
 * transformers' `BertTokenizerFast.__init__` does: if any differs from the
 * tokenizer.json, the config wins. Returns whether anything changed.
 */
export function overrideNormalizer(json: TokenizerJson, flags: NormalizerFlags): boolean {
  const current = normalizerFlags(json);
  if (!current || !json.normalizer) return false;
  if (
    current.lowercase === flags.lowercase &&
    current.stripAccents === flags.stripAccents &&
    current.handleChineseChars === flags.handleChineseChars
  ) {
    return false;
  }
  json.normalizer.lowercase = flags.lowercase;
  json.normalizer.strip_accents = flags.stripAccents;
  json.normalizer.handle_chinese_chars = flags.handleChineseChars;
  return true;
}

/**
 * Infers the special-token roles of a loaded tokenizer.json: `[CLS]`/`[SEP]`
 * from the post-processor, `[UNK]` from the model, `[PAD]` from the padding
 * settings, falling back to BERT's names.
 */
export function specialTokensOf(json: TokenizerJson): SpecialTokens {
  const names = { ...BERT_SPECIAL_TOKENS };
  const post = json.post_processor;
  if (post?.type === 'BertProcessing' || post?.type === 'RobertaProcessing') {
    if (post.cls) names.cls = post.cls[0];
    if (post.sep) names.sep = post.sep[0];
  } else if (post?.type === 'TemplateProcessing' && post.special_tokens) {
    // BERT's template has exactly two special tokens; the one that opens the
    // single-sequence template is the classifier token.
    const single = (post as { single?: Array<{ SpecialToken?: { id: string } }> }).single ?? [];
    const first = single.find((piece) => piece.SpecialToken)?.SpecialToken?.id;
    const last = [...single].reverse().find((piece) => piece.SpecialToken)?.SpecialToken?.id;
    if (first) names.cls = first;
    if (last) names.sep = last;
  }
  if (json.model?.unk_token) names.unk = json.model.unk_token;
  if (json.padding?.pad_token) names.pad = json.padding.pad_token;
  return names;
}
