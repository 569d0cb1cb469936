/**
 * Privacy accounting for DP federated averaging: the Rényi-DP accountant of
 * the Poisson-subsampled Gaussian mechanism (Mironov, Talwar, Zhang 2019,
 * "Rényi Differential Privacy of the Sampled Gaussian Mechanism", §3.3),
 * composed over rounds by adding RDP, and converted to (ε, δ) with Balle et
 * al. 2020, Theorem 21. The same analysis as TF Privacy's and Opacus's
 * RDP accountants (same default orders as Opacus). Pure numbers, no state
 * beyond the (q, σ, steps) history.
 */
import { invalidRange } from '../errors.js';

/** Opacus's default RDP orders: 1.1, 1.2, ..., 10.9, then 12 ... 63. */
export const DEFAULT_ORDERS: readonly number[] = [
  ...Array.from({ length: 99 }, (_, x) => 1 + (x + 1) / 10),
  ...Array.from({ length: 52 }, (_, x) => 12 + x),
];

function logAdd(a: number, b: number): number {
  const lo = Math.min(a, b), hi = Math.max(a, b);
  if (lo === -Infinity) return hi;
  return Math.log1p(Math.exp(lo - hi)) + hi;
}

function logSub(a: number, b: number): number {
  if (a < b) throw new RangeError('log-space subtraction would be negative');
  if (b === -Infinity) return a;
  if (a === b) return -Infinity;
  const r = Math.log(Math.expm1(a - b)) + b;
  return Number.isFinite(r) ? r : a;
}

/**
 * log(erfc(x)), accurate in the far tail: a series for erf near 0, Lentz's
 * continued fraction for erfc beyond (Abramowitz & Stegun 7.1.14).
 */
