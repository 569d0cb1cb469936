// Arrow IPC files as tables of rows, read one record batch at a time with
// apache-arrow: the file format ("ARROW1" magic, random access through its
// footer) and the stream format, which is what HuggingFace `datasets` writes
// into its save_to_disk folders (data-00000-of-00001.arrow beside
// state.json and dataset_info.json). Memory: one record batch.
// HF's ClassLabel columns are int64 ids; the label names kept in the
// schema's "huggingface" metadata are handed on, so labels read as names.

import { DataType, RecordBatchReader, type Field, type RecordBatch, type Schema, type Vector } from 'apache-arrow';
import { open } from 'node:fs/promises';
import type { TableColumn, TableSource } from './parquet-table.js';

function isStringType(type: DataType): boolean {
  return DataType.isUtf8(type) || DataType.isLargeUtf8(type) || (DataType.isDictionary(type) && isStringType(type.dictionary));
}

function columnOf(field: Field): TableColumn {
  const struct = DataType.isStruct(field.type);
  return {
    name: field.name,
    type: String(field.type),
    isString: isStringType(field.type),
    children: struct ? (field.type.children as Field[]).map(columnOf) : undefined,
  };
}

// HF `datasets` keeps its Features as JSON in the schema metadata.
function classLabels(metadata: Map<string, string>): Record<string, string[]> {
  const names: Record<string, string[]> = {};
  try {
    const features = JSON.parse(metadata.get('huggingface') ?? '{}')?.info?.features ?? {};
    for (const [column, feature] of Object.entries(features as Record<string, { _type?: string; names?: unknown }>)) {
      if (feature?._type === 'ClassLabel' && Array.isArray(feature.names)) names[column] = feature.names.map(String);
    }
  } catch {
    // Metadata that is not HF's: no label names.
  }
  return names;
}

// A plain JS value of row `row` of a vector: numbers for safe 64-bit integers, objects for structs.
function plain(value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value;
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    return (value as { toJSON(): unknown }).toJSON();
  }
  return value;
}

interface AsyncRecordBatchReader extends AsyncIterable<RecordBatch> {
  open(): Promise<unknown>;
  readonly schema: Schema;
  cancel?(): Promise<void>;
}

/** Opens an Arrow IPC file (file or stream format): its schema, then its record batches in order. */
export async function openArrow(path: string): Promise<TableSource> {
  const handle = await open(path, 'r');
  // apache-arrow reads a node FileHandle by positioned reads (its AsyncRandomAccessFile).
  let reader: AsyncRecordBatchReader;
  try {
    reader = (await RecordBatchReader.from(handle as unknown as Promise<Response>)) as unknown as AsyncRecordBatchReader;
    await reader.open();
    if (!reader.schema) throw new Error('no schema message');
  } catch (error) {
    await handle.close();
    throw new Error(`not a readable Arrow IPC file (${(error as Error).message})`, { cause: error });
  }
  const schema = reader.schema;
  return {
    columns: schema.fields.map(columnOf),
    groups: undefined,
    rows: undefined,
    labelNames: classLabels(schema.metadata),
    async *batches(columns) {
      let group = 0;
      let firstRow = 0;
      for await (const batch of reader) {
        const vectors = new Map<string, Vector | null>(columns.map((name) => [name, batch.getChild(name)]));
        const rows = batch.numRows;
        yield { group, firstRow, rows, value: (row, name) => plain(vectors.get(name)?.get(row)) };
        group++;
        firstRow += rows;
      }
    },
    close: async () => {
      await reader.cancel?.();
      await handle.close();
    },
  };
}
