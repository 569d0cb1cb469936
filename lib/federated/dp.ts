/**
 * Differential privacy for federated averaging at the client level
 * (DP-FedAvg, McMahan et al. 2018, "Learning Differentially Private Recurrent
 * Language Models"): clients are sampled by Poisson sampling with rate q,
 * every update is clipped to L2 norm S, and the server releases
 *   Δ = (Σ_i clip(Δ_i, S)) / (q N) + N(0, (z S / (q N))² I)
 * a fixed-denominator mean whose sensitivity to adding or removing one client
 * is S / (qN), so each round is a subsampled Gaussian mechanism with noise
 * multiplier z, accounted by RdpAccountant. Noise comes from node:crypto
 * unless a seed is given (reproducible simulations only: a seeded generator is
 * not private). Floating-point side channels (Mironov 2012) are out of scope.
 */
import { randomFillSync } from 'node:crypto';
import { invalidRange } from '../errors.js';
import { mulberry32 } from '../train/rng.js';
import type { Weights } from './weights.js';
import { l2Norm } from './weights.js';

/** Options of client-level DP. */
export interface DpOptions {
  /** Clip every client update to this L2 norm S. */
  clipNorm: number;
  /** Noise standard deviation as a multiple z of the sensitivity. */
  noiseMultiplier: number;
  /** δ at which ε is reported. @default 1e-5 */
  delta?: number;
  /** Seed the noise (reproducible, NOT private; for tests and simulations). @default undefined (node:crypto) */
  seed?: number;
}

/**
 * DpOptions with defaults filled in.
 * @throws {RangeError} (ERR_INVALID_ARG) naming the bad field.
 */
export function checkDpOptions(o: DpOptions): Required<Omit<DpOptions, 'seed'>> & { seed?: number } {
  if (!o || typeof o !== 'object') invalidRange('{clipNorm, noiseMultiplier}', 'dp', o);
  if (!(o.clipNorm > 0 && Number.isFinite(o.clipNorm))) invalidRange('a positive number', 'dp.clipNorm', o.clipNorm);
  if (!(o.noiseMultiplier >= 0 && Number.isFinite(o.noiseMultiplier))) invalidRange('a number >= 0', 'dp.noiseMultiplier', o.noiseMultiplier);
  const delta = o.delta ?? 1e-5;
  if (!(delta > 0 && delta < 1)) invalidRange('a number in (0, 1)', 'dp.delta', o.delta);
  return { clipNorm: o.clipNorm, noiseMultiplier: o.noiseMultiplier, delta, seed: o.seed };
}

/** Uniform doubles in [0, 1): from node:crypto, or seeded (not private). */
export function uniformSource(seed?: number): () => number {
  if (seed !== undefined) return mulberry32(seed);
  const buf = new Uint32Array(2048);
  let at = buf.length;
  return () => {
    if (at + 2 > buf.length) { randomFillSync(buf); at = 0; }
    // 53 random bits.
    const hi = buf[at++] >>> 5, lo = buf[at++] >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  };
}

/** Standard normal samples (Box-Muller) from a uniform source. */
export function gaussianSource(uniform: () => number): () => number {
  let spare: number | null = null;
  return () => {
    if (spare !== null) { const s = spare; spare = null; return s; }
    let u = 0;
    while (u === 0) u = uniform();
    const r = Math.sqrt(-2 * Math.log(u)), th = 2 * Math.PI * uniform();
    spare = r * Math.sin(th);
    return r * Math.cos(th);
  };
}

/** The update scaled to L2 norm at most `clipNorm`, with its norm before clipping. */
export function clipUpdate(delta: Weights, clipNorm: number): { clipped: Weights; norm: number; scale: number } {
  const norm = l2Norm(delta);
  const scale = norm > clipNorm ? clipNorm / norm : 1;
  if (scale === 1) return { clipped: delta, norm, scale };
  const clipped: Weights = new Map([...delta].map(([k, t]) => [k, { shape: [...t.shape], data: t.data.map((x) => x * scale) }]));
  return { clipped, norm, scale };
}

/**
 * Σ clip(Δ_i, S) / denominator + N(0, (z S / denominator)²) per coordinate.
 * `denominator` is the expected number of sampled clients, qN; `like` gives the keys and shapes.
 */
export function noisyClippedMean(like: Weights, deltas: readonly Weights[], o: { clipNorm: number; noiseMultiplier: number; denominator: number }, normal: () => number): Weights {
  const { clipNorm, noiseMultiplier, denominator } = o;
  if (!(denominator > 0)) invalidRange('a positive number', 'denominator', denominator);
  const clipped = deltas.map((d) => clipUpdate(d, clipNorm).clipped);
  const std = (noiseMultiplier * clipNorm) / denominator;
  const out: Weights = new Map();
  for (const [k, t0] of like) {
    const acc = new Float64Array(t0.data.length);
    for (const c of clipped) { const d = c.get(k)!.data; for (let i = 0; i < acc.length; i++) acc[i] += d[i]; }
    const m = new Float32Array(acc.length);
    for (let i = 0; i < m.length; i++) m[i] = acc[i] / denominator + (std > 0 ? std * normal() : 0);
    out.set(k, { shape: [...t0.shape], data: m });
  }
  return out;
}
