// The files of a HuggingFace tokenizer folder besides tokenizer.json:
// vocab.txt (one token a line, id = line number), tokenizer_config.json
// (do_lower_case, strip_accents, tokenize_chinese_chars, model_max_length,
// special tokens) and special_tokens_map.json. Reading follows transformers'
// BertTokenizer(Fast); writing produces what `AutoTokenizer.from_pretrained`
// loads as a BertTokenizerFast. Every file is written to a temporary name and
// renamed, so a crash never leaves half a tokenizer (DESIGN.md "Formats").

import { randomBytes } from 'node:crypto';
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NormalizerFlags, SpecialTokens, TokenizerJson } from './bert-json.js';
import { show, typeError } from '../validate.js';

/** What we use from tokenizer_config.json (and special_tokens_map.json). */
export interface TokenizerConfig {
  flags: NormalizerFlags;
  special: Partial<SpecialTokens>;
  additionalSpecialTokens: string[];
  /** Infinity when the config says "no limit" (transformers writes 1e30). */
  modelMaxLength: number | undefined;
  tokenizerClass: string | undefined;
  /** transformers' `clean_up_tokenization_spaces`; undefined when the config does not say. */
  cleanUpTokenizationSpaces: boolean | undefined;
  /** `padding_side` / `truncation_side`; undefined when the config does not say. */
  paddingSide: 'left' | 'right' | undefined;
  truncationSide: 'left' | 'right' | undefined;
  /** sentence-transformers' `max_seq_length` (sentence_bert_config.json), if the folder has one. */
  maxSeqLength: number | undefined;
}

/** Above this, transformers' model_max_length means "unlimited" (it writes int(1e30)). */
const UNLIMITED_LENGTH = 2 ** 31 - 1;

/**
 * Reads vocab.txt as transformers' `load_vocab` does: one token a line, only
 * the `\n` removed, id = line index. A repeated token would give two ids to one
 * string (Python keeps the last silently), so it is refused here.
 */
export async function readVocabFile(path: string): Promise<string[]> {
  const text = await readFile(path, 'utf8');
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const seen = new Map<string, number>();
  lines.forEach((token, index) => {
    const first = seen.get(token);
    if (first !== undefined) {
      throw new TypeError(
        `Expected unique tokens in ${path} but received ${JSON.stringify(token)} on lines ${first + 1} and ${index + 1}`,
      );
    }
    seen.set(token, index);
  });
  return lines;
}

/** vocab.txt contents for tokens in id order. */
export function vocabFileText(vocab: readonly string[]): string {
  return vocab.join('\n') + '\n';
}

