// Tables from outside (Parquet files, Arrow IPC files, HuggingFace
// `datasets` save folders) behind the options of the text formats: text
// columns by name or index ("a.b" for a struct field), a label column,
// onBadRow. parquet.ts and arrow.ts open a file as a TableSource (columns,
// row groups or record batches); this file checks the columns asked for
// against the schema before any row is read (a missing column or a text
// column that is not a string is an input error naming the file), turns
// batches into records and rows, and splits a folder of Parquet files across
// data-parallel ranks by row group. Memory: one row group (or record batch)
// of the columns asked for.
// A row's "line" is its 1-based row number in the file; messages also name
// the row group (Parquet) or record batch (Arrow).

import { openArrow } from './arrow.js';
import { Rng } from './masking.js';
import { openParquet } from './parquet.js';
import { asInputError, namingInputErrors } from './corpus-error.js';
import { fieldOf, formatOf, type ReadResult } from './readers.js';
import { optionalInteger, rangeError } from '../validate.js';

/** A column of a table's schema (a struct has children). */
export interface TableColumn {
  name: string;
  /** The type as the format names it, for messages (`BYTE_ARRAY (STRING)`, `Int64`). */
  type: string;
  isString: boolean;
  children?: TableColumn[];
}

/** Some rows of a table: a row group of a Parquet file or a record batch of an Arrow file. */
export interface TableBatch {
  group: number;
  /** 0-based row of the file where the batch starts. */
  firstRow: number;
  rows: number;
  /** Top-level column `name` of row `row` (0-based in the batch), as a plain JS value. */
  value(row: number, name: string): unknown;
}

/** An open table file. */
export interface TableSource {
  columns: TableColumn[];
  /** Row groups, when the footer lists them (Parquet). */
  groups: Array<{ rows: number; firstRow: number }> | undefined;
  rows: number | undefined;
  /** HF ClassLabel columns: id -> name. */
  labelNames: Record<string, string[]>;
  /** The batches, in order; `only` keeps the row groups of those indices. Reads only top-level `columns`. */
  batches(columns: string[], only?: ReadonlySet<number>): AsyncGenerator<TableBatch>;
  close(): Promise<void>;
}

/** The table formats. */
export type TableFormat = 'parquet' | 'arrow';

/** Opens `path` as a table of `format`. */
export function openTable(path: string, format: TableFormat): Promise<TableSource> {
  return format === 'parquet' ? openParquet(path) : openArrow(path);
}

/** A column asked for, found in the schema. */
interface Resolved {
  key: string | number;
  top: string;
  rest: string[];
  column: TableColumn;
}

const names = (columns: TableColumn[]) => columns.map((c) => c.name).join(', ');

/**
 * Finds `key` (a name, "a.b" for a struct field, or a 0-based index) in the
 * schema. Throws, naming the columns there are, when it is not.
 */
function resolve(columns: TableColumn[], key: string | number): Resolved {
  if (typeof key === 'number') {
    const column = columns[key];
    if (!column) throw new Error(`column ${key} is out of range: the table has ${columns.length} columns (${names(columns)})`);
    return { key, top: column.name, rest: [], column };
  }
  const keys = key.split('.');
  let level = columns;
  let column: TableColumn | undefined;
  for (const [k, name] of keys.entries()) {
    column = level.find((c) => c.name === name) ?? (k === 0 ? level.find((c) => c.name === key) : undefined);
    if (column?.name === key) return { key, top: key, rest: [], column };
    if (!column) {
      const where = k === 0 ? 'the table' : `struct "${keys.slice(0, k).join('.')}"`;
      throw new Error(`column "${key}" not found: ${where} has ${names(level)}`);
    }
    if (k < keys.length - 1) {
      if (!column.children) throw new Error(`column "${keys.slice(0, k + 1).join('.')}" is ${column.type}, not a struct, so "${key}" cannot be read`);
      level = column.children;
    }
  }
  return { key, top: keys[0], rest: keys.slice(1), column: column! };
}

function mustBeText(r: Resolved): void {
  if (!r.column.isString) throw new Error(`column ${JSON.stringify(r.key)} is ${r.column.type}, not a string column`);
}

