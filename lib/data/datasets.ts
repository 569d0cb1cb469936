// Datasets: indexable collections of examples for the DataLoader.
// - ClassificationDataset: labeled rows of a CSV, TSV or JSONL file (text,
//   optional text pair, label: a class, several classes, or a number), held
//   in memory, with HF's label order (`labels` is config.json's id2label).
// - TokenClassificationDataset (conll.ts): CoNLL files.
// - MlmDataset: blocks (or examples) of a token shard folder, masked afresh
//   per epoch, deterministically (masking.ts).
// Strict by default: a row with more or fewer fields than the header, a value
// of the wrong type (a number or object where text is due), a label outside
// the given set is a CorpusError naming file and line, or with
// `onBadRow: 'skip'` a skip counted in `badRows` and listed in `skippedRows`.
// Lines are read with lines.ts (invalid UTF-8, NUL bytes and over-long lines
// caught per line, never held). Parquet files, Arrow files and HF `datasets`
// folders come through parquet-table.ts (a row's "line" is its row number).
// No native code.

import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BadRowTally, checkIndex, checkLabels, type BadRow, type DatasetBadRowReason, type SkippedRow } from './bad-rows.js';
import { namingInputErrors } from './corpus-error.js';
import { csvRows, lineProblem, resolveColumns } from './csv.js';
import { readLines } from './lines.js';
import { tableRows, type TableFormat } from './parquet-table.js';
import { describeValue, fieldOf, formatOf } from './readers.js';
import { maskTokens, maskingVocabOf, type MaskedTokens, type MaskingVocab } from './masking.js';
import type { ShardReader } from './shards.js';
import type { Tokenizer } from '../tokenizer.js';
import { optionalBoolean, optionalChoice, optionalInteger, optionalNumber, optionsObject, requireString, typeError } from '../validate.js';

export { TokenClassificationDataset, iob1ToIob2, type ConllOptions, type TagRepair, type TokenClassificationExample } from './conll.js';
export type { DatasetBadRowReason, SkippedRow } from './bad-rows.js';

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
   * (numerically if all are numbers), as HF's run_glue. Labels are compared
   * with surrounding whitespace removed.
   */
  labels?: string[];
  /** Several labels per row: a JSONL array, or a text split at `delimiter` (default `','`). */
  multiLabel?: boolean | { delimiter?: string };
  /** The label is a number to predict (a JSON number, or a decimal such as `-1.5e3` in text). @default false */
  regression?: boolean;
  /**
   * @default from the extension (.csv, .tsv, .jsonl, .ndjson, each optionally .gz; .parquet; .arrow),
   * 'arrow' for a HF `datasets` save folder (state.json beside *.arrow files), 'parquet' for a folder of .parquet files
   */
  format?: 'csv' | 'tsv' | 'jsonl' | 'parquet' | 'arrow';
  /** CSV/TSV: the first record names the columns; without it, the first record sets the number of fields. @default true */
  header?: boolean;
  /**
   * A bad row (another number of fields than the header, a missing or
   * wrongly typed field, an empty text, an unknown or invalid label, invalid
   * UTF-8, a NUL byte, an unbalanced quote, a line over maxLineBytes):
   * throw a CorpusError naming file and line (`'error'`), or skip it, counted
   * in `badRows` and listed with its line in `skippedRows`.
   * @default 'error'
   */
  onBadRow?: 'error' | 'skip';
  /** Longest line (or CSV record) in bytes; a longer one is a bad row. @default 8388608 */
  maxLineBytes?: number;
}

type RowFields = (key: string | number) => unknown;
type Row = { line: number; field: RowFields; where?: string; bad?: undefined } | BadRow;

const isBlank = (text: string) => text.trim().length === 0;
const DEFAULT_MAX_LINE_BYTES = 8 * 1024 * 1024;
// A decimal number as Python's float() reads one (no hex, no "Infinity", no blanks inside).
const DECIMAL = /^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/;

// JSONL rows: each non-blank line one object, fields looked up by dotted path.
async function* jsonlRows(path: string, maxLineBytes: number): AsyncGenerator<Row> {
  for await (const raw of readLines(path, maxLineBytes)) {
    if (raw.error) yield { line: raw.line, ...lineProblem(raw, maxLineBytes) };
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
        yield { line: raw.line, bad: 'malformed_json', message: `the line is ${describeValue(value)}, not a JSON object` };
        continue;
      }
      const object = value as Record<string, unknown>;
      yield { line: raw.line, field: (key) => fieldOf(object, String(key).split('.')) };
    }
  }
}

