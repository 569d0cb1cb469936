// Datasets: indexable collections of examples for the DataLoader.
// - ClassificationDataset: labeled rows of a CSV, TSV or JSONL file (text,
//   optional text pair, label: a class, several classes, or a number), held
//   in memory, with HF's label order (`labels` is config.json's id2label).
// - TokenClassificationDataset: CoNLL files (token first, tag last, blank
//   line between sentences), IOB1 converted to IOB2.
// - MlmDataset: blocks (or examples) of a token shard folder, masked afresh
//   per epoch, deterministically (masking.ts).
// Lines are read with lines.ts (invalid UTF-8 and over-long lines caught per
// line, never held); a bad row throws a CorpusError naming file and line, or
// is skipped and counted with `onBadRow: 'skip'`. No native code.

import { parse as parseCsv } from 'csv-parse/sync';
import { CorpusError } from './corpus-error.js';
import { readLines, type RawLine } from './lines.js';
import { formatOf, type BadRowReason } from './readers.js';
import { maskTokens, maskingVocabOf, type MaskedTokens, type MaskingVocab } from './masking.js';
import type { ShardReader } from './shards.js';
import type { Tokenizer } from '../tokenizer.js';
import { optionalBoolean, optionalChoice, optionalInteger, optionalNumber, optionsObject, requireString, typeError } from '../validate.js';

/**
 * Why a labeled row was rejected: a reader's reason, or a label problem
 * (`unknown_label`: not in the fixed `labels`; `invalid_label`: empty, or not a number for regression).
 */
export type DatasetBadRowReason = BadRowReason | 'unknown_label' | 'invalid_label';

/** The problem a classification dataset poses, named as in HF's `config.problem_type`. */
export type ProblemType = 'single_label_classification' | 'multi_label_classification' | 'regression';

/** One example of a {@link ClassificationDataset}. */
export interface ClassificationExample {
  text: string;
  pair?: string;
  /** A class id; for multi-label a multi-hot Float32Array (one entry per label); for regression the value. */
  label: number | Float32Array;
}

/** Options of {@link ClassificationDataset.fromFile}. */
export interface ClassificationFileOptions {
  /** Column (CSV/TSV header name or 0-based index) or JSONL field ("a.b" nested) of the text. @default 'text' */
  textColumn?: string | number;
  /** Column or field of the second text of a pair (NLI, paraphrase). */
  textPairColumn?: string | number;
  /** Column or field of the label. @default 'label' */
  labelColumn?: string | number;
  /**
   * The label names in id order. A row with another label is a bad row
   * (`unknown_label`). By default the sorted distinct labels of the file
   * (numerically if all are numbers), as HF's run_glue.
   */
  labels?: string[];
  /** Several labels per row: a JSONL array, or a text split at `delimiter` (default `','`). */
  multiLabel?: boolean | { delimiter?: string };
  /** The label is a number to predict. @default false */
  regression?: boolean;
  /** @default from the extension (.csv, .tsv, .jsonl, .ndjson, each optionally .gz) */
  format?: 'csv' | 'tsv' | 'jsonl';
  /** CSV/TSV: the first record names the columns. @default true */
  header?: boolean;
  /** Bad rows: throw a CorpusError naming file and line (`'error'`), or skip and count them. @default 'error' */
  onBadRow?: 'error' | 'skip';
  /** Longest line (or CSV record) in bytes; a longer one is a bad row. @default 8388608 */
  maxLineBytes?: number;
}

type RowFields = (key: string | number) => unknown;
type BadRow = { line: number; bad: DatasetBadRowReason; message: string };
type Row = { line: number; field: RowFields; bad?: undefined } | BadRow;

const isBlank = (text: string) => text.trim().length === 0;
const DEFAULT_MAX_LINE_BYTES = 8 * 1024 * 1024;

function lineBad(raw: RawLine & { error: string }, maxLineBytes: number): BadRow {
  return raw.error === 'invalid_utf8'
    ? { line: raw.line, bad: 'invalid_utf8', message: 'invalid UTF-8' }
    : { line: raw.line, bad: 'line_too_long', message: `line of ${raw.bytes} bytes, over maxLineBytes (${maxLineBytes})` };
}