async function readJsonIfExists(path: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new TypeError(`Expected JSON in ${path} but received text that fails to parse: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`Expected a JSON object in ${path} but received ${Array.isArray(value) ? 'an array' : String(value)}`);
  }
  return value as Record<string, unknown>;
}

// transformers serialises a special token either as a string or as an
// AddedToken object `{"content": "[CLS]", ...}`.
function tokenName(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return undefined;
}

/**
 * Reads tokenizer_config.json and special_tokens_map.json of `dir` (either may
 * be missing). Defaults are BertTokenizerFast's: lowercase, accents follow
 * lowercase, CJK spacing on.
 */
export async function readTokenizerConfig(dir: string): Promise<TokenizerConfig> {
  const config = (await readJsonIfExists(join(dir, 'tokenizer_config.json'))) ?? {};
  const map = (await readJsonIfExists(join(dir, 'special_tokens_map.json'))) ?? {};
  const bool = (key: string, fallback: boolean): boolean => (typeof config[key] === 'boolean' ? (config[key] as boolean) : fallback);
  const stripAccents = typeof config.strip_accents === 'boolean' ? config.strip_accents : null;
  const special: Partial<SpecialTokens> = {};
  for (const role of ['unk', 'cls', 'sep', 'pad', 'mask'] as const) {
    const name = tokenName(config[`${role}_token`]) ?? tokenName(map[`${role}_token`]);
    if (name !== undefined) special[role] = name;
  }
  const extra = config.additional_special_tokens ?? map.additional_special_tokens;
  const additionalSpecialTokens = Array.isArray(extra) ? extra.map(tokenName).filter((t): t is string => t !== undefined) : [];
  const sbert = (await readJsonIfExists(join(dir, 'sentence_bert_config.json'))) ?? {};
  const side = (key: string) => (config[key] === 'left' || config[key] === 'right' ? (config[key] as 'left' | 'right') : undefined);
  const rawMax = config.model_max_length;
  const modelMaxLength =
    typeof rawMax === 'number' && rawMax > 0 ? (rawMax > UNLIMITED_LENGTH ? Infinity : Math.floor(rawMax)) : undefined;
  return {
    flags: {
      lowercase: bool('do_lower_case', true),
      stripAccents,
      handleChineseChars: bool('tokenize_chinese_chars', true),
    },
    special,
    additionalSpecialTokens,
    modelMaxLength,
    tokenizerClass: typeof config.tokenizer_class === 'string' ? config.tokenizer_class : undefined,
    cleanUpTokenizationSpaces:
      typeof config.clean_up_tokenization_spaces === 'boolean' ? config.clean_up_tokenization_spaces : undefined,
    paddingSide: side('padding_side'),
    truncationSide: side('truncation_side'),
    maxSeqLength: Number.isInteger(sbert.max_seq_length) && (sbert.max_seq_length as number) > 0 ? (sbert.max_seq_length as number) : undefined,
  };
}

/** What save() puts in tokenizer_config.json and special_tokens_map.json. */
export interface ConfigToWrite {
  flags: NormalizerFlags;
  special: SpecialTokens;
  additionalSpecialTokens: readonly string[];
  /** Written as transformers' "unlimited" (1e30) when Infinity. */
  modelMaxLength: number;
  /** id of every special token, for `added_tokens_decoder`. */
  specialIds: ReadonlyMap<string, number>;
  cleanUpTokenizationSpaces: boolean;
}

/** tokenizer_config.json as transformers 4.x writes it for a BertTokenizerFast. */
export function tokenizerConfigJson(c: ConfigToWrite): Record<string, unknown> {
  const decoder: Record<string, unknown> = {};
  for (const [content, id] of [...c.specialIds].sort((a, b) => a[1] - b[1])) {
    decoder[String(id)] = { content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true };
  }
  const config: Record<string, unknown> = {
    added_tokens_decoder: decoder,
    clean_up_tokenization_spaces: c.cleanUpTokenizationSpaces,
    cls_token: c.special.cls,
    do_basic_tokenize: true,
    do_lower_case: c.flags.lowercase,
    mask_token: c.special.mask,
    model_max_length: Number.isFinite(c.modelMaxLength) ? c.modelMaxLength : 1e30,
    never_split: null,
    pad_token: c.special.pad,
    sep_token: c.special.sep,
    strip_accents: c.flags.stripAccents,
    tokenize_chinese_chars: c.flags.handleChineseChars,
    tokenizer_class: 'BertTokenizer',
    unk_token: c.special.unk,
  };
  if (c.additionalSpecialTokens.length > 0) config.additional_special_tokens = [...c.additionalSpecialTokens];
  return config;
}

/** special_tokens_map.json for the same tokenizer. */
export function specialTokensMapJson(c: ConfigToWrite): Record<string, unknown> {
  const map: Record<string, unknown> = {
    cls_token: c.special.cls,
    mask_token: c.special.mask,
    pad_token: c.special.pad,
    sep_token: c.special.sep,
    unk_token: c.special.unk,
  };
  if (c.additionalSpecialTokens.length > 0) map.additional_special_tokens = [...c.additionalSpecialTokens];
  return map;
}

/** Writes `data` to `path` through a temporary file in the same folder and a rename. */
export async function writeAtomic(path: string, data: string): Promise<void> {
  const temp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(temp, data);
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
}

/** Reads a tokenizer.json and checks that its model is WordPiece. */
export async function readTokenizerJson(path: string): Promise<TokenizerJson> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw typeError('an existing tokenizer.json', 'path', path);
    throw new TypeError(`Expected JSON in ${path} but received text that fails to parse: ${(error as Error).message}`);
  }
  if (json === null || typeof json !== 'object' || (json as TokenizerJson).model?.type !== 'WordPiece') {
    const type = show((json as TokenizerJson)?.model?.type);
    throw new TypeError(`Expected a WordPiece tokenizer.json for path but received ${path} with model type ${type}`);
  }
  checkParts(json as Record<string, unknown>, path);
  return json as TokenizerJson;
}

// The parts of tokenizer.json read here before the tokenizers package parses
// the whole (that one names its own errors): a wrong type in them would fail
// later with a bare TypeError that names no file.
function checkParts(json: Record<string, unknown>, path: string): void {
  const bad = (what: string, key: string, value: unknown) =>
    new TypeError(`Expected ${what} for ${key} in ${path} but received ${show(value)}`);
  const isObject = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);
  const added = json.added_tokens;
  if (added !== undefined && added !== null) {
    if (!Array.isArray(added)) throw bad('an array', 'added_tokens', added);
    added.forEach((t, i) => {
      if (!isObject(t) || !Number.isInteger((t as { id?: unknown }).id) || typeof (t as { content?: unknown }).content !== 'string') {
        throw bad('an object with an integer id and a string content', `added_tokens[${i}]`, t);
      }
    });
  }
  for (const key of ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder', 'padding', 'truncation']) {
    if (json[key] !== undefined && json[key] !== null && !isObject(json[key])) throw bad('an object or null', key, json[key]);
  }
  const post = json.post_processor as Record<string, unknown> | null | undefined;
  for (const key of ['single', 'pair']) {
    if (post?.[key] !== undefined && !Array.isArray(post[key])) throw bad('an array', `post_processor.${key}`, post[key]);
  }
  for (const key of ['cls', 'sep']) {
    const v = post?.[key];
    if (v !== undefined && (!Array.isArray(v) || typeof v[0] !== 'string')) throw bad('a [token, id] pair', `post_processor.${key}`, v);
  }
  const model = json.model as Record<string, unknown>;
  if (model.unk_token !== undefined && typeof model.unk_token !== 'string') throw bad('a string', 'model.unk_token', model.unk_token);
  const padding = json.padding as Record<string, unknown> | null | undefined;
  if (padding?.pad_token !== undefined && typeof padding.pad_token !== 'string') throw bad('a string', 'padding.pad_token', padding.pad_token);
}

/** Tokens in id order from the package's token-to-id table; ids must have no gaps. */
export function vocabInIdOrder(vocab: Record<string, number>, source: string): string[] {
  const tokens: string[] = [];
  for (const [token, id] of Object.entries(vocab)) tokens[id] = token;
  for (let id = 0; id < tokens.length; id++) {
    if (tokens[id] === undefined) throw new TypeError(`Expected contiguous token ids in ${source} but received a vocabulary without id ${id}`);
  }
  return tokens;
}
