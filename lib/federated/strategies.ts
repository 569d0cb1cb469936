/**
 * Server strategies: how accepted client updates become the next global model.
 * Every strategy works in two steps on plain float32 weights (no libtorch):
 *   combine(results) -> one update Δ (weighted mean, median, trimmed mean)
 *   apply(global, Δ, round) -> next global (plain step, or a server optimizer)
 * Client updates are deltas (local - global). combine/apply match Flower's
 * strategies, which work on full weights: mean(w_i) = global + mean(Δ_i), and
 * the same for the median and trimmed mean. Server optimizers (FedAdam,
 * FedYogi, FedAdagrad) follow Reddi et al. 2021, "Adaptive Federated
 * Optimization", Algorithm 2, with Δ the pseudo-gradient. Strategies with
 * server state (m, v) are not thread-safe and belong to one server.
 */
import { invalidRange } from '../errors.js';
import type { Weights } from './weights.js';

/** One accepted client update. */
export interface ClientResult {
  clientId: string;
  /** local weights - global weights, by parameter name. */
  delta: Weights;
  numExamples: number;
  metrics?: Record<string, number>;
}

/** Training instructions a client receives with the global model each round. */
export interface FitConfig {
  round: number;
  /** Passes over the client's data. @default 1 */
  localEpochs: number;
  /** @default 16 */
  batchSize: number;
  /** Peak learning rate of the client's AdamW. @default 1e-3 */
  lr: number;
  /** FedProx proximal weight μ (0 = plain local training). @default 0 */
  proximalMu: number;
  /** Clip each local step's gradient norm (0 = off). @default 1 */
  maxGradNorm: number;
  /** Seed of the client's shuffle and dropout this round (derived from the server seed and round). */
  seed: number;
}

/** The defaults of {@link FitConfig}. */
export const FIT_DEFAULTS: Omit<FitConfig, 'round' | 'seed'> = { localEpochs: 1, batchSize: 16, lr: 1e-3, proximalMu: 0, maxGradNorm: 1 };

/** A federated aggregation rule. Subclass or use one of the classes below. */
export abstract class FederatedStrategy {
  abstract readonly name: string;
  /**
   * Whether combine() is a weighted mean (so DP's clipped, noised mean can take
   * its place). Median and trimmed mean are not, and refuse DP.
   */
  readonly meanBased: boolean = true;
  /** Fields added to every client's FitConfig (FedProx sends proximalMu). */
  configureFit(_round: number): Partial<FitConfig> { return {}; }
  /** The round's update Δ from the accepted results (at least one). */
  abstract combine(results: readonly ClientResult[]): Weights;
  /** The next global weights from the current ones and Δ. Default: global + Δ. */
  apply(global: Weights, delta: Weights, _round: number): Weights {
    const out: Weights = new Map();
    for (const [k, g] of global) {
      const d = delta.get(k)!.data;
      const w = new Float32Array(g.data.length);
      for (let i = 0; i < w.length; i++) w[i] = g.data[i] + d[i];
      out.set(k, { shape: [...g.shape], data: w });
    }
    return out;
  }
  /** combine then apply. */
  aggregate(global: Weights, results: readonly ClientResult[], round: number): Weights {
    if (results.length === 0) throw new RangeError('Expected at least one client result for results but received none');
    return this.apply(global, this.combine(results), round);
  }
}

/**
 * The mean of the deltas weighted by example counts (McMahan et al. 2017),
 * accumulated in float64. `weights` defaults to each result's numExamples.
 */
export function weightedMean(results: readonly ClientResult[], weights = results.map((r) => r.numExamples)): Weights {
  const total = weights.reduce((a, b) => a + b, 0);
  if (!(total > 0)) throw new RangeError(`Expected a positive total weight for results but received ${total}`);
  const out: Weights = new Map();
  for (const [k, t0] of results[0].delta) {
    const n = t0.data.length;
    const acc = new Float64Array(n);
    for (let j = 0; j < results.length; j++) accumulate(acc, results[j].delta.get(k)!.data, weights[j]);
    const m = new Float32Array(n);
    for (let i = 0; i < n; i++) m[i] = acc[i] / total;
    out.set(k, { shape: [...t0.shape], data: m });
  }
  return out;
}