// JSONL rows: each non-blank line one object, fields looked up by dotted path.
async function* jsonlRows(path: string, maxLineBytes: number): AsyncGenerator<Row> {
  for await (const raw of readLines(path, maxLineBytes)) {
    if (raw.error) yield lineBad(raw, maxLineBytes);
    else if (isBlank(raw.text)) continue;
    else {
      let value: unknown;
      try {
        value = JSON.parse(raw.text);
      } catch (error) {
        yield { line: raw.line, bad: 'malformed_json', message: (error as Error).message };
        continue;
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        yield { line: raw.line, bad: 'malformed_json', message: 'the line is not a JSON object' };
        continue;
      }
      const field = (key: string | number) =>
        String(key)
          .split('.')
          .reduce<unknown>((v, k) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[k] : undefined), value);
      yield { line: raw.line, field };
    }
  }
}

// CSV/TSV rows, as readers.ts reads them: the lines of a quoted field are
// gathered until the quotes balance, then csv-parse reads that one record; a
// record that never closes is one bad row and the lines after it are read
// again. A needed column missing from the header is an input error
// (ERR_CORPUS_INPUT), as in prepareCorpus; a short row reads as undefined.
async function* csvRows(path: string, format: 'csv' | 'tsv', header: boolean, needed: Array<string | number>, maxLineBytes: number): AsyncGenerator<Row> {
  const quote = format === 'csv' ? '"' : null;
  const lines = readLines(path, maxLineBytes);
  const replay: RawLine[] = [];
  const next = async () => replay.shift() ?? (await lines.next()).value ?? undefined;
  const odd = (text: string) => quote !== null && text.split(quote).length % 2 === 0;
  let names: Map<string, number> | undefined;
  try {
    for (let first = await next(); first !== undefined; first = await next()) {
      if (first.error) {
        yield lineBad(first, maxLineBytes);
        continue;
      }
      if (isBlank(first.text)) continue;
      const group = [first];
      let text = first.text;
      if (odd(text)) {
        let bytes = first.bytes;
        let closed = false;
        for (let more = await next(); more !== undefined; more = await next()) {
          group.push(more);
          if (more.error || bytes + more.bytes + 1 > maxLineBytes) break;
          text += '\n' + more.text;
          bytes += more.bytes + 1;
          if (odd(more.text)) {
            closed = true;
            break;
          }
        }
        if (!closed) {
          replay.unshift(...group.slice(1));
          yield { line: first.line, bad: 'unbalanced_quote', message: 'quoted field never closed' };
          continue;
        }
      }
      let fields: string[];
      try {
        const rows = parseCsv(text, { delimiter: format === 'tsv' ? '\t' : ',', quote, relax_column_count: true }) as string[][];
        if (rows.length !== 1) throw new Error(`expected one record, found ${rows.length}`);
        fields = rows[0];
      } catch (error) {
        replay.unshift(...group.slice(1));
        yield { line: first.line, bad: 'malformed_csv', message: (error as Error).message };
        continue;
      }
      if (header && names === undefined) {
        names = new Map(fields.map((name, index) => [name, index] as const).reverse());
        const absent = needed.find((key) => typeof key === 'string' && !names!.has(key));
        if (absent !== undefined) {
          const found = fields.map((name) => JSON.stringify(name)).join(', ');
          throw new CorpusError('ERR_CORPUS_INPUT', path, first.line, undefined, `column "${absent}" not found: the header has ${found}`);
        }
        continue;
      }
      const index = names;
      yield { line: first.line, field: (key) => fields[typeof key === 'number' ? key : index!.get(key)!] };
    }
  } finally {
    await lines.return(undefined);
  }
}

/**
 * Labeled texts for sequence classification, read whole into memory.
 * @example
 * const train = await ClassificationDataset.fromFile('sst2/train.tsv', { textColumn: 'sentence' });
 * console.log(train.labels, train.length, train.get(0));
 */
