// Token shards (DESIGN.md "Formats"): a corpus tokenized once into token ids
// on disk, read back by positioned reads. The code lives in shards/ (format,
// writer, reader and the writer's parts); this module keeps the public names
// in one place, so checkMeta and the writer's internals stay unexported.

export { SHARD_FORMAT_VERSION, ShardError, type IdDtype, type ShardErrorCode, type ShardInfo, type ShardsMeta } from './shards/format.js';
export { writeShards, type WriteShardsOptions, type WriteShardsSummary } from './shards/writer.js';
export { ShardBlocks, ShardReader, type ShardRange, type ShardReaderOptions } from './shards/reader.js';
