// Writing rows to a Parquet file with typed columns (hyparquet-writer, pure
// JavaScript): strings as UTF8 byte arrays, floats as FLOAT, doubles,
// 32/64-bit integers, and vectors as LIST<FLOAT>. Rows are buffered and
// written a row group at a time (rowGroupSize rows), so memory holds one row
// group. The file is written under a temporary name and renamed by close():
// an interrupted run (or abort()) leaves no half-written file behind.

import { fileWriter, ParquetWriter } from 'hyparquet-writer';
import { rename, unlink } from 'node:fs/promises';
import { optionalInteger, requireString, typeError } from '../validate.js';

/** A column's type: `float32[]` is a list of float32 (an embedding). */
export type ParquetColumnType = 'string' | 'float' | 'double' | 'int32' | 'int64' | 'boolean' | 'float32[]';

/** A column of a {@link ParquetTableWriter}; every column is nullable. */
export interface ParquetColumn {
  name: string;
  type: ParquetColumnType;
}

// hyparquet-writer pins its own hyparquet, so its schema type is taken from it.
type SchemaElement = ConstructorParameters<typeof ParquetWriter>[0]['schema'][number];

const LEAF: Record<Exclude<ParquetColumnType, 'float32[]'>, Omit<SchemaElement, 'name'>> = {
  string: { type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  float: { type: 'FLOAT', repetition_type: 'OPTIONAL' },
  double: { type: 'DOUBLE', repetition_type: 'OPTIONAL' },
  int32: { type: 'INT32', repetition_type: 'OPTIONAL' },
  int64: { type: 'INT64', repetition_type: 'OPTIONAL' },
  boolean: { type: 'BOOLEAN', repetition_type: 'OPTIONAL' },
};

function schemaOf(columns: readonly ParquetColumn[]): SchemaElement[] {
  const schema: SchemaElement[] = [{ name: 'root', num_children: columns.length }];
  for (const { name, type } of columns) {
    if (type === 'float32[]') {
      // The three-level LIST of the Parquet spec (LogicalTypes.md, "Lists").
      schema.push({ name, repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 });
      schema.push({ name: 'list', repetition_type: 'REPEATED', num_children: 1 });
      schema.push({ name: 'element', type: 'FLOAT', repetition_type: 'REQUIRED' });
    } else {
      schema.push({ name, ...LEAF[type] });
    }
  }
  return schema;
}

/**
 * Writes rows to a Parquet file, a row group at a time, under a temporary
 * name until {@link ParquetTableWriter.close}.
 * @example
 * const out = new ParquetTableWriter('preds.parquet', [{ name: 'text', type: 'string' }, { name: 'score', type: 'float' }]);
 * out.write({ text: 'great', score: 0.98 });
 * await out.close();
 */
export class ParquetTableWriter {
  readonly path: string;
  readonly columns: readonly ParquetColumn[];
  readonly rowGroupSize: number;
  readonly #temp: string;
  readonly #writer: ParquetWriter;
  #buffer: Array<Record<string, unknown>> = [];
  #rows = 0;
  #done = false;

  /**
   * @throws {TypeError} for a column without a name or of an unknown type.
   */
  constructor(path: string, columns: readonly ParquetColumn[], options: { rowGroupSize?: number } = {}) {
    this.path = requireString(path, 'path');
    if (!Array.isArray(columns) || columns.length === 0) throw typeError('a non-empty array of columns', 'columns', columns);
    for (const c of columns) {
      if (typeof c?.name !== 'string' || !(c.type in LEAF || c.type === 'float32[]')) throw typeError('{ name, type } with a known type', 'columns', c);
    }
    this.columns = columns;
    this.rowGroupSize = optionalInteger(options.rowGroupSize, 'rowGroupSize', 65536, 1);
    this.#temp = `${path}.tmp-${process.pid}`;
    this.#writer = new ParquetWriter({ writer: fileWriter(this.#temp), schema: schemaOf(columns), createdBy: 'bertorch' });
  }

  /** Rows written so far (buffered ones included). */
  get rows(): number {
    return this.#rows;
  }

  /** Adds a row; a missing value is a null. */
  write(row: Record<string, unknown>): void {
    if (this.#done) throw new Error(`${this.path}: the Parquet writer is closed`);
    this.#buffer.push(row);
    this.#rows++;
    if (this.#buffer.length >= this.rowGroupSize) this.#flush();
  }

  /** Writes the last row group and the footer, then renames the file into place. */
  async close(): Promise<void> {
    if (this.#done) return;
    try {
      this.#flush();
      this.#writer.finish();
    } catch (error) {
      await this.abort();
      throw error;
    }
    this.#done = true;
    await rename(this.#temp, this.path);
  }

  /** Drops the file being written. */
  async abort(): Promise<void> {
    this.#done = true;
    this.#buffer = [];
    await unlink(this.#temp).catch(() => {});
  }

  #flush(): void {
    if (this.#buffer.length === 0) return;
    const rows = this.#buffer;
    this.#buffer = [];
    const columnData = this.columns.map(({ name, type }) => ({
      name,
      data: rows.map((row) => {
        const value = row[name];
        if (value === undefined || value === null) return null;
        if (type === 'float32[]') return Array.from(value as ArrayLike<number>);
        if (type === 'int64') return BigInt(value as number);
        return value;
      }),
    }));
    this.#writer.write({ columnData, rowGroupSize: rows.length });
  }
}
