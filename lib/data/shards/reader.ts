// Reading token shards: ShardReader keeps one file descriptor per file and
// reads only the bytes asked for (fs.readSync at an offset), on the calling
// thread. No native bertorch code here.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { endianness } from 'node:os';
import { join } from 'node:path';
import type { Tokenizer } from '../../tokenizer.js';
import { optionalInteger, optionsObject, rangeError, requireString } from '../../validate.js';
import { upperBound } from '../search.js';
import { checkMeta, ShardError, type ShardsMeta } from './format.js';

/** Options of {@link ShardReader.open}. */
export interface ShardReaderOptions {
  /** Refuse shards written with another vocabulary than this tokenizer's. */
  tokenizer?: Pick<Tokenizer, 'vocabHash'>;
  /** Refuse shards whose vocabulary hash is not this one. */
  vocabHash?: string;
}

/** Examples `[start, end)` read at once: their ids back to back and where each starts. */
export interface ShardRange {
  ids: Uint16Array | Uint32Array;
  /** `end - start + 1` offsets into `ids`; example k is `ids[offsets[k], offsets[k + 1])`. */
  offsets: Float64Array;
}

type IdArray = Uint16Array | Uint32Array;

/**
 * Random access to a token shard folder. `get(i)` reads example i with two
 * positioned reads (its idx entries, then its ids); `readRange` reads many
 * examples with one read per shard; `blocks(n)` views the corpus as fixed
 * length blocks. File descriptors stay open until {@link ShardReader.close}.
 * @example
 * const reader = await ShardReader.open('shards/train', { tokenizer });
 * const ids = reader.get(0); // Int32Array
 * const blocks = reader.blocks(128);
 */
export class ShardReader {
  readonly meta: ShardsMeta;
  readonly dir: string;
  readonly #bytes: 2 | 4;
  readonly #exampleStart: Float64Array; // per shard, plus the total
  readonly #tokenStart: Float64Array;
  readonly #fds: Array<{ bin: number; idx: number } | undefined>;
  #closed = false;

  private constructor(dir: string, meta: ShardsMeta) {
    this.dir = dir;
    this.meta = meta;
    this.#bytes = meta.idDtype === 'uint16' ? 2 : 4;
    this.#exampleStart = new Float64Array(meta.shards.length + 1);
    this.#tokenStart = new Float64Array(meta.shards.length + 1);
    meta.shards.forEach((s, k) => {
      this.#exampleStart[k + 1] = this.#exampleStart[k] + s.numExamples;
      this.#tokenStart[k + 1] = this.#tokenStart[k] + s.numTokens;
    });
    this.#fds = new Array(meta.shards.length).fill(undefined);
  }

  /**
   * Opens a shard folder written by {@link writeShards}.
   * @throws {ShardError} `ERR_SHARD_FORMAT` if meta.json is missing or invalid or a shard's size disagrees with it;
   *   `ERR_SHARD_VOCAB` if the shards were written with another vocabulary.
   */
  static async open(dir: string, options?: ShardReaderOptions): Promise<ShardReader> {
    requireString(dir, 'dir');
    const opts = optionsObject(options, 'options');
    let text: string;
    try {
      text = await readFile(join(dir, 'meta.json'), 'utf8');
    } catch {
      throw new ShardError('ERR_SHARD_FORMAT', `${dir} has no readable meta.json: not a shard folder, or writeShards did not finish`);
    }
    const meta = checkMeta(text, dir);
    const expected = opts.tokenizer?.vocabHash() ?? opts.vocabHash;
    if (expected !== undefined && expected !== meta.vocabHash) {
      throw new ShardError(
        'ERR_SHARD_VOCAB',
        `The shards in ${dir} were written with vocabulary ${meta.vocabHash} but the tokenizer's vocabulary is ${expected}: ` +
          'the ids would mean other tokens; write the shards again with this tokenizer',
      );
    }
    if (endianness() !== 'LE') throw new ShardError('ERR_SHARD_FORMAT', 'Token shards are little-endian and this machine is big-endian');
    const reader = new ShardReader(dir, meta);
    try {
      for (let k = 0; k < meta.shards.length; k++) reader.#open(k); // checks every file's size now
    } catch (error) {
      reader.close();
      if (error instanceof ShardError) throw error;
      throw new ShardError('ERR_SHARD_FORMAT', `${dir}: a shard listed in meta.json cannot be opened: ${(error as Error).message}`);
    }
    return reader;
  }

  /** Number of examples. */
  get length(): number {
    return this.meta.numExamples;
  }

  /** Number of tokens in all examples. */
  get numTokens(): number {
    return this.meta.numTokens;
  }

