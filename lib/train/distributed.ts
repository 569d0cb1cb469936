/**
 * What the Trainer needs from a process group: figures that mean the same on
 * N ranks as on one. Evaluation runs over every rank's shard: each rank packs
 * its prediction batches into one float64 array (ids and shapes are exact in
 * float64), the arrays are padded to the longest and all-gathered, and every
 * rank unpacks the same global EvalPrediction, so all ranks take the same
 * best-model and early-stopping decisions. Each training step's loss and
 * example count are summed over the ranks (one small all-reduce per step).
 */
import type { ProcessGroup } from '../distributed/process-group.js';
import { tensor, type Tensor } from '../tensor.js';
import type { EvalPrediction, PredictionBatch } from './predictions.js';
import type { EvalData } from './source.js';

/**
 * A step's loss over the global batch (the ranks' mean losses weighted by
 * their loss terms: what one process with the whole batch computes) and its
 * examples over all ranks. Every rank calls it every step, skipped or not.
 */
export async function globalStep(pg: ProcessGroup, loss: number, terms: number, rows: number): Promise<{ loss: number; rows: number }> {
  const finite = Number.isFinite(loss);
  const sums = tensor([finite ? loss * terms : 0, finite ? terms : 0, rows, finite ? 0 : 1], { dtype: 'float64', device: pg.device });
  try {
    await pg.allReduce(sums, 'sum');
    const [lossSum, allTerms, allRows, nonFinite] = sums.toArray() as Float64Array;
    return { loss: nonFinite > 0 ? NaN : allTerms > 0 ? lossSum / allTerms : NaN, rows: allRows };
  } finally {
    sums.dispose();
  }
}

/** A DataLoader read with each example on one rank only (its shards unpadded); other sources as they are. */
export function unpaddedShards(data: EvalData): EvalData {
  const loader = data as EvalData & { unpadded?: () => EvalData };
  return typeof loader.unpadded === 'function' ? loader.unpadded() : data;
}

function pack(batches: PredictionBatch[]): Float64Array {
  const out: number[] = [batches.length];
  for (const b of batches) {
    out.push(b.shape.length, ...b.shape, b.logits.length, ...b.logits);
    const kind = b.labels === undefined ? 0 : b.labels instanceof Float32Array ? 2 : 1;
    out.push(kind, b.labels?.length ?? 0, ...(b.labels ?? []));
    out.push(b.attentionMask?.length ?? 0, ...(b.attentionMask ?? []));
  }
  return Float64Array.from(out);
}

function unpack(a: Float64Array): PredictionBatch[] {
  let i = 0;
  const take = (n: number) => a.subarray(i, (i += n));
  const batches: PredictionBatch[] = [];
  for (let n = a[i++]; n > 0; n--) {
    const shape = Array.from(take(a[i++]));
    const logits = Float32Array.from(take(a[i++]));
    const kind = a[i++];
    const labelsRaw = take(a[i++]);
    const maskRaw = take(a[i++]);
    const b: PredictionBatch = { logits, shape };
    if (kind === 1) b.labels = Int32Array.from(labelsRaw);
    if (kind === 2) b.labels = Float32Array.from(labelsRaw);
    if (maskRaw.length) b.attentionMask = Int32Array.from(maskRaw);
    batches.push(b);
  }
  return batches;
}

/** The EvalPrediction of all ranks' shards, in rank order; loss weighted by each rank's scored terms. */
export async function gatherPredictions(pg: ProcessGroup, p: EvalPrediction, terms: number): Promise<EvalPrediction> {
  const made: Tensor[] = [];
  const on = (t: Tensor) => { made.push(t); return t; };
  // NCCL reduces CUDA tensors only: the packed arrays travel on the group's device.
  const f64 = (a: number[] | Float64Array) => on(tensor(a, { dtype: 'float64', device: pg.device }));
  try {
    const local = pack(p.batches);
    const sums = f64([Number.isFinite(p.loss) ? p.loss * terms : 0, terms]);
    await pg.allReduce(sums, 'sum');
    const [lossSum, allTerms] = sums.toArray() as Float64Array;
    const lens = (await pg.allGather(f64([local.length]))).map(on);
    const longest = Math.max(...lens.map((t) => Number(t.item())));
    const padded = new Float64Array(longest);
    padded.set(local);
    const parts = (await pg.allGather(f64(padded))).map(on);
    const batches = parts.flatMap((t) => unpack(t.toArray() as Float64Array));
    return { ...p, batches, loss: allTerms ? lossSum / allTerms : NaN };
  } finally {
    for (const t of made) t.dispose();
  }
}
