/**
 * MlmSource: masked-language-model batches over tokenized sequences held in
 * memory, with HF DataCollatorForLanguageModeling's dynamic masking (15% of
 * non-special tokens; of those 80% [MASK], 10% a random token, 10% kept).
 * The shuffle is seeded by (seed, epoch) and the masking by (seed, epoch,
 * batch index), so a resumed run sees the same masks. A stand-in until
 * lib/data's shards + DataLoader land; plain typed arrays, no native code.
 */
import { drawEligible } from '../data/masking.js';
import { invalidRange, invalidType } from '../errors.js';
import { ArraySource } from './array-source.js';
import { mixSeed, mulberry32 } from './rng.js';
import type { Batch, DataPosition } from './source.js';

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
 * original id where a token was chosen, -100 elsewhere. At least one
 * non-special token is chosen when there is one (as BERT's own data script):
 * a batch with no target has a NaN loss.
 */
export function maskTokens(ids: BigInt64Array, special: Uint8Array, rand: () => number,
  o: { mlmProbability: number; maskTokenId: number; vocabSize: number }): BigInt64Array {
  const labels = new BigInt64Array(ids.length).fill(-100n);
  const choose = (i: number) => {
    labels[i] = ids[i];
    const r = rand();
    if (r < 0.8) ids[i] = BigInt(o.maskTokenId);
    else if (r < 0.9) ids[i] = BigInt(Math.floor(rand() * o.vocabSize));
  };
  let chosen = 0;
  for (let i = 0; i < ids.length; i++) {
    if (special[i] || rand() >= o.mlmProbability) continue;
    choose(i);
    chosen++;
  }
  if (chosen === 0 && o.mlmProbability > 0) {
    const i = drawEligible(ids.length, (k) => !special[k], (n) => Math.floor(rand() * n));
    if (i >= 0) choose(i);
  }
  return labels;
}

type Sequence = ArrayLike<number>;

/** Pads `seqs`, masks them with randomness seeded by (seed, epoch, batch index). */
function maskedBatch(seqs: Sequence[], pos: DataPosition, o: Required<MlmSourceOptions>, specialIds: Set<number>): Batch {
  const B = seqs.length;
  const T = Math.max(...seqs.map((s) => s.length));
  const inputIds = new BigInt64Array(B * T).fill(BigInt(o.padId));
  const attentionMask = new BigInt64Array(B * T);
  const special = new Uint8Array(B * T).fill(1);
  seqs.forEach((seq, b) => {
    for (let t = 0; t < seq.length; t++) {
      inputIds[b * T + t] = BigInt(seq[t]);
      attentionMask[b * T + t] = 1n;
      special[b * T + t] = specialIds.has(seq[t]) ? 1 : 0;
    }
  });
  const labels = maskTokens(inputIds, special, mulberry32(mixSeed(o.seed, pos.epoch, pos.index, 0x6d6c6d)), o);
  return { inputIds, attentionMask, tokenTypeIds: new BigInt64Array(B * T), labels, shape: [B, T] };
}

/**
 * Resumable MLM batches over in-memory token sequences (each already has
 * [CLS] ... [SEP]): an ArraySource whose collate masks.
 */
export class MlmSource extends ArraySource<Sequence> {
  readonly options: Required<MlmSourceOptions>;
  readonly #specialIds: Set<number>;

  constructor(sequences: readonly Sequence[], o: MlmSourceOptions) {
    if (!Array.isArray(sequences)) invalidType('an array of token id sequences', 'sequences', sequences);
    if (!o || !Number.isInteger(o.maskTokenId)) invalidType('an integer', 'maskTokenId', o?.maskTokenId);
    if (!Number.isInteger(o.vocabSize) || o.vocabSize < 1) invalidRange('a positive integer', 'vocabSize', o.vocabSize);
    const p = o.mlmProbability ?? 0.15;
    if (!(p > 0 && p < 1)) invalidRange('a probability in (0, 1)', 'mlmProbability', p);
    const options = { batchSize: 32, shuffle: true, seed: 0, padId: 0, dropLast: true, ...o, mlmProbability: p };
    const specialIds = new Set([...o.specialIds, options.padId]);
    super(sequences, {
      batchSize: options.batchSize, shuffle: options.shuffle, seed: options.seed, dropLast: options.dropLast,
      collate: (seqs, pos) => maskedBatch(seqs, pos, options, specialIds),
    });
    this.options = options;
    this.#specialIds = specialIds;
  }

  get sequences(): readonly Sequence[] { return this.items; }

  /** Batch `index` of `epoch`, masked (what iteration yields at that position). */
  batch(epoch: number, index: number): Batch {
    const order = this.order(epoch);
    const idx = order.subarray(index * this.batchSize, Math.min((index + 1) * this.batchSize, order.length));
    return maskedBatch(Array.from(idx, (i) => this.items[i]), { epoch, index }, this.options, this.#specialIds);
  }
}