// acc += w * d (a monomorphic hot loop, kept apart so V8 optimises it once).
function accumulate(acc: Float64Array, d: Float32Array, w: number): void {
  for (let i = 0; i < acc.length; i++) acc[i] += w * d[i];
}

/** Applies `reduce` to the n client values of every coordinate (sorted ascending). */
function coordinatewise(results: readonly ClientResult[], reduce: (sorted: Float64Array) => number): Weights {
  const n = results.length;
  const col = new Float64Array(n);
  const out: Weights = new Map();
  for (const [k, t0] of results[0].delta) {
    const datas = results.map((r) => r.delta.get(k)!.data);
    const m = new Float32Array(t0.data.length);
    for (let i = 0; i < m.length; i++) {
      for (let j = 0; j < n; j++) col[j] = datas[j][i];
      // Insertion sort: n is the number of clients in a round (small).
      for (let a = 1; a < n; a++) {
        const x = col[a];
        let b = a - 1;
        while (b >= 0 && col[b] > x) { col[b + 1] = col[b]; b--; }
        col[b + 1] = x;
      }
      m[i] = reduce(col);
    }
    out.set(k, { shape: [...t0.shape], data: m });
  }
  return out;
}

/** Federated averaging: global + the example-weighted mean of the deltas (Flower's FedAvg). */
export class FedAvg extends FederatedStrategy {
  readonly name: string = 'FedAvg';
  combine(results: readonly ClientResult[]): Weights { return weightedMean(results); }
}

/**
 * FedProx (Li et al. 2020): FedAvg on the server; each client minimises
 * loss(w) + μ/2 ||w - w_global||² (see BertClient for how the term enters).
 * @example new FedProx({ proximalMu: 0.01 })
 */
export class FedProx extends FedAvg {
  override readonly name = 'FedProx';
  readonly proximalMu: number;
  constructor(o: { proximalMu?: number } = {}) {
    super();
    this.proximalMu = o.proximalMu ?? 0.01;
    if (!(this.proximalMu >= 0) || !Number.isFinite(this.proximalMu)) invalidRange('a finite number >= 0', 'proximalMu', o.proximalMu);
  }
  override configureFit(): Partial<FitConfig> { return { proximalMu: this.proximalMu }; }
}

/**
 * Coordinate-wise median of the client deltas, unweighted (Yin et al. 2018;
 * Flower's FedMedian). With an even count, the mean of the two middle values
 * (numpy.median). Robust to a minority of arbitrary updates.
 */
export class FedMedian extends FederatedStrategy {
  readonly name = 'FedMedian';
  override readonly meanBased = false;
  combine(results: readonly ClientResult[]): Weights {
    return coordinatewise(results, (s) => {
      const n = s.length, h = n >> 1;
      return n % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
    });
  }
}

/**
 * Coordinate-wise trimmed mean (Yin et al. 2018; Flower's FedTrimmedAvg,
 * scipy.stats.trim_mean): drop floor(beta * n) values at each end, average the rest.
 * @default beta 0.2
 */
export class FedTrimmedAvg extends FederatedStrategy {
  readonly name = 'FedTrimmedAvg';
  override readonly meanBased = false;
  readonly beta: number;
  constructor(o: { beta?: number } = {}) {
    super();
    this.beta = o.beta ?? 0.2;
    if (!(this.beta >= 0 && this.beta < 0.5)) invalidRange('a number in [0, 0.5)', 'beta', o.beta);
  }
  combine(results: readonly ClientResult[]): Weights {
    return coordinatewise(results, (s) => {
      const cut = Math.floor(this.beta * s.length);
      let sum = 0;
      for (let i = cut; i < s.length - cut; i++) sum += s[i];
      return sum / (s.length - 2 * cut);
    });
  }
}