export class ClassificationDataset {
  /** Label names in id order (HF `id2label`); empty for regression. */
  readonly labels: readonly string[];
  /** Label name to id (HF `label2id`). */
  readonly label2id: Readonly<Record<string, number>>;
  readonly problemType: ProblemType;
  /** Rows skipped with `onBadRow: 'skip'`, by reason. */
  readonly badRows: Readonly<Partial<Record<DatasetBadRowReason, number>>>;
  readonly #texts: string[];
  readonly #pairs: string[] | undefined;
  readonly #labels: Array<number | Float32Array>;

  private constructor(init: {
    labels: string[];
    problemType: ProblemType;
    texts: string[];
    pairs: string[] | undefined;
    labelValues: Array<number | Float32Array>;
    badRows: Partial<Record<DatasetBadRowReason, number>>;
  }) {
    this.labels = Object.freeze(init.labels);
    this.label2id = Object.freeze(Object.fromEntries(init.labels.map((name, id) => [name, id])));
    this.problemType = init.problemType;
    this.#texts = init.texts;
    this.#pairs = init.pairs;
    this.#labels = init.labelValues;
    this.badRows = Object.freeze(init.badRows);
  }

  /**
   * Reads a CSV, TSV or JSONL file of labeled texts.
   * @throws {TypeError} for bad options or a file of unknown format.
   * @throws {CorpusError} `ERR_CORPUS_BAD_ROW` naming file:line for a bad row (unbalanced quote, missing column or field,
   *   invalid UTF-8, empty text, line over maxLineBytes, unknown or invalid label) unless `onBadRow: 'skip'`;
   *   `ERR_CORPUS_INPUT` for a header without a needed column.
   */
  static async fromFile(path: string, options?: ClassificationFileOptions): Promise<ClassificationDataset> {
    requireString(path, 'path');
    const opts = optionsObject(options, 'options');
    const format = opts.format ?? formatOf(path);
    if (format !== 'csv' && format !== 'tsv' && format !== 'jsonl') throw typeError("a .csv, .tsv or .jsonl file, or format", 'path', path);
    const header = optionalBoolean(opts.header, 'header', true);
    const textColumn = column(opts.textColumn, 'textColumn', 'text', header);
    const pairColumn = opts.textPairColumn === undefined ? undefined : column(opts.textPairColumn, 'textPairColumn', '', header);
    const labelColumn = column(opts.labelColumn, 'labelColumn', 'label', header);
    const regression = optionalBoolean(opts.regression, 'regression', false);
    const multi = opts.multiLabel === undefined || opts.multiLabel === false ? undefined : opts.multiLabel === true ? {} : optionsObject(opts.multiLabel, 'multiLabel');
    if (multi && regression) throw typeError('multiLabel or regression, not both', 'options', options);
    const delimiter = multi?.delimiter === undefined ? ',' : requireString(multi.delimiter, 'multiLabel.delimiter');
    const onBadRow = optionalChoice(opts.onBadRow, 'onBadRow', ['error', 'skip'] as const, 'error');
    const maxLineBytes = optionalInteger(opts.maxLineBytes, 'maxLineBytes', DEFAULT_MAX_LINE_BYTES, 1, 2 ** 30);
    const fixed = opts.labels === undefined ? undefined : checkLabels(opts.labels);
    const problemType: ProblemType = regression ? 'regression' : multi ? 'multi_label_classification' : 'single_label_classification';

    const texts: string[] = [];
    const pairs: string[] | undefined = pairColumn === undefined ? undefined : [];
    const raw: Array<number | string[]> = []; // a regression value, or label names
    const badRows: Partial<Record<DatasetBadRowReason, number>> = {};
    const needed = [textColumn, labelColumn, ...(pairColumn === undefined ? [] : [pairColumn])];
    const rows = format === 'jsonl' ? jsonlRows(path, maxLineBytes) : csvRows(path, format, header, needed, maxLineBytes);
    const plan: ExamplePlan = { textColumn, pairColumn, labelColumn, regression, multi: multi !== undefined, delimiter, fixed, format };
    for await (const row of rows) {
      const result = row.bad === undefined ? readExample(row, plan) : row;
      if (result.bad !== undefined) {
        // The label reasons are not among readers.ts's BadRowReason; the error carries them as they are.
        if (onBadRow === 'error') throw new CorpusError('ERR_CORPUS_BAD_ROW', path, result.line, result.bad as BadRowReason, result.message);
        badRows[result.bad] = (badRows[result.bad] ?? 0) + 1;
        continue;
      }
      texts.push(result.text);
      pairs?.push(result.pair!);
      raw.push(result.label);
    }
    const labels = regression ? [] : fixed ?? sortedLabels(raw.filter((v): v is string[] => Array.isArray(v)));
    const ids = new Map(labels.map((name, id) => [name, id]));
    const labelValues = raw.map((value): number | Float32Array => {
      if (typeof value === 'number') return value;
      if (!multi) return ids.get(value[0])!;
      const hot = new Float32Array(labels.length);
      for (const name of value) hot[ids.get(name)!] = 1;
      return hot;
    });
    return new ClassificationDataset({ labels, problemType, texts, pairs, labelValues, badRows });
  }

