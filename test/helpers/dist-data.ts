// The fixed data both the 2-process run and the 1-process reference train on.
import type { Batch } from '../../lib/index.js';

export const TINY = { vocab_size: 50, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 64, max_position_embeddings: 16 };
export const STEPS = 3;
const B2 = 4, T = 8;

export function fullBatch(step: number): Batch & { shape: [number, number] } {
  const ids = new BigInt64Array(B2 * T).map((_, i) => BigInt(((i * 7 + step * 11) % 45) + 3));
  const labels = new BigInt64Array(B2).map((_, i) => BigInt((i + step) % 2));
  return { inputIds: ids, labels, shape: [B2, T] };
}

/** Rows [rank * n/world, (rank+1) * n/world) of a batch. */
export function sliceBatch(b: Batch & { shape: [number, number] }, rank: number, world: number): Batch {
  const [n, t] = b.shape;
  const per = n / world;
  const ids = (b.inputIds as BigInt64Array).slice(rank * per * t, (rank + 1) * per * t);
  const labels = (b.labels as BigInt64Array).slice(rank * per, (rank + 1) * per);
  return { inputIds: ids, labels, shape: [per, t] };
}

// AdamW divides by sqrt(v) + eps: with eps = 1e-8, an element whose gradient is
// ~1e-8 turns the float32 rounding difference between "mean of two half-batch
// means" and "mean of the full batch" into a 1e-5 parameter difference. eps =
// 1e-6 keeps the comparison about data parallelism, not Adam's conditioning.
