/**
 * MlmSource: masked-language-model batches over tokenized sequences held in
 * memory, with HF DataCollatorForLanguageModeling's dynamic masking (15% of
 * non-special tokens; of those 80% [MASK], 10% a random token, 10% kept).
 * The shuffle is seeded by (seed, epoch) and the masking by (seed, epoch,
 * batch index), so a resumed run sees the same masks. A stand-in until
 * lib/data's shards + DataLoader land; plain typed arrays, no native code.
 */
import { invalidRange, invalidType } from '../errors.js';
import { mixSeed, mulberry32, permutation } from './rng.js';
import type { Batch, BatchSource, DataPosition } from './source.js';

export interface MlmSourceOptions {
  /** @default 32 */
  batchSize?: number;
  /** @default true */
  shuffle?: boolean;
  /** @default 0 */
  seed?: number;
  /** HF `mlm_probability`. @default 0.15 */
  mlmProbability?: number;
  /** Id of [MASK]. */
  maskTokenId: number;
  /** Random replacements are drawn from [0, vocabSize). */
  vocabSize: number;
  /** Ids never masked ([CLS], [SEP], [PAD], ...). */
  specialIds: readonly number[];
  /** @default 0 */
  padId?: number;
  /** @default true */
  dropLast?: boolean;
}

/**
 * Masks `ids` in place (HF's 80/10/10 rule) and returns the labels: the
 * original id where a token was chosen, -100 elsewhere.
 */
export function maskTokens(ids: BigInt64Array, special: Uint8Array, rand: () => number,
  o: { mlmProbability: number; maskTokenId: number; vocabSize: number }): BigInt64Array {
  const labels = new BigInt64Array(ids.length).fill(-100n);
  for (let i = 0; i < ids.length; i++) {
    if (special[i] || rand() >= o.mlmProbability) continue;
    labels[i] = ids[i];
    const r = rand();
    if (r < 0.8) ids[i] = BigInt(o.maskTokenId);
    else if (r < 0.9) ids[i] = BigInt(Math.floor(rand() * o.vocabSize));
  }
  return labels;
}

/** Resumable MLM batches over in-memory token sequences (each already has [CLS] ... [SEP]). */
export class MlmSource implements BatchSource {
  readonly sequences: readonly ArrayLike<number>[];
  readonly batchSize: number;
  readonly options: Required<MlmSourceOptions>;
  #special: Set<number>;
  #epoch = 0;
  #index = 0;

  constructor(sequences: readonly ArrayLike<number>[], o: MlmSourceOptions) {
    if (!Array.isArray(sequences)) invalidType('an array of token id sequences', 'sequences', sequences);
    if (!o || !Number.isInteger(o.maskTokenId)) invalidType('an integer', 'maskTokenId', o?.maskTokenId);
    if (!Number.isInteger(o.vocabSize) || o.vocabSize < 1) invalidRange('a positive integer', 'vocabSize', o.vocabSize);
    const p = o.mlmProbability ?? 0.15;
    if (!(p > 0 && p < 1)) invalidRange('a probability in (0, 1)', 'mlmProbability', p);
    this.sequences = sequences;
    this.options = { batchSize: 32, shuffle: true, seed: 0, padId: 0, dropLast: true, ...o, mlmProbability: p };
    this.batchSize = this.options.batchSize;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) invalidRange('a positive integer', 'batchSize', this.batchSize);
    this.#special = new Set([...o.specialIds, this.options.padId]);
  }

  get length(): number {
    const n = this.sequences.length / this.batchSize;
    return this.options.dropLast ? Math.floor(n) : Math.ceil(n);
  }

  setEpoch(epoch: number): void {
    if (!Number.isInteger(epoch) || epoch < 0) invalidRange('a non-negative integer', 'epoch', epoch);
    this.#epoch = epoch;
    this.#index = 0;
  }
  state(): DataPosition { return { epoch: this.#epoch, index: this.#index }; }
  resume(s: DataPosition): void {
    if (!s || !Number.isInteger(s.epoch) || !Number.isInteger(s.index)) invalidType('{epoch, index}', 'state', s);
    this.#epoch = s.epoch;
    this.#index = s.index;
  }

  /** Batch `index` of `epoch`, masked. */
  batch(epoch: number, index: number, order = this.#order(epoch)): Batch {
    const o = this.options;
    const idx = order.subarray(index * this.batchSize, Math.min((index + 1) * this.batchSize, order.length));
    const B = idx.length;
    const T = Math.max(...Array.from(idx, (i) => this.sequences[i].length));
    const inputIds = new BigInt64Array(B * T).fill(BigInt(o.padId));
    const attentionMask = new BigInt64Array(B * T);
    const special = new Uint8Array(B * T).fill(1);
    idx.forEach((s, b) => {
      const seq = this.sequences[s];
      for (let t = 0; t < seq.length; t++) {
        inputIds[b * T + t] = BigInt(seq[t]);
        attentionMask[b * T + t] = 1n;
        special[b * T + t] = this.#special.has(seq[t]) ? 1 : 0;
      }
    });
    const labels = maskTokens(inputIds, special, mulberry32(mixSeed(o.seed, epoch, index, 0x6d6c6d)), o);
    return { inputIds, attentionMask, tokenTypeIds: new BigInt64Array(B * T), labels, shape: [B, T] };
  }

  #order(epoch: number): Int32Array {
    const n = this.sequences.length;
    return this.options.shuffle ? permutation(n, mulberry32(mixSeed(this.options.seed, epoch))) : Int32Array.from({ length: n }, (_, i) => i);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Batch> {
    const epoch = this.#epoch;
    const order = this.#order(epoch);
    while (this.#index < this.length) {
      const i = this.#index++;
      yield this.batch(epoch, i, order);
    }
  }
}
