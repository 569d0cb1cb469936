// Parquet files as tables of rows, read one row group at a time with
// hyparquet (pure JavaScript, no install step) and hyparquet-compressors
// (snappy, gzip, zstd, brotli, lz4). Only the columns asked for are read,
// by positioned reads of their column chunks: memory holds one row group of
// those columns, never the file. Dictionary-encoded strings come out as
// plain strings; INT64 values as numbers when they are safe integers.
// A file that is not Parquet (or is cut short) fails when it is opened, with
// hyparquet's reason; a bad page fails naming its row group.

import { parquetMetadataAsync, parquetReadObjects, parquetSchema, type FileMetaData, type SchemaTree } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { open } from 'node:fs/promises';
import type { TableColumn, TableSource } from './parquet-table.js';

type AsyncBuffer = { byteLength: number; slice(start: number, end?: number): Promise<ArrayBuffer> };

// Positioned reads of one open file (hyparquet's own helper opens a stream per slice).
async function fileBuffer(path: string): Promise<AsyncBuffer & { close(): Promise<void> }> {
  const handle = await open(path, 'r');
  const { size } = await handle.stat();
  return {
    byteLength: size,
    async slice(start, end = size) {
      const bytes = Buffer.allocUnsafe(Math.max(0, end - start));
      let done = 0;
      while (done < bytes.length) {
        const { bytesRead } = await handle.read(bytes, done, bytes.length - done, start + done);
        if (bytesRead === 0) throw new Error(`unexpected end of file at byte ${start + done} of ${size}`);
        done += bytesRead;
      }
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer;
    },
    close: () => handle.close(),
  };
}

const isString = (element: SchemaTree['element']) =>
  element.type === 'BYTE_ARRAY' && (element.converted_type === 'UTF8' || element.logical_type?.type === 'STRING' || element.converted_type === 'ENUM');

function typeName(tree: SchemaTree): string {
  const e = tree.element;
  if (tree.children.length > 0) return e.converted_type === 'LIST' || e.logical_type?.type === 'LIST' ? 'list' : 'struct';
  const logical = e.logical_type?.type ?? e.converted_type;
  return logical ? `${e.type} (${logical})` : e.type === 'BYTE_ARRAY' ? 'binary' : String(e.type).toLowerCase();
}

function columnOf(tree: SchemaTree): TableColumn {
  const struct = tree.children.length > 0 && typeName(tree) === 'struct';
  return {
    name: tree.element.name,
    type: typeName(tree),
    isString: tree.children.length === 0 && isString(tree.element),
    children: struct ? tree.children.map(columnOf) : undefined,
  };
}

// INT64 as a number when it is a safe integer (labels, ids), also inside structs.
function plain(value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value;
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

/** Opens a Parquet file: its columns and row groups, read from the footer only. */
export async function openParquet(path: string): Promise<TableSource> {
  const file = await fileBuffer(path);
  let metadata: FileMetaData;
  try {
    metadata = await parquetMetadataAsync(file, { geoparquet: false });
  } catch (error) {
    await file.close();
    throw new Error(`not a readable Parquet file (${(error as Error).message})`, { cause: error });
  }
  const groups: Array<{ rows: number; firstRow: number }> = [];
  let firstRow = 0;
  for (const group of metadata.row_groups) {
    const rows = Number(group.num_rows);
    groups.push({ rows, firstRow });
    firstRow += rows;
  }
  return {
    columns: parquetSchema(metadata).children.map(columnOf),
    groups,
    rows: firstRow,
    labelNames: {},
    async *batches(columns, only) {
      for (const [index, group] of groups.entries()) {
        if (only && !only.has(index)) continue;
        let rows: Array<Record<string, unknown>>;
        try {
          rows = (await parquetReadObjects({
            file,
            metadata,
            columns,
            rowStart: group.firstRow,
            rowEnd: group.firstRow + group.rows,
            compressors,
          })) as Array<Record<string, unknown>>;
        } catch (error) {
          throw new Error(`row group ${index} (rows ${group.firstRow + 1}-${group.firstRow + group.rows}): ${(error as Error).message}`, { cause: error });
        }
        if (rows.length !== group.rows) throw new Error(`row group ${index}: ${rows.length} rows decoded, the footer says ${group.rows}`);
        yield { group: index, firstRow: group.firstRow, rows: rows.length, value: (row, name) => plain(rows[row][name]) };
      }
    },
    close: () => file.close(),
  };
}
