/**
 * L2-regularised logistic regression on sparse rows, with scikit-learn's
 * objective (LogisticRegression(C, solver='lbfgs')): C * sum of log losses +
 * ||W||^2 / 2, the intercept not penalised; binomial for two classes,
 * multinomial (softmax) for more. The problem is convex, so L-BFGS (Nocedal &
 * Wright 2006, alg. 7.4, with a backtracking Armijo line search) reaches the
 * same optimum as sklearn's. Pure TypeScript; weights in a Float64Array.
 */
import { invalidRange } from '../errors.js';
import type { SparseRow } from './tfidf.js';

export interface LogisticOptions {
  /** Inverse regularisation strength (sklearn's C). @default 1 */
  C?: number;
  /** L-BFGS iterations at most. @default 200 */
  maxIter?: number;
  /** Stop when the largest gradient component is below this (sklearn's tol for lbfgs' pgtol). @default 1e-4 */
  tol?: number;
}

export class LogisticRegression {
  readonly C: number;
  readonly maxIter: number;
  readonly tol: number;
  /** Number of classes (labels are 0..K-1). */
  classes = 0;
  /** Iterations the last fit took. */
  iterations = 0;
  #w: Float64Array = new Float64Array(0);  // (outputs, features + 1): the last column is the intercept
  #features = 0;

  constructor(o: LogisticOptions = {}) {
    this.C = o.C ?? 1;
    this.maxIter = o.maxIter ?? 200;
    this.tol = o.tol ?? 1e-4;
    if (!(this.C > 0) || !Number.isFinite(this.C)) invalidRange('a finite number > 0', 'C', o.C);
    if (!Number.isInteger(this.maxIter) || this.maxIter < 1) invalidRange('a positive integer', 'maxIter', o.maxIter);
  }

  /** Outputs of the linear model: 1 (binomial) or K (multinomial). */
  get #outputs(): number {
    return this.classes === 2 ? 1 : this.classes;
  }

  fit(rows: readonly SparseRow[], labels: ArrayLike<number>, numFeatures: number): this {
    if (rows.length !== labels.length || rows.length === 0) invalidRange(`${rows.length} labels (one per row, at least one)`, 'labels', labels.length);
    let k = 0;
    for (let i = 0; i < labels.length; i++) {
      if (!Number.isInteger(labels[i]) || labels[i] < 0) invalidRange('integer labels >= 0', 'labels', labels[i]);
      k = Math.max(k, labels[i] + 1);
    }
    this.classes = Math.max(2, k);
    this.#features = numFeatures;
    const size = this.#outputs * (numFeatures + 1);
    const f = (w: Float64Array, g: Float64Array) => this.#loss(w, g, rows, labels);
    const r = lbfgs(f, new Float64Array(size), this.maxIter, this.tol);
    this.#w = r.x;
    this.iterations = r.iterations;
    return this;
  }

  /** Class probabilities of each row, (N, K) row-major. */
  predictProba(rows: readonly SparseRow[]): Float64Array {
    const K = this.classes;
    const out = new Float64Array(rows.length * K);
    const z = new Float64Array(this.#outputs);
    rows.forEach((row, i) => {
      this.#scores(this.#w, row, z);
      if (K === 2) {
        const p = 1 / (1 + Math.exp(-z[0]));
        out[i * 2] = 1 - p;
        out[i * 2 + 1] = p;
      } else softmaxInto(z, out.subarray(i * K, (i + 1) * K));
    });
    return out;
  }

  /** The most probable class of each row. */
  predict(rows: readonly SparseRow[]): Int32Array {
    const p = this.predictProba(rows);
    const K = this.classes;
    return Int32Array.from(rows, (_, i) => {
      let best = 0;
      for (let c = 1; c < K; c++) if (p[i * K + c] > p[i * K + best]) best = c;
      return best;
    });
  }

  #scores(w: Float64Array, row: SparseRow, z: Float64Array): void {
    const stride = this.#features + 1;
    for (let o = 0; o < z.length; o++) {
      let s = w[o * stride + this.#features];
      for (let j = 0; j < row.indices.length; j++) s += w[o * stride + row.indices[j]] * row.values[j];
      z[o] = s;
    }
  }

  /** sklearn's objective and its gradient (into g). */
  #loss(w: Float64Array, g: Float64Array, rows: readonly SparseRow[], labels: ArrayLike<number>): number {
    const F = this.#features, stride = F + 1, O = this.#outputs, C = this.C;
    g.fill(0);
    let loss = 0;
    const z = new Float64Array(O);
    const p = new Float64Array(O);
    rows.forEach((row, i) => {
      this.#scores(w, row, z);
      const y = labels[i];
      if (O === 1) {
        // log(1 + exp(-s z)) with s = +-1, computed stably.
        const s = y === 1 ? 1 : -1;
        const m = -s * z[0];
        loss += m > 0 ? m + Math.log1p(Math.exp(-m)) : Math.log1p(Math.exp(m));
        p[0] = 1 / (1 + Math.exp(-z[0])) - (y === 1 ? 1 : 0);
      } else {
        softmaxInto(z, p);
        loss -= Math.log(Math.max(p[y], 1e-300));
        p[y] -= 1;
      }
      for (let o = 0; o < O; o++) {
        const d = C * p[o];
        if (d === 0) continue;
        for (let j = 0; j < row.indices.length; j++) g[o * stride + row.indices[j]] += d * row.values[j];
        g[o * stride + F] += d;
      }
    });
    loss *= C;
    for (let o = 0; o < O; o++) {
      for (let j = 0; j < F; j++) {
        const v = w[o * stride + j];
        loss += 0.5 * v * v;
        g[o * stride + j] += v;
      }
    }
    return loss;
  }
}

