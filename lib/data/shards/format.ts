// The token shard format (DESIGN.md "Formats"). A shard folder holds meta.json
// (format version, vocabulary size and hash, id dtype, counts) and, per
// shard, NNNNN.bin (ids, little-endian uint16 or uint32, examples back to
// back) and NNNNN.idx (little-endian uint64 token offsets into the .bin,
// numExamples + 1 of them, the first 0).

import { join } from 'node:path';

/** The shard format version this code writes and reads. */
export const SHARD_FORMAT_VERSION = 1;

/** Id storage type of a shard folder. */
export type IdDtype = 'uint16' | 'uint32';

/** One shard's files and counts, as listed in meta.json. */
export interface ShardInfo {
  bin: string;
  idx: string;
  numExamples: number;
  numTokens: number;
}

/** The contents of meta.json. */
export interface ShardsMeta {
  formatVersion: number;
  /** Size of the vocabulary the ids index. */
  vocabSize: number;
  /** {@link Tokenizer.vocabHash} of the tokenizer that wrote the ids. */
  vocabHash: string;
  idDtype: IdDtype;
  /** Whether each example is `[CLS] ... [SEP]`. */
  addSpecialTokens: boolean;
  numExamples: number;
  numTokens: number;
  shards: ShardInfo[];
}

/** Error codes of {@link ShardError}. */
export type ShardErrorCode = 'ERR_SHARD_FORMAT' | 'ERR_SHARD_VOCAB';

/** A shard folder that cannot be read: not a complete shard folder (`ERR_SHARD_FORMAT`) or ids of another vocabulary (`ERR_SHARD_VOCAB`). */
export class ShardError extends Error {
  override name = 'ShardError';
  constructor(
    readonly code: ShardErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function checkMeta(text: string, dir: string): ShardsMeta {
  const bad = (what: string) => new ShardError('ERR_SHARD_FORMAT', `${join(dir, 'meta.json')} ${what}`);
  let meta: ShardsMeta;
  try {
    meta = JSON.parse(text);
  } catch (error) {
    throw bad(`is not JSON: ${(error as Error).message}`);
  }
  if (meta?.formatVersion !== SHARD_FORMAT_VERSION) throw bad(`has format version ${meta?.formatVersion}; this bertorch reads ${SHARD_FORMAT_VERSION}`);
  if (meta.idDtype !== 'uint16' && meta.idDtype !== 'uint32') throw bad(`has an unknown idDtype ${JSON.stringify(meta.idDtype)}`);
  if (typeof meta.vocabHash !== 'string' || !Number.isInteger(meta.vocabSize)) throw bad('lacks vocabHash or vocabSize');
  if (!Array.isArray(meta.shards)) throw bad('lacks the shard list');
  let examples = 0;
  let tokens = 0;
  for (const s of meta.shards) {
    const name = /^\d{5}\.bin$/;
    if (!name.test(s?.bin) || s.idx !== s.bin.replace(/bin$/, 'idx') || !Number.isInteger(s.numExamples) || !Number.isInteger(s.numTokens)) {
      throw bad(`has an invalid shard entry ${JSON.stringify(s)}`);
    }
    examples += s.numExamples;
    tokens += s.numTokens;
  }
  if (examples !== meta.numExamples || tokens !== meta.numTokens) throw bad('has totals that disagree with its shards');
  return meta;
}