export function logErfc(x: number): number {
  if (x < 0.5) {
    if (x < -6) return Math.log(2 - Math.exp(logErfc(-x)));
    // erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
    let term = x, sum = x;
    for (let n = 1; n < 200; n++) {
      term *= (-x * x) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.log1p(-(2 / Math.sqrt(Math.PI)) * sum);
  }
  // erfc(x) = exp(-x²)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), modified Lentz.
  const tiny = 1e-300;
  let f = x, C = x, D = 0;
  for (let n = 1; n < 5000; n++) {
    const a = n / 2;
    D = x + a * D; if (Math.abs(D) < tiny) D = tiny; D = 1 / D;
    C = x + a / C; if (Math.abs(C) < tiny) C = tiny;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return -x * x - 0.5 * Math.log(Math.PI) - Math.log(f);
}

/** log A_α for integer α: log Σ_k C(α,k) (1-q)^(α-k) q^k exp((k² - k) / (2σ²)). */
function logAInt(q: number, sigma: number, alpha: number): number {
  let logA = -Infinity, logBinom = 0;
  for (let k = 0; k <= alpha; k++) {
    if (k > 0) logBinom += Math.log((alpha - k + 1) / k);
    const s = logBinom + k * Math.log(q) + (alpha - k) * Math.log1p(-q) + (k * k - k) / (2 * sigma * sigma);
    logA = logAdd(logA, s);
  }
  return logA;
}

/** log A_α for fractional α: the two-sided series of Mironov et al. 2019, §3.3. */
function logAFrac(q: number, sigma: number, alpha: number): number {
  let logA0 = -Infinity, logA1 = -Infinity;
  const z0 = sigma * sigma * Math.log(1 / q - 1) + 0.5;
  let logAbsBinom = 0, sign = 1;
  for (let i = 0; ; i++) {
    if (i > 0) {
      const r = (alpha - i + 1) / i;
      logAbsBinom += Math.log(Math.abs(r));
      if (r < 0) sign = -sign;
    }
    const j = alpha - i;
    const logT0 = logAbsBinom + i * Math.log(q) + j * Math.log1p(-q);
    const logT1 = logAbsBinom + j * Math.log(q) + i * Math.log1p(-q);
    const logE0 = Math.log(0.5) + logErfc((i - z0) / (Math.SQRT2 * sigma));
    const logE1 = Math.log(0.5) + logErfc((z0 - j) / (Math.SQRT2 * sigma));
    const logS0 = logT0 + (i * i - i) / (2 * sigma * sigma) + logE0;
    const logS1 = logT1 + (j * j - j) / (2 * sigma * sigma) + logE1;
    if (sign > 0) { logA0 = logAdd(logA0, logS0); logA1 = logAdd(logA1, logS1); }
    else { logA0 = logSub(logA0, logS0); logA1 = logSub(logA1, logS1); }
    if (Math.max(logS0, logS1) < -30 || i > 10000) break;
  }
  return logAdd(logA0, logA1);
}

/**
 * RDP ε(α) of `steps` compositions of the Poisson-subsampled Gaussian
 * mechanism with sampling rate q and noise multiplier σ (noise std / L2 sensitivity).
 * @example computeRdp(1, 2, 1, [2]) // [0.25]: α / (2σ²) without subsampling
 */
export function computeRdp(q: number, sigma: number, steps: number, orders: readonly number[] = DEFAULT_ORDERS): number[] {
  if (!(q >= 0 && q <= 1)) invalidRange('a sampling rate in [0, 1]', 'q', q);
  if (!(sigma >= 0)) invalidRange('a noise multiplier >= 0', 'sigma', sigma);
  if (!(Number.isInteger(steps) && steps >= 0)) invalidRange('a non-negative integer', 'steps', steps);
  return orders.map((alpha) => {
    if (!(alpha > 1)) invalidRange('orders > 1', 'orders', alpha);
    if (q === 0 || steps === 0) return 0;
    if (sigma === 0 || alpha === Infinity) return Infinity;
    if (q === 1) return (steps * alpha) / (2 * sigma * sigma);
    const logA = Number.isInteger(alpha) ? logAInt(q, sigma, alpha) : logAFrac(q, sigma, alpha);
    return (steps * logA) / (alpha - 1);
  });
}

/**
 * (ε, δ) from RDP values: ε = min_α rdp(α) - (log δ + log α)/(α - 1) + log((α - 1)/α)
 * (Balle et al. 2020, Theorem 21; the conversion Opacus uses).
 */
export function rdpToDp(orders: readonly number[], rdp: readonly number[], delta: number): { epsilon: number; order: number } {
  if (!(delta > 0 && delta < 1)) invalidRange('a number in (0, 1)', 'delta', delta);
  let best = Infinity, order = NaN;
  orders.forEach((a, i) => {
    const eps = rdp[i] - (Math.log(delta) + Math.log(a)) / (a - 1) + Math.log((a - 1) / a);
    if (eps < best) { best = eps; order = a; }
  });
  return { epsilon: Math.max(0, best), order };
}

/**
 * Tracks the privacy spent by DP rounds.
 * @example
 * const acc = new RdpAccountant();
 * acc.step(0.1, 1.1, 100);     // 100 rounds, 10% of clients each, noise multiplier 1.1
 * acc.getEpsilon(1e-5);         // { epsilon, delta: 1e-5, order }
 */
export class RdpAccountant {
  readonly orders: readonly number[];
  /** (q, σ, steps) of every step(), merged when q and σ repeat. */
  readonly history: { q: number; sigma: number; steps: number }[] = [];
  constructor(orders: readonly number[] = DEFAULT_ORDERS) { this.orders = orders; }
  /** Records `steps` more applications of the subsampled Gaussian mechanism. */
  step(q: number, sigma: number, steps = 1): void {
    const last = this.history.at(-1);
    if (last && last.q === q && last.sigma === sigma) last.steps += steps;
    else this.history.push({ q, sigma, steps });
  }
  /** Total RDP at each order. */
  rdp(): number[] {
    const total = this.orders.map(() => 0);
    for (const h of this.history) computeRdp(h.q, h.sigma, h.steps, this.orders).forEach((r, i) => { total[i] += r; });
    return total;
  }
  /** ε for `delta`, and the order that gave it. */
  getEpsilon(delta: number): { epsilon: number; delta: number; order: number } {
    return { ...rdpToDp(this.orders, this.rdp(), delta), delta };
  }
}
