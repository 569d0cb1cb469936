// Corpus preparation, the first stage of the pipeline (DESIGN.md): stream raw
// text files (txt, jsonl, csv, tsv, each optionally .gz; files, folders or
// globs), clean each example, drop exact duplicates (64-bit content hash) and
// optionally near duplicates (MinHash), and split train/validation/test by a
// hash of the cleaned text. Output: outDir/{train,validation,test}.txt with
// one example a line, and summary.json.
// Memory stays flat whatever the input size: one record at a time, capped at
// maxLineBytes; the dedup tables grow by ~16-32 bytes per kept example.
// Output files are written under temporary names and renamed at the end, so
// an interrupted run never leaves a corpus that looks complete.

import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { cleanText, codePointLength, type CleanOptions } from './clean.js';
import { CorpusError, namingInputErrors } from './corpus-error.js';
import { expandInput } from './glob.js';
import { hashText } from './hash.js';
import { HashSet64 } from './hash-set.js';
import { MinHashDeduplicator, type NearDuplicateOptions } from './minhash.js';
import {
  BAD_ROW_REASONS,
  formatOf,
  readRecords,
  type BadRowReason,
  type CorpusFormat,
  type ReaderSpec,
} from './readers.js';
import {
  optionalBoolean,
  optionalChoice,
  optionalInteger,
  optionalNumber,
  optionsObject,
  rangeError,
  requireString,
  typeError,
} from '../validate.js';

export { CorpusError, type CorpusErrorCode } from './corpus-error.js';
export type { BadRowReason, CorpusFormat } from './readers.js';
export type { CleanOptions } from './clean.js';
export type { NearDuplicateOptions } from './minhash.js';

/** How to read one input; unset fields fall back to {@link PrepareCorpusOptions}. */
export interface CorpusInput {
  /** A file, a directory (searched recursively for known extensions) or a glob (`data/**\/*.jsonl.gz`). */
  path: string;
  /**
   * File format; by default from the extension (`.txt`, `.jsonl`, `.ndjson`, `.csv`, `.tsv`, each optionally `.gz`;
   * `.parquet`; `.arrow` for Arrow IPC files, which HF `datasets` save folders hold).
   */
  format?: CorpusFormat;
  /**
   * txt: `'line'` makes each non-blank line an example; `'document'` makes each
   * blank-line separated block one example.
   * @default 'line'
   */
  txtMode?: 'line' | 'document';
  /**
   * jsonl: the field holding the text; `'a.b'` reads a nested field.
   * @default 'text'
   */
  field?: string;
  /**
   * csv/tsv/parquet/arrow: the text column, by header name or 0-based index
   * (parquet/arrow: `'a.b'` for a struct field). Use `columns` for several
   * (their values are joined by a space). Parquet and Arrow also take `field`.
   * @default 'text' with a header, 0 without
   */
  column?: string | number;
  /** csv/tsv: several text columns, joined by a space. */
  columns?: Array<string | number>;
  /**
   * csv/tsv: the first record names the columns.
   * @default true
   */
  header?: boolean;
  /**
   * csv/tsv: the quote character, or false for none.
   * @default '"' for csv, false for tsv
   */
  quote?: string | false;
}

