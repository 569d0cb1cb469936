// Loads the HF parity fixture (test/fixtures/bert-tiny-parity, made by
// transformers; see its README) and compares tensors by max-abs-diff.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors, toTypedArray, type TensorRecord } from '../../lib/models/safetensors.js';
import { tensor, type Tensor } from '../../lib/tensor.js';
import type { Batch } from '../../lib/models/bert.js';

export const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'bert-tiny-parity');
export const CHECKPOINT = path.join(FIXTURE, 'checkpoint');

export async function golden(file: string): Promise<Map<string, TensorRecord>> {
  return (await readSafetensors(path.join(FIXTURE, file))).tensors;
}

export function values(r: TensorRecord): Float64Array {
  const a = toTypedArray(r);
  return Float64Array.from(a as ArrayLike<number>, Number);
}

/** max |a - b| over all elements; Infinity on a shape mismatch. */
export function maxAbsDiff(ours: Tensor, expected: TensorRecord): number {
  const s = ours.shape;
  if (s.length !== expected.shape.length || s.some((d, i) => d !== expected.shape[i])) return Infinity;
  const a = ours.to('float64').toArray() as Float64Array;
  const b = values(expected);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export async function inputs(): Promise<{ batch: Batch; all: Map<string, TensorRecord> }> {
  const all = await golden('inputs.safetensors');
  const t = (k: string) => tensor(toTypedArray(all.get(k)!) as BigInt64Array, { shape: all.get(k)!.shape, dtype: 'int64' });
  return { batch: { inputIds: t('input_ids'), attentionMask: t('attention_mask'), tokenTypeIds: t('token_type_ids') }, all };
}

export function labelTensor(all: Map<string, TensorRecord>, k: string): Tensor {
  return tensor(toTypedArray(all.get(k)!) as BigInt64Array, { shape: all.get(k)!.shape, dtype: 'int64' });
}
