/**
 * State dicts between safetensors records and native tensors, and HF's key
 * conventions: the `bert.` base-model prefix, legacy gamma/beta names, tied
 * decoder weights and non-learned buffers that some checkpoints carry.
 */
import type { DType } from '../../binding.js';
import { tensor, Tensor } from '../tensor.js';
import { toTypedArray, type SafeDType, type TensorRecord } from './safetensors.js';

const TO_TORCH: Partial<Record<SafeDType, DType>> = {
  F32: 'float32', F64: 'float64', F16: 'float16', BF16: 'bfloat16', I64: 'int64', I32: 'int32', I16: 'int16', I8: 'int8', U8: 'uint8', BOOL: 'bool',
};

/** A native tensor holding a copy of the record's data. */
export function recordToTensor(name: string, r: TensorRecord): Tensor {
  const dtype = TO_TORCH[r.dtype];
  if (!dtype) throw new TypeError(`${name}: dtype ${r.dtype} has no libtorch equivalent bertorch loads`);
  return tensor(toTypedArray(r) as never, { shape: r.shape, dtype });
}

/** A record holding a copy of the tensor's data (float16/bfloat16 are saved as F32). */
export function tensorToRecord(t: Tensor): TensorRecord {
  const src = t.dtype === 'float16' || t.dtype === 'bfloat16' ? t.to('float32') : t;
  const arr = src.toArray();
  const dtype = ({ float32: 'F32', float64: 'F64', int64: 'I64', int32: 'I32', int16: 'I16', int8: 'I8', uint8: 'U8', bool: 'BOOL' } as Record<string, SafeDType>)[src.dtype];
  if (src !== t) src.dispose();
  return { dtype, shape: t.shape, data: new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength) };
}

// Keys HF checkpoints may carry that are not parameters (buffers, tied copies).
const IGNORED = [
  /(^|\.)embeddings\.position_ids$/,
  /(^|\.)embeddings\.token_type_ids$/,
  /^cls\.predictions\.decoder\.(weight|bias)$/,
];

/**
 * Renames checkpoint keys to the model's: adds or strips the `bert.` prefix as
 * HF's base_model_prefix logic does, and maps legacy `gamma`/`beta` to
 * `weight`/`bias`. Returns the renamed map and the keys that are ignorable.
 */
export function mapCheckpointKeys<V>(keys: Map<string, V>, modelNames: readonly string[]): { mapped: Map<string, V>; ignored: string[] } {
  const modelHasPrefix = modelNames.some((n) => n.startsWith('bert.'));
  const ckptHasPrefix = [...keys.keys()].some((k) => k.startsWith('bert.'));
  const mapped = new Map<string, V>();
  const ignored: string[] = [];
  for (const [key, v] of keys) {
    let k = key.replace(/\.gamma$/, '.weight').replace(/\.beta$/, '.bias');
    if (modelHasPrefix && !ckptHasPrefix && !/^(cls|classifier)\./.test(k)) k = `bert.${k}`;
    if (!modelHasPrefix && ckptHasPrefix) {
      if (!k.startsWith('bert.')) { ignored.push(key); continue; }  // heads of a task checkpoint
      k = k.slice(5);
    }
    if (IGNORED.some((re) => re.test(k))) { ignored.push(key); continue; }
    mapped.set(k, v);
  }
  return { mapped, ignored };
}