  /** Number of examples. */
  get length(): number {
    return this.#texts.length;
  }

  /** Number of labels (1 for regression, HF `num_labels`). */
  get numLabels(): number {
    return this.problemType === 'regression' ? 1 : this.labels.length;
  }

  /** Example `i`. */
  get(i: number): ClassificationExample {
    checkIndex(i, this.length);
    const example: ClassificationExample = { text: this.#texts[i], label: this.#labels[i] };
    if (this.#pairs) example.pair = this.#pairs[i];
    return example;
  }

  /** A length estimate for bucketing (characters of text and pair). */
  lengthOf(i: number): number {
    checkIndex(i, this.length);
    return this.#texts[i].length + (this.#pairs?.[i].length ?? 0);
  }
}

function column(value: unknown, name: string, fallback: string, header: boolean): string | number {
  if (value === undefined) return header ? fallback : 0;
  if (typeof value === 'number' ? !Number.isInteger(value) || value < 0 : typeof value !== 'string' || value.length === 0) {
    throw typeError('a column name or 0-based index', name, value);
  }
  if (typeof value === 'string' && !header) throw typeError('a column index when header is false', name, value);
  return value as string | number;
}

function checkLabels(labels: unknown): string[] {
  if (!Array.isArray(labels) || labels.length === 0 || labels.some((l) => typeof l !== 'string')) {
    throw typeError('a non-empty array of label names', 'labels', labels);
  }
  if (new Set(labels).size !== labels.length) throw typeError('distinct label names', 'labels', labels);
  return [...labels];
}

interface ExamplePlan {
  textColumn: string | number;
  pairColumn: string | number | undefined;
  labelColumn: string | number;
  regression: boolean;
  multi: boolean;
  delimiter: string;
  fixed: string[] | undefined;
  format: 'csv' | 'tsv' | 'jsonl';
}

type ReadExample = { line: number; text: string; pair?: string; label: number | string[]; bad?: undefined };

// One row to an example, or the reason it is bad. Labels stay names here: a
// single-label row gives one name; ids are given once all labels are known.
function readExample(row: Row & { bad?: undefined }, plan: ExamplePlan): BadRow | ReadExample {
  const line = row.line;
  const missing = (key: string | number): BadRow =>
    plan.format === 'jsonl'
      ? { line, bad: 'missing_field', message: `field "${key}" is missing or not a string` }
      : { line, bad: 'missing_column', message: `column ${JSON.stringify(key)} is missing from the row` };
  const text = row.field(plan.textColumn);
  if (typeof text !== 'string') return missing(plan.textColumn);
  if (isBlank(text)) return { line, bad: 'empty_text', message: `the text (${JSON.stringify(plan.textColumn)}) is empty` };
  let pair: string | undefined;
  if (plan.pairColumn !== undefined) {
    const value = row.field(plan.pairColumn);
    if (typeof value !== 'string') return missing(plan.pairColumn);
    if (isBlank(value)) return { line, bad: 'empty_text', message: `the text pair (${JSON.stringify(plan.pairColumn)}) is empty` };
    pair = value;
  }
  const value = row.field(plan.labelColumn);
  if (value === undefined || value === null) return missing(plan.labelColumn);
  let label: number | string[];
  if (plan.regression) {
    label = typeof value === 'number' ? value : typeof value === 'string' && !isBlank(value) ? Number(value) : NaN;
    if (!Number.isFinite(label)) return { line, bad: 'invalid_label', message: `label ${JSON.stringify(value)} is not a number` };
  } else if (plan.multi) {
    const list = Array.isArray(value) ? value : typeof value === 'string' ? (isBlank(value) ? [] : value.split(plan.delimiter)) : [value];
    if (list.some((v) => typeof v !== 'string' && typeof v !== 'number')) {
      return { line, bad: 'invalid_label', message: `labels ${JSON.stringify(value)} are not names` };
    }
    label = [...new Set(list.map((v) => String(v).trim()))];
  } else {
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      return { line, bad: 'invalid_label', message: `label ${JSON.stringify(value)} is not a name` };
    }
    const name = String(value).trim();
    if (name.length === 0) return { line, bad: 'invalid_label', message: 'the label is empty' };
    label = [name];
  }
  if (Array.isArray(label)) {
    const unknown = plan.fixed ? label.find((name) => !plan.fixed!.includes(name)) : undefined;
    if (unknown !== undefined) {
      return { line, bad: 'unknown_label', message: `label ${JSON.stringify(unknown)} is not one of ${JSON.stringify(plan.fixed)}` };
    }
  }
  return { line, text, pair, label };
}

// HF run_glue: sorted distinct labels; numbers in numeric order.
function sortedLabels(values: Array<string | string[]>): string[] {
  const names = [...new Set(values.flat())];
  const numeric = names.every((name) => name.trim() !== '' && Number.isFinite(Number(name)));
  return numeric ? names.sort((a, b) => Number(a) - Number(b)) : names.sort();
}

function checkIndex(i: number, length: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= length) throw new RangeError(`Expected an index from 0 to ${length - 1} for i but received ${i}`);
}