/** Options of {@link prepareCorpus}. */
export interface PrepareCorpusOptions extends Omit<CorpusInput, 'path'> {
  /** Files, directories, globs, or {@link CorpusInput} objects for per-input settings. */
  inputs: Array<string | CorpusInput>;
  /** Folder for train.txt, validation.txt, test.txt and summary.json (created if needed). */
  outDir: string;
  /** Cleaning steps and length limits; see {@link CleanOptions}. */
  clean?: CleanOptions;
  /**
   * Drop exact duplicates of the cleaned text (the first occurrence is kept).
   * @default true
   */
  dedup?: boolean;
  /**
   * Drop near duplicates by MinHash (`true` for the defaults).
   * @default false
   */
  nearDuplicates?: boolean | NearDuplicateOptions;
  /**
   * Fractions for validation and test; train gets the rest. The split is a
   * function of the cleaned text only.
   * @default { validation: 0.01, test: 0.01 }
   */
  split?: { validation?: number; test?: number };
  /** Salt for the split hash: another seed draws another split. */
  seed?: string;
  /**
   * What to do with a row that cannot be read (invalid UTF-8, malformed JSON,
   * unbalanced CSV quote, missing field or column, empty text, a line over
   * maxLineBytes): `'error'` throws a {@link CorpusError} naming file and
   * line; `'skip'` counts it in the summary and goes on.
   * @default 'error'
   */
  onBadRow?: 'error' | 'skip';
  /**
   * Longest line (or txt document, or CSV record) read, in bytes; longer ones are bad rows.
   * @default 8388608 (8 MiB)
   */
  maxLineBytes?: number;
}

/** Size of one output split. */
export interface SplitSummary {
  /** Path of the split's file. */
  path: string;
  examples: number;
  /** UTF-8 bytes written, newlines included (the file size). */
  bytes: number;
  /** Unicode code points, newlines excluded. */
  characters: number;
}

/** What {@link prepareCorpus} did. */
export interface CorpusSummary {
  /** Input files read, in order. */
  files: string[];
  /** Records read, bad ones included. */
  read: number;
  /** Examples written, all splits together. */
  written: number;
  /** Records not written, by reason. */
  dropped: {
    badRows: number;
    empty: number;
    tooShort: number;
    tooLong: number;
    duplicates: number;
    nearDuplicates: number;
  };
  /** Bad rows by reason (all zero unless onBadRow is 'skip'). */
  badRows: Record<BadRowReason, number>;
  /** The first 1,000 bad rows skipped, with file, line, reason and message (the counts above are exact). */
  skippedRows: Array<{ file: string; line: number; reason: BadRowReason; message: string }>;
  splits: { train: SplitSummary; validation: SplitSummary; test: SplitSummary };
}

type SplitName = keyof CorpusSummary['splits'];
const SPLITS: readonly SplitName[] = ['train', 'validation', 'test'];
const DEFAULT_MAX_LINE_BYTES = 8 * 1024 * 1024;
const FLUSH_CHARS = 1 << 16;
// A corpus may be far larger than memory, so only so many skipped rows are listed.
const MAX_SKIPPED_LISTED = 1000;

/**
 * Streams, cleans, deduplicates and splits a raw text corpus into
 * `outDir/{train,validation,test}.txt` (one example a line) and returns (and
 * writes to `outDir/summary.json`) what happened.
 * @throws {TypeError} for bad options or an input that matches no file.
 * @throws {CorpusError} code `ERR_CORPUS_BAD_ROW` for a bad row (unless `onBadRow: 'skip'`),
 *   `ERR_CORPUS_INPUT` for a file that cannot be read at all.
 * @example
 * const summary = await prepareCorpus({ inputs: ['raw/*.jsonl.gz'], field: 'body', outDir: 'corpus' });
 * console.log(formatSummary(summary));
 */