  /** The ids of example `i`. */
  get(i: number): Int32Array {
    const { shard, local } = this.#locate(i);
    const [start, end] = this.#offsets(shard, local, 1);
    return Int32Array.from(this.#readIds(shard, start, end));
  }

  /** Number of tokens of example `i` (one small read). */
  lengthOf(i: number): number {
    const { shard, local } = this.#locate(i);
    const [start, end] = this.#offsets(shard, local, 1);
    return end - start;
  }

  /**
   * Examples `[start, end)` with one idx read and one id read per shard they
   * span: the fast path for sequential scans.
   */
  readRange(start: number, end: number): ShardRange {
    this.#checkRange(start, end, this.length, 'readRange');
    const offsets = new Float64Array(end - start + 1);
    const parts: IdArray[] = [];
    let total = 0;
    for (let i = start; i < end; ) {
      const { shard, local } = this.#locate(i);
      const count = Math.min(end - i, this.meta.shards[shard].numExamples - local);
      const shardOffsets = this.#offsets(shard, local, count);
      const base = shardOffsets[0];
      for (let k = 1; k <= count; k++) offsets[i - start + k] = total + shardOffsets[k] - base;
      const ids = this.#readIds(shard, base, shardOffsets[count]);
      parts.push(ids);
      total += ids.length;
      i += count;
    }
    return { ids: parts.length === 1 ? parts[0] : concatIds(parts, total, this.#bytes), offsets };
  }

  /**
   * Tokens `[start, end)` of the whole corpus, examples back to back (the
   * stream that {@link ShardReader.blocks} cuts up).
   */
  readTokens(start: number, end: number): IdArray {
    this.#checkRange(start, end, this.numTokens, 'readTokens');
    const parts: IdArray[] = [];
    for (let t = start; t < end; ) {
      const shard = upperBound(this.#tokenStart, t) - 1;
      const local = t - this.#tokenStart[shard];
      const count = Math.min(end - t, this.meta.shards[shard].numTokens - local);
      parts.push(this.#readIds(shard, local, local + count));
      t += count;
    }
    return parts.length === 1 ? parts[0] : concatIds(parts, end - start, this.#bytes);
  }

  /**
   * The corpus as blocks of `blockSize` tokens: all examples concatenated and
   * cut, the remainder dropped (HF run_mlm's group_texts, over the whole
   * corpus instead of per map batch). Block j is a single positioned read.
   * @throws {RangeError} for a blockSize that is not a positive integer.
   */
  blocks(blockSize: number): ShardBlocks {
    return new ShardBlocks(this, optionalInteger(blockSize, 'blockSize', 0, 1));
  }

  /** Closes the files. Idempotent; later reads throw. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const fds of this.#fds) {
      if (!fds) continue;
      closeSync(fds.bin);
      closeSync(fds.idx);
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #checkRange(start: number, end: number, limit: number, name: string): void {
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end > limit) {
      throw rangeError(`0 <= start <= end <= ${limit}`, name, [start, end]);
    }
  }

  #locate(i: number): { shard: number; local: number } {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw rangeError(`an index from 0 to ${this.length - 1}`, 'i', i);
    const shard = upperBound(this.#exampleStart, i) - 1;
    return { shard, local: i - this.#exampleStart[shard] };
  }

  #open(shard: number): { bin: number; idx: number } {
    if (this.#closed) throw new ShardError('ERR_SHARD_FORMAT', `ShardReader for ${this.dir} is closed`);
    let fds = this.#fds[shard];
    if (fds) return fds;
    const info = this.meta.shards[shard];
    const bin = openSync(join(this.dir, info.bin), 'r');
    const idx = openSync(join(this.dir, info.idx), 'r');
    fds = { bin, idx };
    this.#fds[shard] = fds;
    const binSize = fstatSync(bin).size;
    const idxSize = fstatSync(idx).size;
    if (binSize !== info.numTokens * this.#bytes || idxSize !== (info.numExamples + 1) * 8) {
      throw new ShardError(
        'ERR_SHARD_FORMAT',
        `${join(this.dir, info.bin)} has ${binSize} bytes and its .idx ${idxSize}; meta.json says ${info.numTokens} tokens ` +
          `of ${this.#bytes} bytes and ${info.numExamples} examples`,
      );
    }
    return fds;
  }

  // Token offsets of examples local..local+count of a shard (count + 1 values).
  #offsets(shard: number, local: number, count: number): Float64Array {
    const raw = new BigUint64Array(count + 1);
    readFully(this.#open(shard).idx, raw, local * 8);
    const offsets = Float64Array.from(raw, Number);
    // A damaged .idx must not become a negative or huge read.
    const { numTokens, idx } = this.meta.shards[shard];
    for (let k = 0; k <= count; k++) {
      const o = offsets[k];
      if (o > numTokens || (k > 0 && o < offsets[k - 1])) {
        throw new ShardError('ERR_SHARD_FORMAT',
          `${join(this.dir, idx)}: offset ${o} of example ${local + k} is ${o > numTokens ? `past the shard's ${numTokens} tokens` : `before the previous one (${offsets[k - 1]})`}; the file is damaged`);
      }
    }
    return offsets;
  }

  #readIds(shard: number, start: number, end: number): IdArray {
    const ids = this.#bytes === 2 ? new Uint16Array(end - start) : new Uint32Array(end - start);
    readFully(this.#open(shard).bin, ids, start * this.#bytes);
    return ids;
  }
}

/**
 * Fixed-length blocks of a shard folder's token stream ({@link ShardReader.blocks}).
 * A dataset: `length` blocks, `get(j)` the ids of block j.
 */
export class ShardBlocks {
  constructor(
    readonly reader: ShardReader,
    readonly blockSize: number,
  ) {}

  /** Number of whole blocks. */
  get length(): number {
    return Math.floor(this.reader.numTokens / this.blockSize);
  }

  /** The ids of block `j`. */
  get(j: number): Int32Array {
    if (!Number.isInteger(j) || j < 0 || j >= this.length) throw rangeError(`a block index from 0 to ${this.length - 1}`, 'j', j);
    return Int32Array.from(this.reader.readTokens(j * this.blockSize, (j + 1) * this.blockSize));
  }
}

function readFully(fd: number, into: ArrayBufferView, position: number): void {
  const bytes = new Uint8Array(into.buffer, into.byteOffset, into.byteLength);
  let done = 0;
  while (done < bytes.length) {
    const n = readSync(fd, bytes, done, bytes.length - done, position + done);
    if (n === 0) throw new ShardError('ERR_SHARD_FORMAT', `unexpected end of a shard file at byte ${position + done}`);
    done += n;
  }
}

function concatIds(parts: IdArray[], total: number, bytes: 2 | 4): IdArray {
  const out = bytes === 2 ? new Uint16Array(total) : new Uint32Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