/** One sentence of a {@link TokenClassificationDataset}: its words and a tag id per word. */
export interface TokenClassificationExample {
  words: string[];
  labels: Int32Array;
}

/** Options of {@link TokenClassificationDataset.fromConll}. */
export interface ConllOptions {
  /** Tag names in id order; another tag is a bad row (`unknown_label`). @default the sorted distinct tags (after conversion to IOB2) */
  labels?: string[];
  /**
   * The file's tagging scheme. IOB1 (CoNLL-2003's original files: I- starts
   * an entity, B- only splits two adjacent ones) is converted to IOB2, so
   * every entity starts with B-.
   * @default 'IOB2'
   */
  scheme?: 'IOB2' | 'IOB1';
  /** Default of the collator's labelAllSubwords: label every word piece, not only a word's first. @default false */
  labelAllSubwords?: boolean;
  /** A bad line (invalid UTF-8, too long, no tag column, a tag not O/B-X/I-X, an unknown tag) throws, or its sentence is skipped. @default 'error' */
  onBadRow?: 'error' | 'skip';
  /** @default 8388608 */
  maxLineBytes?: number;
}

/**
 * Sentences of a CoNLL file for token classification (NER): one token a line
 * with the word first and the tag last (whitespace separated), a blank line
 * between sentences, `-DOCSTART-` lines skipped.
 * @example
 * const train = await TokenClassificationDataset.fromConll('conll2003/train.txt', { scheme: 'IOB1' });
 * train.get(0); // { words: ['EU', 'rejects', ...], labels: Int32Array [...] }
 */
export class TokenClassificationDataset {
  /** Tag names in id order (HF `id2label`). */
  readonly labels: readonly string[];
  readonly label2id: Readonly<Record<string, number>>;
  readonly labelAllSubwords: boolean;
  /** Sentences skipped with `onBadRow: 'skip'`, by reason. */
  readonly badRows: Readonly<Partial<Record<DatasetBadRowReason, number>>>;
  readonly #sentences: TokenClassificationExample[];

  private constructor(labels: string[], sentences: TokenClassificationExample[], labelAllSubwords: boolean, badRows: Partial<Record<DatasetBadRowReason, number>>) {
    this.labels = Object.freeze(labels);
    this.label2id = Object.freeze(Object.fromEntries(labels.map((name, id) => [name, id])));
    this.#sentences = sentences;
    this.labelAllSubwords = labelAllSubwords;
    this.badRows = Object.freeze(badRows);
  }