export async function prepareCorpus(options: PrepareCorpusOptions): Promise<CorpusSummary> {
  const plan = await planCorpus(options);
  await mkdir(plan.outDir, { recursive: true });
  const writers = Object.fromEntries(SPLITS.map((name) => [name, new SplitWriter(join(plan.outDir, `${name}.txt`))])) as Record<
    SplitName,
    SplitWriter
  >;
  const summary: CorpusSummary = {
    files: plan.inputs.map((input) => input.file),
    read: 0,
    written: 0,
    dropped: { badRows: 0, empty: 0, tooShort: 0, tooLong: 0, duplicates: 0, nearDuplicates: 0 },
    badRows: Object.fromEntries(BAD_ROW_REASONS.map((reason) => [reason, 0])) as Record<BadRowReason, number>,
    skippedRows: [],
    splits: Object.fromEntries(SPLITS.map((name) => [name, writers[name].stats])) as CorpusSummary['splits'],
  };
  const exact = plan.dedup ? new HashSet64() : undefined;
  const near = plan.nearDuplicates ? new MinHashDeduplicator(plan.nearDuplicates) : undefined;
  try {
    for (const { file, spec } of plan.inputs) {
      for await (const record of recordsOf(file, spec)) {
        summary.read++;
        if (record.bad !== undefined) {
          if (plan.onBadRow === 'error') {
            throw new CorpusError('ERR_CORPUS_BAD_ROW', file, record.line, record.bad, record.message);
          }
          summary.dropped.badRows++;
          summary.badRows[record.bad]++;
          if (summary.skippedRows.length < MAX_SKIPPED_LISTED) {
            const message = record.message.length > 200 ? `${record.message.slice(0, 197)}...` : record.message;
            summary.skippedRows.push({ file, line: record.line, reason: record.bad, message });
          }
          continue;
        }
        const cleaned = cleanText(record.text, plan.clean);
        if (cleaned.dropped !== undefined) {
          summary.dropped[cleaned.dropped === 'empty' ? 'empty' : cleaned.dropped === 'too_short' ? 'tooShort' : 'tooLong']++;
          continue;
        }
        const hash = hashText(cleaned.text, plan.seed);
        if (exact && !exact.add(hash.hi, hash.lo)) {
          summary.dropped.duplicates++;
          continue;
        }
        if (near?.isDuplicate(cleaned.text)) {
          summary.dropped.nearDuplicates++;
          continue;
        }
        const split: SplitName = hash.split < plan.test ? 'test' : hash.split < plan.test + plan.validation ? 'validation' : 'train';
        await writers[split].write(cleaned.text);
        summary.written++;
      }
    }
    for (const name of SPLITS) await writers[name].close();
  } catch (error) {
    await Promise.all(SPLITS.map((name) => writers[name].abort()));
    throw error;
  }
  const summaryPath = join(plan.outDir, 'summary.json');
  await writeFile(`${summaryPath}.tmp-${process.pid}`, JSON.stringify(summary, null, 2) + '\n');
  await rename(`${summaryPath}.tmp-${process.pid}`, summaryPath);
  return summary;
}

// Reads one file, turning read failures (a corrupt gzip stream, a CSV header
// without the text column) into CorpusErrors that name the file.
function recordsOf(file: string, spec: ReaderSpec) {
  return namingInputErrors(file, readRecords(file, spec));
}

/** Buffered, back-pressured writing of one split to a temporary file. */
class SplitWriter {
  readonly stats: SplitSummary;
  readonly #temp: string;
  #stream: WriteStream | undefined;
  #buffer: string[] = [];
  #buffered = 0;

  constructor(readonly path: string) {
    this.stats = { path, examples: 0, bytes: 0, characters: 0 };
    this.#temp = `${path}.tmp-${process.pid}`;
  }

