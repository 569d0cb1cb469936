// lib/data: the data side of the pipeline (DESIGN.md) — corpus preparation,
// token shards, datasets, masking, collators and the DataLoader. Plain typed
// arrays in and out; nothing here loads the native addon. Re-exports only.

export * from './corpus.js';
export * from './shards.js';
export * from './masking.js';
export * from './datasets.js';
export * from './collate.js';
export * from './loader.js';
export { readTable, splitRowGroups, type RankSplitOptions, type RowGroupUnit, type TableRecord } from './parquet-table.js';
export { ParquetTableWriter, type ParquetColumn, type ParquetColumnType } from './parquet-writer.js';