  /**
   * Reads a CoNLL file (`.gz` too).
   * @throws {TypeError} for bad options.
   * @throws {CorpusError} `ERR_CORPUS_BAD_ROW` naming file:line for a bad line, unless `onBadRow: 'skip'`.
   */
  static async fromConll(path: string, options?: ConllOptions): Promise<TokenClassificationDataset> {
    requireString(path, 'path');
    const opts = optionsObject(options, 'options');
    const scheme = optionalChoice(opts.scheme, 'scheme', ['IOB2', 'IOB1'] as const, 'IOB2');
    const labelAllSubwords = optionalBoolean(opts.labelAllSubwords, 'labelAllSubwords', false);
    const onBadRow = optionalChoice(opts.onBadRow, 'onBadRow', ['error', 'skip'] as const, 'error');
    const maxLineBytes = optionalInteger(opts.maxLineBytes, 'maxLineBytes', DEFAULT_MAX_LINE_BYTES, 1, 2 ** 30);
    const fixed = opts.labels === undefined ? undefined : checkLabels(opts.labels);
    const sentences: Array<{ words: string[]; tags: string[] }> = [];
    const badRows: Partial<Record<DatasetBadRowReason, number>> = {};
    let words: string[] = [];
    let tags: string[] = [];
    let lines: number[] = [];
    let bad: BadRow | undefined;
    const flush = () => {
      if (bad === undefined && words.length > 0) {
        const converted = scheme === 'IOB1' ? iob1ToIob2(tags) : tags;
        const unknown = fixed ? converted.findIndex((tag) => !fixed.includes(tag)) : -1;
        if (unknown >= 0) {
          const tag = converted[unknown];
          bad = { line: lines[unknown], bad: 'unknown_label', message: `tag ${JSON.stringify(tag)} is not one of ${JSON.stringify(fixed)}` };
        } else {
          sentences.push({ words, tags: converted });
        }
      }
      if (bad !== undefined) {
        if (onBadRow === 'error') throw new CorpusError('ERR_CORPUS_BAD_ROW', path, bad.line, bad.bad as BadRowReason, bad.message);
        badRows[bad.bad] = (badRows[bad.bad] ?? 0) + 1;
      }
      words = [];
      tags = [];
      lines = [];
      bad = undefined;
    };
    for await (const raw of readLines(path, maxLineBytes)) {
      if (raw.error) {
        bad ??= lineBad(raw, maxLineBytes);
        continue;
      }
      const columns = raw.text.trim().split(/\s+/);
      if (columns[0] === '') {
        flush();
        continue;
      }
      if (columns[0] === '-DOCSTART-') {
        flush();
        continue;
      }
      if (bad !== undefined) continue;
      const tag = columns[columns.length - 1];
      if (columns.length < 2) bad = { line: raw.line, bad: 'missing_column', message: `the line has no tag column: ${JSON.stringify(raw.text.slice(0, 80))}` };
      else if (tag !== 'O' && !/^[BI]-./.test(tag)) bad = { line: raw.line, bad: 'invalid_label', message: `tag ${JSON.stringify(tag)} is not O, B-<type> or I-<type>` };
      else {
        words.push(columns[0]);
        tags.push(tag);
        lines.push(raw.line);
      }
    }
    flush();
    const labels = fixed ?? [...new Set(sentences.flatMap((s) => s.tags))].sort();
    const ids = new Map(labels.map((name, id) => [name, id]));
    const examples = sentences.map(({ words, tags }) => ({ words, labels: Int32Array.from(tags, (tag) => ids.get(tag)!) }));
    return new TokenClassificationDataset(labels, examples, labelAllSubwords, badRows);
  }

  /** Number of sentences. */
  get length(): number {
    return this.#sentences.length;
  }

  /** Sentence `i` (a copy; change it freely). */
  get(i: number): TokenClassificationExample {
    checkIndex(i, this.length);
    const { words, labels } = this.#sentences[i];
    return { words: [...words], labels: labels.slice() };
  }

  /** Words in sentence `i`, for bucketing. */
  lengthOf(i: number): number {
    checkIndex(i, this.length);
    return this.#sentences[i].words.length;
  }
}