const valueOf = (batch: TableBatch, row: number, r: Resolved): unknown => {
  const top = batch.value(row, r.top);
  return r.rest.length === 0 ? top : top !== null && typeof top === 'object' ? fieldOf(top as Record<string, unknown>, r.rest) : undefined;
};

const where = (batch: TableBatch, row: number, format: TableFormat) =>
  `row ${batch.firstRow + row + 1}, in ${format === 'parquet' ? 'row group' : 'record batch'} ${batch.group}`;

/**
 * The text records of a table file for the corpus: the values of `columns`
 * joined by a space. A null is a `missing_field` bad row, a blank text an
 * `empty_text` one; a missing or non-string column throws.
 */
export function tableRecords(path: string, format: TableFormat, columns: Array<string | number>): AsyncGenerator<ReadResult> {
  return namingInputErrors(path, records(path, format, columns));
}

async function* records(path: string, format: TableFormat, columns: Array<string | number>): AsyncGenerator<ReadResult> {
  const source = await openTable(path, format);
  try {
    const resolved = columns.map((key) => resolve(source.columns, key));
    resolved.forEach(mustBeText);
    const tops = [...new Set(resolved.map((r) => r.top))];
    for await (const batch of source.batches(tops)) {
      for (let row = 0; row < batch.rows; row++) {
        const line = batch.firstRow + row + 1;
        const parts: string[] = [];
        let bad: ReadResult | undefined;
        for (const r of resolved) {
          const value = valueOf(batch, row, r);
          if (value === null || value === undefined) {
            bad = { bad: 'missing_field', message: `column ${JSON.stringify(r.key)} is null (${where(batch, row, format)})`, line };
            break;
          }
          parts.push(value as string);
        }
        const text = parts.join(' ');
        if (bad) yield bad;
        else if (text.trim().length === 0) yield { bad: 'empty_text', message: `the text columns are empty (${where(batch, row, format)})`, line };
        else yield { text, line };
      }
    }
  } finally {
    await source.close();
  }
}

/** A row of a labeled table: its 1-based row number and its fields by key. */
export type TableRow = { line: number; field: (key: string | number) => unknown; where: string; bad?: undefined };

/**
 * The rows of a table file for a labeled dataset. `text` keys must be string
 * columns; every key must exist. HF ClassLabel ids read as their names.
 */
export async function* tableRows(path: string, format: TableFormat, keys: Array<string | number>, text: Array<string | number>): AsyncGenerator<TableRow> {
  const source = await openTable(path, format);
  try {
    const resolved = new Map(keys.map((key) => [key, resolve(source.columns, key)]));
    for (const key of text) mustBeText(resolved.get(key)!);
    const tops = [...new Set([...resolved.values()].map((r) => r.top))];
    for await (const batch of source.batches(tops)) {
      for (let row = 0; row < batch.rows; row++) {
        const field = (key: string | number) => {
          const r = resolved.get(key)!;
          const value = valueOf(batch, row, r);
          const labels = r.rest.length === 0 ? source.labelNames[r.top] : undefined;
          return labels && typeof value === 'number' && labels[value] !== undefined ? labels[value] : value;
        };
        yield { line: batch.firstRow + row + 1, field, where: where(batch, row, format) };
      }
    }
  } finally {
    await source.close();
  }
}

/** One unit of a rank split: a row group of a Parquet file. */
export interface RowGroupUnit {
  file: string;
  group: number;
  rows: number;
}

/** Options of {@link splitRowGroups} and {@link readTable}. */
export interface RankSplitOptions {
  /** @default 0 */
  rank?: number;
  /** @default 1 */
  worldSize?: number;
  /** Another seed deals the row groups out differently. @default 0 */
  seed?: number;
  /** A new epoch deals them out again (as DistributedSampler's set_epoch). @default 0 */
  epoch?: number;
}

