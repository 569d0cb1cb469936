/**
 * Splitting a labeled set across simulated clients, IID or with label skew
 * (non-IID): for each label, its examples are shared among clients in
 * proportions drawn from Dirichlet(α) (Hsu et al. 2019, "Measuring the
 * Effects of Non-Identical Data Distribution"); small α gives each client a
 * few dominant labels. Seeded, plain numbers, no native code.
 */
import { invalidRange } from '../errors.js';
import { mixSeed, mulberry32, permutation } from '../train/rng.js';

export interface PartitionOptions {
  /** Dirichlet concentration; Infinity splits every label evenly (IID). @default 0.5 */
  alpha?: number;
  /** @default 0 */
  seed?: number;
  /** Every client gets at least this many examples (redraws until it holds, up to 100 times). @default 1 */
  minPerClient?: number;
}

// Marsaglia & Tsang (2000) gamma sampler, shape k > 0, scale 1.
function gamma(k: number, rand: () => number, normal: () => number): number {
  if (k < 1) return gamma(k + 1, rand, normal) * Math.pow(rand() || Number.MIN_VALUE, 1 / k);
  const d = k - 1 / 3, c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number, v: number;
    do { x = normal(); v = 1 + c * x; } while (v <= 0);
    v = v * v * v;
    const u = rand();
    if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/**
 * Indices of each client's examples. `labels[i]` is example i's class.
 * @example const parts = partitionByLabel(train.map((e) => e.label), 5, { alpha: 0.3, seed: 1 });
 */
export function partitionByLabel(labels: readonly number[], numClients: number, o: PartitionOptions = {}): number[][] {
  if (!Number.isInteger(numClients) || numClients < 1) invalidRange('a positive integer', 'numClients', numClients);
  const alpha = o.alpha ?? 0.5;
  if (!(alpha > 0)) invalidRange('a positive number or Infinity', 'alpha', o.alpha);
  const minPer = o.minPerClient ?? 1;
  if (minPer * numClients > labels.length) invalidRange(`at most ${Math.floor(labels.length / numClients)}`, 'minPerClient', minPer);
  const classes = [...new Set(labels)].sort((a, b) => a - b);
  for (let attempt = 0; attempt < 100; attempt++) {
    const rand = mulberry32(mixSeed(o.seed ?? 0, attempt));
    const normal = () => Math.sqrt(-2 * Math.log(rand() || Number.MIN_VALUE)) * Math.cos(2 * Math.PI * rand());
    const parts: number[][] = Array.from({ length: numClients }, () => []);
    for (const c of classes) {
      const idx = labels.flatMap((l, i) => (l === c ? [i] : []));
      const perm = permutation(idx.length, rand);
      const p = alpha === Infinity ? Array<number>(numClients).fill(1) : Array.from({ length: numClients }, () => gamma(alpha, rand, normal));
      const total = p.reduce((a, b) => a + b, 0);
      // Cut points from the cumulative proportions.
      let acc = 0, start = 0;
      for (let k = 0; k < numClients; k++) {
        acc += p[k] / total;
        const end = k === numClients - 1 ? idx.length : Math.round(acc * idx.length);
        for (let j = start; j < end; j++) parts[k].push(idx[perm[j]]);
        start = Math.max(start, end);
      }
    }
    if (parts.every((q) => q.length >= minPer)) return parts.map((q) => q.sort((a, b) => a - b));
  }
  throw new RangeError(`could not give every client ${minPer} examples in 100 draws; raise alpha or lower minPerClient`);
}