/** Options of the server optimizers (Reddi et al. 2021). */
export interface FedOptOptions {
  /** Server learning rate η. @default 1e-2 */
  eta?: number;
  /** @default 0.9 */
  beta1?: number;
  /** @default 0.99 */
  beta2?: number;
  /** Adaptivity τ (added to sqrt(v)). @default 1e-3 */
  tau?: number;
  /**
   * Initial second-moment accumulator v. The paper allows any v ≥ τ²; 0 is
   * Flower's choice and the default here.
   * @default 0
   */
  initialAccumulator?: number;
}

/**
 * The FedOpt family: Δ_t is the example-weighted mean of the client deltas
 * (the pseudo-gradient, pointing downhill), then
 *   m_t = β1 m + (1 - β1) Δ_t
 *   v_t = secondMoment(v, Δ_t²)                         (Adagrad / Adam / Yogi)
 *   x_{t+1} = x_t + η m_t / (sqrt(v_t) + τ)
 * No bias correction, as in the paper's Algorithm 2.
 */
export abstract class FedOpt extends FederatedStrategy {
  readonly eta: number; readonly beta1: number; readonly beta2: number; readonly tau: number; readonly initialAccumulator: number;
  /** Server optimizer state (null before the first round). */
  m: Weights | null = null;
  v: Weights | null = null;
  constructor(o: FedOptOptions = {}) {
    super();
    this.eta = o.eta ?? 1e-2; this.beta1 = o.beta1 ?? 0.9; this.beta2 = o.beta2 ?? 0.99; this.tau = o.tau ?? 1e-3;
    this.initialAccumulator = o.initialAccumulator ?? 0;
    if (!(this.eta > 0)) invalidRange('a positive number', 'eta', o.eta);
    if (!(this.beta1 >= 0 && this.beta1 < 1)) invalidRange('a number in [0, 1)', 'beta1', o.beta1);
    if (!(this.beta2 >= 0 && this.beta2 < 1)) invalidRange('a number in [0, 1)', 'beta2', o.beta2);
    if (!(this.tau > 0)) invalidRange('a positive number', 'tau', o.tau);
    if (!(this.initialAccumulator >= 0)) invalidRange('a number >= 0', 'initialAccumulator', o.initialAccumulator);
  }
  combine(results: readonly ClientResult[]): Weights { return weightedMean(results); }
  /** v_t from v_{t-1} and d² (one coordinate). */
  protected abstract secondMoment(v: number, d2: number): number;
  override apply(global: Weights, delta: Weights): Weights {
    const init = (fill: number) => new Map([...global].map(([k, g]) => [k, { shape: [...g.shape], data: new Float32Array(g.data.length).fill(fill) }]));
    this.m ??= init(0);
    this.v ??= init(this.initialAccumulator);
    const out: Weights = new Map();
    for (const [k, g] of global) {
      const d = delta.get(k)!.data, m = this.m.get(k)!.data, v = this.v.get(k)!.data;
      const w = new Float32Array(g.data.length);
      for (let i = 0; i < w.length; i++) {
        m[i] = this.beta1 * m[i] + (1 - this.beta1) * d[i];
        v[i] = this.secondMoment(v[i], d[i] * d[i]);
        w[i] = g.data[i] + (this.eta * m[i]) / (Math.sqrt(v[i]) + this.tau);
      }
      out.set(k, { shape: [...g.shape], data: w });
    }
    return out;
  }
}

/** FedAdagrad: v_t = v + Δ². */
export class FedAdagrad extends FedOpt {
  readonly name = 'FedAdagrad';
  protected secondMoment(v: number, d2: number): number { return v + d2; }
}

/** FedAdam: v_t = β2 v + (1 - β2) Δ². */
export class FedAdam extends FedOpt {
  readonly name = 'FedAdam';
  protected secondMoment(v: number, d2: number): number { return this.beta2 * v + (1 - this.beta2) * d2; }
}

/** FedYogi: v_t = v - (1 - β2) Δ² sign(v - Δ²), which grows v more slowly than Adam. */
export class FedYogi extends FedOpt {
  readonly name = 'FedYogi';
  protected secondMoment(v: number, d2: number): number { return v - (1 - this.beta2) * d2 * Math.sign(v - d2); }
}
