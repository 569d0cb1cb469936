// Writing rows to a Parquet file with typed columns (hyparquet-writer, pure
// JavaScript): strings as UTF8 byte arrays, floats as FLOAT, doubles,
// 32/64-bit integers, and vectors as LIST<FLOAT>. Parquet has no fixed-size
// list, so a vector column with a `size` also gets the Arrow schema in the
// footer (ARROW:schema, as pyarrow writes it): Arrow readers then see
// fixed_size_list<float>[size], an embedding matrix. Rows are buffered and
// written a row group at a time (rowGroupSize rows), so memory holds one row
// group. The file is written under a temporary name and renamed by close():
// an interrupted run (or abort()) leaves no half-written file behind.

import { Bool, Field, FixedSizeList, Float32, Float64, Int32, Int64, List, Schema, Table, tableToIPC, Utf8, type DataType } from 'apache-arrow';
import { fileWriter, ParquetWriter } from 'hyparquet-writer';
import { rmSync } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { optionalInteger, requireString, typeError } from '../validate.js';

/** A column's type: `float32[]` is a list of float32 (an embedding). */
export type ParquetColumnType = 'string' | 'float' | 'double' | 'int32' | 'int64' | 'boolean' | 'float32[]';

/** A column of a {@link ParquetTableWriter}; every column is nullable. */
export interface ParquetColumn {
  name: string;
  type: ParquetColumnType;
  /** For `float32[]`: every vector has this length (an Arrow fixed-size list). */
  size?: number;
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

function arrowType({ type, size }: ParquetColumn): DataType {
  switch (type) {
    case 'string': return new Utf8();
    case 'float': return new Float32();
    case 'double': return new Float64();
    case 'int32': return new Int32();
    case 'int64': return new Int64();
    case 'boolean': return new Bool();
    case 'float32[]': {
      // 'element', not null: the names and nullability of the Parquet LIST above.
      const element = new Field('element', new Float32(), false);
      return size === undefined ? new List(element) : new FixedSizeList(size, element);
    }
  }
}

// The footer entry pyarrow reads its Arrow types from: an IPC schema message, base64.
function arrowSchemaMetadata(columns: readonly ParquetColumn[]): { key: string; value: string } {
  const schema = new Schema(columns.map((c) => new Field(c.name, arrowType(c), true)));
  return { key: 'ARROW:schema', value: Buffer.from(tableToIPC(new Table(schema), 'stream')).toString('base64') };
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
      if (c.size !== undefined && (c.type !== 'float32[]' || !Number.isInteger(c.size) || c.size < 1)) throw typeError('a positive integer size on a float32[] column', 'columns', c);
    }
    this.columns = columns;
    this.rowGroupSize = optionalInteger(options.rowGroupSize, 'rowGroupSize', 65536, 1);
    this.#temp = `${path}.tmp-${process.pid}`;
    this.#writer = new ParquetWriter({ writer: fileWriter(this.#temp), schema: schemaOf(columns), kvMetadata: [arrowSchemaMetadata(columns)], createdBy: 'bertorch' });
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
    if (this.#buffer.length < this.rowGroupSize) return;
    try {
      this.#flush();
    } catch (error) {
      // A bad value ends the file: no later close() can make it whole.
      this.#done = true;
      this.#buffer = [];
      rmSync(this.#temp, { force: true });
      throw error;
    }
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
    const first = this.#rows - rows.length;
    const columnData = this.columns.map(({ name, type, size }) => ({
      name,
      data: rows.map((row, r) => {
        const value = row[name];
        if (value === undefined || value === null) return null;
        if (type === 'float32[]') {
          const vector = Array.from(value as ArrayLike<number>);
          if (size !== undefined && vector.length !== size) {
            throw new RangeError(`${this.path}: row ${first + r}, column "${name}" has ${vector.length} values; the column holds vectors of ${size}`);
          }
          return vector;
        }
        if (type === 'int64') return BigInt(value as number);
        return value;
      }),
    }));
    this.#writer.write({ columnData, rowGroupSize: rows.length });
  }
}