/**
 * IOB1 tags to IOB2: an I-X that does not continue an X entity (at the start,
 * after O or after another type) becomes B-X, as seqeval reads IOB1.
 * @example
 * iob1ToIob2(['I-PER', 'I-PER', 'O', 'I-LOC', 'B-LOC']); // ['B-PER', 'I-PER', 'O', 'B-LOC', 'B-LOC']
 */
export function iob1ToIob2(tags: readonly string[]): string[] {
  return tags.map((tag, k) => {
    if (!tag.startsWith('I-')) return tag;
    const previous = k > 0 ? tags[k - 1] : 'O';
    return previous === 'O' || previous.slice(2) !== tag.slice(2) ? `B-${tag.slice(2)}` : tag;
  });
}

/** One masked-LM example: ids with masks applied, and labels (-100 where not a target). */
export type MlmExample = MaskedTokens;

/** Options of {@link MlmDataset}. */
export interface MlmDatasetOptions {
  /**
   * Tokens per example: the shard stream is cut into blocks (HF run_mlm's
   * group_texts). Without it each stored example is one (HF's line_by_line).
   */
  blockSize?: number;
  /** Where the special, [MASK] and `##` ids come from: a tokenizer, or a {@link MaskingVocab}. */
  tokenizer: Tokenizer | MaskingVocab;
  /** @default 0 */
  seed?: number;
  /** Share of non-special tokens masked (HF `mlm_probability`). @default 0.15 */
  probability?: number;
  /** Whole-word masking (HF DataCollatorForWholeWordMask). @default false */
  wholeWord?: boolean;
}

/**
 * Masked-LM examples from token shards: example i of epoch e is always masked
 * the same way, and differently in each epoch (dynamic masking, RoBERTa §4.1).
 * @example
 * const reader = await ShardReader.open('shards/train', { tokenizer });
 * const train = new MlmDataset(reader, { blockSize: 128, tokenizer, seed: 42 });
 * const { inputIds, labels } = train.get(0, epoch);
 */
export class MlmDataset {
  readonly blockSize: number | undefined;
  readonly seed: number;
  readonly probability: number;
  readonly wholeWord: boolean;
  readonly vocab: MaskingVocab;
  readonly #source: { length: number; get(i: number): Int32Array; lengthOf?(i: number): number };

  constructor(reader: Pick<ShardReader, 'length' | 'get' | 'blocks'>, options: MlmDatasetOptions) {
    const opts = optionsObject(options, 'options');
    if (reader === null || typeof reader !== 'object' || typeof reader.get !== 'function') throw typeError('a ShardReader', 'reader', reader);
    if (opts.tokenizer === undefined || opts.tokenizer === null || typeof opts.tokenizer !== 'object') {
      throw typeError('a Tokenizer or MaskingVocab', 'tokenizer', opts.tokenizer);
    }
    this.vocab = 'maskId' in opts.tokenizer ? opts.tokenizer : maskingVocabOf(opts.tokenizer);
    this.blockSize = opts.blockSize === undefined ? undefined : optionalInteger(opts.blockSize, 'blockSize', 0, 1);
    this.seed = optionalInteger(opts.seed, 'seed', 0);
    this.probability = optionalNumber(opts.probability, 'probability', 0.15, 0, 1);
    this.wholeWord = optionalBoolean(opts.wholeWord, 'wholeWord', false);
    if (this.wholeWord && !this.vocab.continuation) throw typeError('a vocab with continuation for wholeWord', 'tokenizer', opts.tokenizer);
    this.#source = this.blockSize === undefined ? (reader as ShardReader) : reader.blocks(this.blockSize);
  }

  /** Number of examples (blocks, or stored examples without blockSize). */
  get length(): number {
    return this.#source.length;
  }

  /** Example `i` masked for `epoch`. */
  get(i: number, epoch = 0): MlmExample {
    return maskTokens(this.#source.get(i), this.vocab, { probability: this.probability, wholeWord: this.wholeWord, seed: this.seed, epoch, index: i });
  }

  /** Tokens in example `i`, for bucketing. */
  lengthOf(i: number): number {
    return this.blockSize ?? this.#source.lengthOf!(i);
  }
}