/**
 * The row groups rank `rank` of `worldSize` reads: all row groups of all
 * files, shuffled by seed and epoch, each dealt to the rank with the fewest
 * rows so far (ties: the lowest rank). Every row group goes to exactly one
 * rank, so the ranks together read every row once; shares differ by at most
 * one row group's rows. A function of its arguments only: every rank
 * computes the same deal without talking to the others.
 * @throws {RangeError} for a rank outside [0, worldSize).
 * @example
 * splitRowGroups([{ file: 'a.parquet', group: 0, rows: 10 }, { file: 'a.parquet', group: 1, rows: 10 }], { rank: 1, worldSize: 2 });
 */
export function splitRowGroups(units: readonly RowGroupUnit[], options: RankSplitOptions = {}): RowGroupUnit[] {
  const worldSize = optionalInteger(options.worldSize, 'worldSize', 1, 1);
  const rank = optionalInteger(options.rank, 'rank', 0, 0);
  if (rank >= worldSize) throw rangeError(`a rank below worldSize (${worldSize})`, 'rank', rank);
  const seed = optionalInteger(options.seed, 'seed', 0);
  const epoch = optionalInteger(options.epoch, 'epoch', 0);
  const order = [...units].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.group - b.group));
  new Rng(seed, epoch, 0x9a9e).shuffle(order);
  const load = new Array<number>(worldSize).fill(0);
  const own: RowGroupUnit[] = [];
  for (const unit of order) {
    let to = 0;
    for (let r = 1; r < worldSize; r++) if (load[r] < load[to]) to = r;
    load[to] += unit.rows;
    if (to === rank) own.push(unit);
  }
  // Read in file order, so each file is opened once.
  return own.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.group - b.group));
}

/** A row read by {@link readTable}. */
export interface TableRecord {
  file: string;
  /** Row group (Parquet) or record batch (Arrow). */
  group: number;
  /** 0-based row in the file. */
  row: number;
  /** The columns asked for ("a.b" keys for struct fields). */
  values: Record<string, unknown>;
}

/**
 * Streams rows of Parquet or Arrow files, one row group at a time. With
 * `worldSize` > 1 only this rank's row groups of the Parquet files are read
 * ({@link splitRowGroups}); Arrow files, whose batches the footer does not
 * list in stream format, are dealt out whole, file by file.
 * @throws {CorpusError} code `ERR_CORPUS_INPUT` naming the file for a missing column or an unreadable file.
 * @example
 * for await (const { values } of readTable(files, { columns: ['text'], rank, worldSize, seed: 42, epoch })) tokenize(values.text);
 */
export async function* readTable(
  files: readonly string[],
  options: RankSplitOptions & { columns: Array<string | number> },
): AsyncGenerator<TableRecord> {
  const units: RowGroupUnit[] = [];
  for (const file of files) {
    const format = formatOf(file);
    if (format !== 'parquet' && format !== 'arrow') throw new TypeError(`Expected a .parquet or .arrow file for files but received ${JSON.stringify(file)}`);
    if (format === 'arrow') {
      units.push({ file, group: -1, rows: 1 });
      continue;
    }
    const source = await openParquet(file).catch((error) => Promise.reject(asInputError(file, error)));
    source.groups!.forEach((g, group) => units.push({ file, group, rows: g.rows }));
    await source.close();
  }
  const own = splitRowGroups(units, options);
  const byFile = new Map<string, Set<number>>();
  for (const unit of own) byFile.set(unit.file, (byFile.get(unit.file) ?? new Set()).add(unit.group));
  for (const [file, groups] of byFile) {
    const format = formatOf(file) as TableFormat;
    let source: TableSource | undefined;
    try {
      source = await openTable(file, format);
      const resolved = options.columns.map((key) => resolve(source!.columns, key));
      const tops = [...new Set(resolved.map((r) => r.top))];
      for await (const batch of source.batches(tops, format === 'parquet' ? groups : undefined)) {
        for (let row = 0; row < batch.rows; row++) {
          const values: Record<string, unknown> = {};
          for (const r of resolved) values[String(r.key)] = valueOf(batch, row, r);
          yield { file, group: batch.group, row: batch.firstRow + row, values };
        }
      }
    } catch (error) {
      throw asInputError(file, error);
    } finally {
      await source?.close();
    }
  }
}
