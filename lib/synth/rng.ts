/** A seeded random source for the synthetic generator (mulberry32 underneath). */
import { mulberry32 } from '../train/rng.js';

export class Rng {
  #next: () => number;
  constructor(seed: number) { this.#next = mulberry32(seed); }
  /** A float in [0, 1). */
  next(): number { return this.#next(); }
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number { return lo + Math.floor(this.#next() * (hi - lo + 1)); }
  chance(p: number): boolean { return this.#next() < p; }
  pick<T>(xs: readonly T[]): T { return xs[Math.floor(this.#next() * xs.length)]; }
}
