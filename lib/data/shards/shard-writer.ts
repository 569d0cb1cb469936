import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { ShardInfo } from './format.js';

const shardName = (index: number, ext: string) => `${String(index).padStart(5, '0')}.${ext}`;

/** Appends examples to NNNNN.bin/.idx files in a staging folder, starting a new shard past `shardTokens`. */
export class ShardWriter {
  readonly shards: ShardInfo[] = [];
  #bin: FileHandle | undefined;
  #idx: FileHandle | undefined;
  #examples = 0;
  #tokens = 0;

  constructor(
    readonly dir: string,
    readonly shardTokens: number,
  ) {}

  /** Appends a chunk: `ids` of all its examples back to back, `lengths` of each. */
  async append(ids: Uint16Array | Uint32Array, lengths: Uint32Array): Promise<void> {
    let from = 0; // first example of lengths not yet written
    let fromToken = 0;
    let at = 0;
    for (let k = 0; k <= lengths.length; k++) {
      const roll = k < lengths.length && this.#tokens + (at - fromToken) >= this.shardTokens && this.#examples + (k - from) > 0;
      if (k === lengths.length || roll) {
        await this.#write(ids.subarray(fromToken, at), lengths.subarray(from, k));
        from = k;
        fromToken = at;
        if (roll) await this.#finishShard();
      }
      if (k < lengths.length) at += lengths[k];
    }
  }

  async close(): Promise<ShardInfo[]> {
    if (this.#bin) await this.#finishShard();
    return this.shards;
  }

  async abort(): Promise<void> {
    await this.#bin?.close().catch(() => {});
    await this.#idx?.close().catch(() => {});
  }

  async #write(ids: Uint16Array | Uint32Array, lengths: Uint32Array): Promise<void> {
    if (lengths.length === 0) return;
    if (!this.#bin) {
      const index = this.shards.length;
      this.#bin = await open(join(this.dir, shardName(index, 'bin')), 'w');
      this.#idx = await open(join(this.dir, shardName(index, 'idx')), 'w');
      await this.#idx.write(new Uint8Array(8)); // offset 0
    }
    const offsets = new BigUint64Array(lengths.length);
    let tokens = this.#tokens;
    for (let k = 0; k < lengths.length; k++) offsets[k] = BigInt((tokens += lengths[k]));
    await this.#bin.write(new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength));
    await this.#idx!.write(new Uint8Array(offsets.buffer));
    this.#tokens = tokens;
    this.#examples += lengths.length;
  }

  async #finishShard(): Promise<void> {
    const index = this.shards.length;
    await this.#bin!.close();
    await this.#idx!.close();
    this.#bin = this.#idx = undefined;
    this.shards.push({ bin: shardName(index, 'bin'), idx: shardName(index, 'idx'), numExamples: this.#examples, numTokens: this.#tokens });
    this.#examples = 0;
    this.#tokens = 0;
  }
}