// CSV/TSV rows from csv.ts (which checks each row's field count); a needed
// column missing from the header is an input error (ERR_CORPUS_INPUT).
async function* csvTableRows(path: string, format: 'csv' | 'tsv', header: boolean, needed: Array<string | number>, maxLineBytes: number): AsyncGenerator<Row> {
  const spec = { delimiter: format === 'tsv' ? '\t' : ',', quote: format === 'csv' ? '"' : null, header, maxLineBytes };
  let index: Map<string | number, number> | undefined;
  for await (const row of csvRows(path, spec)) {
    if (row.bad !== undefined) {
      yield row;
      continue;
    }
    if (index === undefined) {
      const at = resolveColumns(needed, row.header ? row.fields : undefined, row.fields.length, row.line);
      index = new Map(needed.map((key, k) => [key, at[k]]));
    }
    if (row.header) continue;
    const fields = row.fields;
    yield { line: row.line, field: (key) => fields[index!.get(key)!] };
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
  /** Each row skipped with `onBadRow: 'skip'`: its line, reason and message, in file order. */
  readonly skippedRows: readonly SkippedRow[];
  readonly #texts: string[];
  readonly #pairs: string[] | undefined;
  readonly #labels: Array<number | Float32Array>;

  private constructor(init: {
    labels: string[];
    problemType: ProblemType;
    texts: string[];
    pairs: string[] | undefined;
    labelValues: Array<number | Float32Array>;
    tally: BadRowTally;
  }) {
    this.labels = Object.freeze(init.labels);
    this.label2id = Object.freeze(Object.fromEntries(init.labels.map((name, id) => [name, id])));
    this.problemType = init.problemType;
    this.#texts = init.texts;
    this.#pairs = init.pairs;
    this.#labels = init.labelValues;
    this.badRows = Object.freeze(init.tally.counts);
    this.skippedRows = Object.freeze(init.tally.rows);
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
    const files = await tableFiles(path);
    const format = opts.format ?? formatOf(files?.[0] ?? path);
    if (format !== 'csv' && format !== 'tsv' && format !== 'jsonl' && format !== 'parquet' && format !== 'arrow') {
      throw typeError('a .csv, .tsv, .jsonl, .parquet or .arrow file, a folder of .parquet or .arrow files, or format', 'path', path);
    }
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
    const tally = new BadRowTally(path, onBadRow);
    const needed = [textColumn, labelColumn, ...(pairColumn === undefined ? [] : [pairColumn])];
    const plan: ExamplePlan = { textColumn, pairColumn, labelColumn, regression, multi: multi !== undefined, delimiter, fixed, format };
    const textKeys = [textColumn, ...(pairColumn === undefined ? [] : [pairColumn])];
    // A folder of tables is read file by file; bad rows name their own file.
    for (const file of format === 'parquet' || format === 'arrow' ? files ?? [path] : [path]) {
      const fileTally = file === path ? tally : new BadRowTally(file, onBadRow);
      const rows = namingInputErrors<Row>(
        file,
        format === 'jsonl'
          ? jsonlRows(file, maxLineBytes)
          : format === 'parquet' || format === 'arrow'
            ? tableRows(file, format, needed, textKeys)
            : csvTableRows(file, format, header, needed, maxLineBytes),
      );
      for await (const row of rows) {
        const result = row.bad === undefined ? readExample(row, plan) : row;
        if (result.bad !== undefined) {
          fileTally.add(row.bad === undefined && row.where ? { ...result, message: `${result.message} (${row.where})` } : result);
          continue;
        }
        texts.push(result.text);
        pairs?.push(result.pair!);
        raw.push(result.label);
      }
      if (fileTally !== tally) {
        for (const [reason, count] of Object.entries(fileTally.counts)) tally.counts[reason as DatasetBadRowReason] = (tally.counts[reason as DatasetBadRowReason] ?? 0) + count;
        tally.rows.push(...fileTally.rows.map((r) => ({ ...r, message: `${file}: ${r.message}` })));
      }
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
    return new ClassificationDataset({ labels, problemType, texts, pairs, labelValues, tally });
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

interface ExamplePlan {
  textColumn: string | number;
  pairColumn: string | number | undefined;
  labelColumn: string | number;
  regression: boolean;
  multi: boolean;
  delimiter: string;
  fixed: string[] | undefined;
  format: 'csv' | 'tsv' | 'jsonl' | TableFormat;
}

type ReadExample = { line: number; text: string; pair?: string; label: number | string[]; bad?: undefined };

// One row to an example, or the reason it is bad. Labels stay names here: a
// single-label row gives one name; ids are given once all labels are known.
function readExample(row: Row & { bad?: undefined }, plan: ExamplePlan): BadRow | ReadExample {
  const line = row.line;
  const text = readText(row, line, plan.textColumn, 'text', plan.format);
  if (typeof text !== 'string') return text;
  let pair: string | undefined;
  if (plan.pairColumn !== undefined) {
    const value = readText(row, line, plan.pairColumn, 'text pair', plan.format);
    if (typeof value !== 'string') return value;
    pair = value;
  }
  const value = row.field(plan.labelColumn);
  const where = `label (${JSON.stringify(plan.labelColumn)})`;
  if (value === undefined || value === null) return missing(line, plan.labelColumn, plan.format);
  const wrong = (what: string): BadRow => ({ line, bad: 'wrong_type', message: `the ${where} is ${describeValue(value)}, not ${what}` });
  let label: number | string[];
  if (plan.regression) {
    if (typeof value !== 'number' && typeof value !== 'string') return wrong('a number');
    label = typeof value === 'number' ? value : DECIMAL.test(value) ? Number(value) : NaN;
    if (!Number.isFinite(label)) return { line, bad: 'invalid_label', message: `the ${where} ${JSON.stringify(value)} is not a decimal number` };
  } else if (plan.multi) {
    const list = Array.isArray(value) ? value : typeof value === 'string' ? (isBlank(value) ? [] : value.split(plan.delimiter)) : [value];
    if (list.some((v) => typeof v !== 'string' && typeof v !== 'number')) return wrong('label names (strings or numbers)');
    const names = list.map((v) => String(v).trim());
    if (names.some((name) => name.length === 0)) return { line, bad: 'invalid_label', message: `the ${where} ${JSON.stringify(value)} holds an empty label name` };
    label = [...new Set(names)];
  } else {
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') return wrong('a label name');
    const name = String(value).trim();
    if (name.length === 0) return { line, bad: 'invalid_label', message: `the ${where} is empty` };
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

function missing(line: number, key: string | number, format: ExamplePlan['format']): BadRow {
  if (format === 'parquet' || format === 'arrow') return { line, bad: 'missing_field', message: `column ${JSON.stringify(key)} is null` };
  return format === 'jsonl'
    ? { line, bad: 'missing_field', message: `field "${key}" is missing` }
    : { line, bad: 'missing_column', message: `column ${JSON.stringify(key)} is missing from the row` };
}

// A folder of Parquet files, or a HF `datasets` save folder (state.json lists
// its .arrow files), as its files in order; undefined for anything else.
async function tableFiles(path: string): Promise<string[] | undefined> {
  const info = await stat(path).catch(() => undefined);
  if (!info?.isDirectory()) return undefined;
  const state = await readFile(join(path, 'state.json'), 'utf8').then((text) => JSON.parse(text) as { _data_files?: Array<{ filename: string }> }, () => undefined);
  if (state?._data_files?.length) return state._data_files.map((f) => join(path, f.filename));
  const entries = (await readdir(path)).filter((name) => !name.startsWith('.') && (formatOf(name) === 'parquet' || formatOf(name) === 'arrow')).sort();
  if (entries.length === 0) throw typeError('a folder with .parquet or .arrow files (or a HF datasets save folder)', 'path', path);
  return entries.map((name) => join(path, name));
}

// A text field: a non-blank string, and nothing else (a JSON number or object is not text).
function readText(row: Row & { bad?: undefined }, line: number, key: string | number, what: string, format: ExamplePlan['format']): string | BadRow {
  const value = row.field(key);
  if (value === undefined || value === null) return missing(line, key, format);
  if (typeof value !== 'string') return { line, bad: 'wrong_type', message: `the ${what} (${JSON.stringify(key)}) is ${describeValue(value)}, not a string` };
  if (isBlank(value)) return { line, bad: 'empty_text', message: `the ${what} (${JSON.stringify(key)}) is empty` };
  return value;
}

// HF run_glue: sorted distinct labels; numbers in numeric order.
function sortedLabels(values: Array<string | string[]>): string[] {
  const names = [...new Set(values.flat())];
  const numeric = names.every((name) => name.trim() !== '' && Number.isFinite(Number(name)));
  return numeric ? names.sort((a, b) => Number(a) - Number(b)) : names.sort();
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
  /** SpanBERT span masking of whole words ({@link MaskingOptions.span}). @default false */
  span?: boolean;
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
  readonly span: boolean;
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
    this.span = optionalBoolean(opts.span, 'span', false);
    if ((this.wholeWord || this.span) && !this.vocab.continuation) throw typeError(`a vocab with continuation for ${this.span ? 'span' : 'wholeWord'}`, 'tokenizer', opts.tokenizer);
    this.#source = this.blockSize === undefined ? (reader as ShardReader) : reader.blocks(this.blockSize);
  }

  /** Number of examples (blocks, or stored examples without blockSize). */
  get length(): number {
    return this.#source.length;
  }

  /** Example `i` masked for `epoch`. */
  get(i: number, epoch = 0): MlmExample {
    return maskTokens(this.#source.get(i), this.vocab, { probability: this.probability, wholeWord: this.wholeWord, span: this.span, seed: this.seed, epoch, index: i });
  }

  /** Tokens in example `i`, for bucketing. */
  lengthOf(i: number): number {
    return this.blockSize ?? this.#source.lengthOf!(i);
  }
}
