/**
 * Validation of client updates before aggregation. The server never trusts
 * what a client sends: an update must have exactly the global model's keys,
 * its shapes, float32 data, only finite values, an L2 norm within a bound and
 * a sane example count. A failing update is rejected with a reason (and the
 * round goes on with the others); nothing here throws for a bad update.
 */
import type { Weights } from './weights.js';

/** Why an update was refused. */
export type RejectReason =
  | 'decode' | 'size' | 'keys' | 'shape' | 'dtype' | 'nonfinite' | 'norm'
  | 'numExamples' | 'round' | 'client' | 'duplicate' | 'late'
  // Transport-level refusals (lib/federated/http.ts): a nonce reused from an earlier round, an update for a
  // round that has closed, a nonce never issued to the sender, trained from another model than the round's,
  // a bad or missing MAC.
  | 'replay' | 'stale' | 'nonce' | 'model' | 'mac';

/** An update that was refused: `reason` is the category, `message` the detail. */
export class UpdateRejectedError extends Error {
  readonly code = 'ERR_UPDATE_REJECTED';
  readonly reason: RejectReason;
  constructor(reason: RejectReason, message: string) {
    super(message);
    this.name = 'UpdateRejectedError';
    this.reason = reason;
  }
}

export interface ValidationOptions {
  /**
   * Largest L2 norm of an update (the difference local - global, over all
   * tensors). Bounds what one client can move the model; DP clipping, if on,
   * applies after this check.
   * @default 1000
   */
  maxUpdateNorm?: number;
  /** Largest example count a client may claim (FedAvg weights by it). @default 1e9 */
  maxNumExamples?: number;
}

/** Result of {@link validateUpdate}: ok with the update's norm, or the reason it was refused. */
export type Validation = { ok: true; norm: number } | { ok: false; reason: RejectReason; message: string };

/**
 * Checks one update (a delta) against the global weights.
 * @example
 * const v = validateUpdate(delta, global, 120, { maxUpdateNorm: 50 });
 * if (!v.ok) console.warn(`rejected: ${v.reason}: ${v.message}`);
 */
export function validateUpdate(delta: Weights, reference: Weights, numExamples: number, o: ValidationOptions = {}): Validation {
  const maxNorm = o.maxUpdateNorm ?? 1000;
  const maxN = o.maxNumExamples ?? 1e9;
  const no = (reason: RejectReason, message: string): Validation => ({ ok: false, reason, message });
  if (!(delta instanceof Map)) return no('decode', 'update is not a map of tensors');
  if (!Number.isSafeInteger(numExamples) || numExamples < 1 || numExamples > maxN)
    return no('numExamples', `numExamples must be an integer in [1, ${maxN}], got ${String(numExamples)}`);
  const missing = [...reference.keys()].filter((k) => !delta.has(k));
  const extra = [...delta.keys()].filter((k) => !reference.has(k));
  if (missing.length || extra.length) {
    const parts = [missing.length ? `missing ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ` (+${missing.length - 3})` : ''}` : '',
      extra.length ? `unexpected ${extra.slice(0, 3).join(', ')}${extra.length > 3 ? ` (+${extra.length - 3})` : ''}` : ''].filter(Boolean);
    return no('keys', parts.join('; '));
  }
  let sq = 0;
  for (const [k, ref] of reference) {
    const t = delta.get(k)!;
    if (!t || !(t.data instanceof Float32Array)) return no('dtype', `${k}: data must be float32 (Float32Array)`);
    if (!Array.isArray(t.shape) || t.shape.length !== ref.shape.length || t.shape.some((d, i) => d !== ref.shape[i]))
      return no('shape', `${k}: shape [${t.shape}] differs from the model's [${ref.shape}]`);
    if (t.data.length !== ref.data.length) return no('shape', `${k}: ${t.data.length} elements, the model has ${ref.data.length}`);
    const d = t.data;
    for (let i = 0; i < d.length; i++) {
      const x = d[i];
      if (!Number.isFinite(x)) return no('nonfinite', `${k}[${i}] is ${x}`);
      sq += x * x;
    }
  }
  const norm = Math.sqrt(sq);
  if (!(norm <= maxNorm)) return no('norm', `update L2 norm ${norm.toPrecision(4)} exceeds maxUpdateNorm ${maxNorm}`);
  return { ok: true, norm };
}