function softmaxInto(z: Float64Array, out: Float64Array): void {
  let m = -Infinity;
  for (const v of z) m = Math.max(m, v);
  let sum = 0;
  for (let c = 0; c < z.length; c++) sum += (out[c] = Math.exp(z[c] - m));
  for (let c = 0; c < z.length; c++) out[c] /= sum;
}

/** Minimises f (which writes its gradient into g) from x0 by L-BFGS with memory 10. */
export function lbfgs(f: (x: Float64Array, g: Float64Array) => number, x0: Float64Array, maxIter: number, tol: number): { x: Float64Array; value: number; iterations: number } {
  const n = x0.length, M = 10;
  const dot = (a: Float64Array, b: Float64Array) => { let s = 0; for (let i = 0; i < n; i++) s += a[i] * b[i]; return s; };
  let x = Float64Array.from(x0);
  let g = new Float64Array(n);
  let fx = f(x, g);
  const S: Float64Array[] = [], Y: Float64Array[] = [], R: number[] = [];
  const d = new Float64Array(n), xn = new Float64Array(n), gn = new Float64Array(n);
  let it = 0;
  for (; it < maxIter; it++) {
    let gmax = 0;
    for (let i = 0; i < n; i++) gmax = Math.max(gmax, Math.abs(g[i]));
    if (gmax <= tol) break;
    // Two-loop recursion: d = -H g.
    d.set(g);
    const alpha: number[] = [];
    for (let k = S.length - 1; k >= 0; k--) {
      const a = R[k] * dot(S[k], d);
      alpha[k] = a;
      for (let i = 0; i < n; i++) d[i] -= a * Y[k][i];
    }
    const gamma = S.length ? dot(S[S.length - 1], Y[Y.length - 1]) / dot(Y[Y.length - 1], Y[Y.length - 1]) : 1 / Math.max(1, Math.sqrt(dot(g, g)));
    for (let i = 0; i < n; i++) d[i] *= gamma;
    for (let k = 0; k < S.length; k++) {
      const b = R[k] * dot(Y[k], d);
      for (let i = 0; i < n; i++) d[i] += S[k][i] * (alpha[k] - b);
    }
    for (let i = 0; i < n; i++) d[i] = -d[i];
    let slope = dot(g, d);
    if (slope >= 0) {  // not a descent direction: restart from steepest descent
      S.length = 0; Y.length = 0; R.length = 0;
      for (let i = 0; i < n; i++) d[i] = -g[i];
      slope = dot(g, d);
    }
    // Backtracking line search (Armijo, c = 1e-4).
    let step = 1, fn = 0, ok = false;
    for (let ls = 0; ls < 40; ls++) {
      for (let i = 0; i < n; i++) xn[i] = x[i] + step * d[i];
      fn = f(xn, gn);
      if (fn <= fx + 1e-4 * step * slope) { ok = true; break; }
      step *= 0.5;
    }
    if (!ok) break;
    const s = new Float64Array(n), y = new Float64Array(n);
    for (let i = 0; i < n; i++) { s[i] = xn[i] - x[i]; y[i] = gn[i] - g[i]; }
    const sy = dot(s, y);
    if (sy > 1e-10) {
      S.push(s); Y.push(y); R.push(1 / sy);
      if (S.length > M) { S.shift(); Y.shift(); R.shift(); }
    }
    const improvement = fx - fn;
    x = Float64Array.from(xn);
    g = Float64Array.from(gn);
    fx = fn;
    // sklearn's lbfgs also stops on a relative decrease below ftol (~2.2e-9).
    if (improvement <= 2.2e-9 * Math.max(Math.abs(fx), Math.abs(fx + improvement), 1)) { it++; break; }
  }
  return { x, value: fx, iterations: it };
}