  async write(text: string): Promise<void> {
    this.stats.examples++;
    this.stats.bytes += Buffer.byteLength(text) + 1;
    this.stats.characters += codePointLength(text);
    this.#buffer.push(text, '\n');
    this.#buffered += text.length + 1;
    if (this.#buffered >= FLUSH_CHARS) await this.#flush();
  }

  async close(): Promise<void> {
    await this.#flush(true);
    const stream = this.#stream!;
    stream.end();
    await finished(stream);
    await rename(this.#temp, this.path);
  }

  async abort(): Promise<void> {
    this.#stream?.destroy();
    await unlink(this.#temp).catch(() => {});
  }

  async #flush(force = false): Promise<void> {
    this.#stream ??= createWriteStream(this.#temp);
    if (this.#buffer.length === 0 && !force) return;
    const ok = this.#stream.write(this.#buffer.join(''));
    this.#buffer = [];
    this.#buffered = 0;
    if (!ok) await once(this.#stream, 'drain');
  }
}

interface CorpusPlan {
  inputs: Array<{ file: string; spec: ReaderSpec }>;
  outDir: string;
  clean: Required<CleanOptions>;
  dedup: boolean;
  nearDuplicates: Required<NearDuplicateOptions> | undefined;
  validation: number;
  test: number;
  seed: string | undefined;
  onBadRow: 'error' | 'skip';
}

// Validates every option and expands the inputs before anything is written.
async function planCorpus(options: PrepareCorpusOptions): Promise<CorpusPlan> {
  const opts = optionsObject(options, 'options');
  if (!Array.isArray(opts.inputs) || opts.inputs.length === 0) throw typeError('a non-empty array of inputs', 'inputs', opts.inputs);
  const outDir = requireString(opts.outDir, 'outDir');
  const maxLineBytes = optionalInteger(opts.maxLineBytes, 'maxLineBytes', DEFAULT_MAX_LINE_BYTES, 1, 2 ** 30);
  const inputs: CorpusPlan['inputs'] = [];
  const seen = new Set<string>();
  for (const [i, input] of opts.inputs.entries()) {
    const name = `inputs[${i}]`;
    const own = typeof input === 'string' ? { path: input } : optionsObject(input, name);
    const merged = { ...opts, ...own } as CorpusInput;
    const path = requireString(own.path, `${name}.path`);
    for (const file of await expandInput(path, name)) {
      if (seen.has(file)) continue;
      seen.add(file);
      inputs.push({ file, spec: readerSpec(merged, file, name, maxLineBytes) });
    }
  }
  const clean = optionsObject(opts.clean, 'clean');
  const split = optionsObject(opts.split, 'split');
  const validation = optionalNumber(split.validation, 'split.validation', 0.01, 0, 1);
  const test = optionalNumber(split.test, 'split.test', 0.01, 0, 1);
  if (validation + test > 1) throw rangeError('validation + test of at most 1', 'split', split);
  let nearDuplicates: CorpusPlan['nearDuplicates'];
  if (opts.nearDuplicates !== undefined && opts.nearDuplicates !== false) {
    const near = opts.nearDuplicates === true ? {} : optionsObject(opts.nearDuplicates, 'nearDuplicates');
    nearDuplicates = {
      threshold: optionalNumber(near.threshold, 'nearDuplicates.threshold', 0.8, 0.01, 1),
      permutations: optionalInteger(near.permutations, 'nearDuplicates.permutations', 128, 1, 4096),
      shingleSize: optionalInteger(near.shingleSize, 'nearDuplicates.shingleSize', 5, 1, 1000),
    };
  }
  if (opts.seed !== undefined && typeof opts.seed !== 'string') throw typeError('a string', 'seed', opts.seed);
  return {
    inputs,
    outDir,
    clean: {
      html: optionalBoolean(clean.html, 'clean.html', true),
      nfkc: optionalBoolean(clean.nfkc, 'clean.nfkc', true),
      controlChars: optionalBoolean(clean.controlChars, 'clean.controlChars', true),
      collapseWhitespace: optionalBoolean(clean.collapseWhitespace, 'clean.collapseWhitespace', true),
      minLength: optionalInteger(clean.minLength, 'clean.minLength', 1, 0),
      maxLength: clean.maxLength === Infinity ? Infinity : optionalInteger(clean.maxLength, 'clean.maxLength', Infinity, 1),
    },
    dedup: optionalBoolean(opts.dedup, 'dedup', true),
    nearDuplicates,
    validation,
    test,
    seed: opts.seed,
    onBadRow: optionalChoice(opts.onBadRow, 'onBadRow', ['error', 'skip'] as const, 'error'),
  };
}

function readerSpec(input: CorpusInput, file: string, name: string, maxLineBytes: number): ReaderSpec {
  const format =
    input.format === undefined
      ? formatOf(file)
      : optionalChoice(input.format, `${name}.format`, ['txt', 'jsonl', 'csv', 'tsv', 'parquet', 'arrow'] as const, 'txt');
  if (format === undefined) throw typeError('a known extension (.txt, .jsonl, .csv, .tsv, optionally .gz; .parquet, .arrow) or a format', name, file);
  if (format === 'parquet' || format === 'arrow') {
    // Tables name their text by column (or columns), or by field like JSONL ("a.b": a struct field).
    const columns = input.columns ?? [input.column ?? input.field ?? 'text'];
    if (!Array.isArray(columns) || columns.length === 0) throw typeError('a non-empty array of columns', `${name}.columns`, input.columns);
    for (const column of columns) {
      if (typeof column === 'number' ? !Number.isInteger(column) || column < 0 : typeof column !== 'string' || column === '') {
        throw typeError('a column name or 0-based index', `${name}.column`, column);
      }
    }
    return { format, txtMode: 'line', field: 'text', columns, header: true, quote: false, maxLineBytes };
  }
  const header = optionalBoolean(input.header, `${name}.header`, true);
  let columns: Array<string | number>;
  if (input.columns !== undefined) {
    if (!Array.isArray(input.columns) || input.columns.length === 0) {
      throw typeError('a non-empty array of columns', `${name}.columns`, input.columns);
    }
    columns = input.columns;
  } else {
    columns = [input.column ?? (header ? 'text' : 0)];
  }
  for (const column of columns) {
    if (typeof column === 'number' ? !Number.isInteger(column) || column < 0 : typeof column !== 'string') {
      throw typeError('a column name or 0-based index', `${name}.column`, column);
    }
    if (typeof column === 'string' && !header) throw typeError('a column index when header is false', `${name}.column`, column);
  }
  const quote = input.quote ?? (format === 'tsv' ? false : '"');
  if (quote !== false && (typeof quote !== 'string' || quote.length !== 1)) throw typeError('one character or false', `${name}.quote`, quote);
  const field = input.field ?? 'text';
  requireString(field, `${name}.field`);
  return {
    format,
    txtMode: optionalChoice(input.txtMode, `${name}.txtMode`, ['line', 'document'] as const, 'line'),
    field,
    columns,
    header,
    quote,
    maxLineBytes,
  };
}

/**
 * A short human-readable report of a {@link CorpusSummary}.
 * @example
 * console.log(formatSummary(await prepareCorpus({ inputs: ['raw'], outDir: 'corpus' })));
 */
export function formatSummary(summary: CorpusSummary): string {
  const n = (value: number) => value.toLocaleString('en-US');
  const d = summary.dropped;
  const bad = BAD_ROW_REASONS.filter((reason) => summary.badRows[reason] > 0).map(
    (reason) => `${n(summary.badRows[reason])} ${reason.replaceAll('_', ' ')}`,
  );
  const lines = [
    `Corpus: ${n(summary.files.length)} file${summary.files.length === 1 ? '' : 's'}, ` +
      `${n(summary.read)} records read, ${n(summary.written)} examples written`,
    `Dropped: ${n(d.badRows)} bad rows, ${n(d.empty)} empty, ${n(d.tooShort)} too short, ${n(d.tooLong)} too long, ` +
      `${n(d.duplicates)} duplicates, ${n(d.nearDuplicates)} near duplicates`,
  ];
  if (bad.length > 0) lines.push(`Bad rows: ${bad.join(', ')}`);
  for (const row of summary.skippedRows.slice(0, 10)) lines.push(`  skipped ${row.file}:${row.line}: ${row.message} (${row.reason})`);
  if (d.badRows > 10) lines.push(`  ... and ${n(d.badRows - 10)} more (summary.json lists the first ${MAX_SKIPPED_LISTED})`);
  for (const name of SPLITS) {
    const s = summary.splits[name];
    const size = formatBytes(s.bytes).padStart(10);
    lines.push(`  ${name.padEnd(10)} ${n(s.examples).padStart(14)} examples ${size} ${n(s.characters).padStart(16)} characters`);
  }
  return lines.join('\n');
}

function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}
