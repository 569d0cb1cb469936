// Near-duplicate detection by MinHash with locality-sensitive hashing
// (Broder 1997; Leskovec, Rajaraman & Ullman, "Mining of Massive Datasets",
// ch. 3). Each text becomes the set of its character n-grams; `permutations`
// minimum hashes estimate Jaccard similarity; they are cut into `bands` of
// `rows`, and two texts that agree on a whole band are near duplicates. The
// stream keeps the first text of each group: a text is dropped if it shares
// a band with any text kept before it. Memory: `bands` 64-bit keys per kept
// text, in a HashSet64.

import { HashSet64 } from './hash-set.js';

/** Options of near-duplicate removal. */
export interface NearDuplicateOptions {
  /**
   * Jaccard similarity of character n-grams above which texts count as near duplicates.
   * @default 0.8
   */
  threshold?: number;
  /**
   * Number of MinHash functions; more is more accurate and slower.
   * @default 128
   */
  permutations?: number;
  /**
   * Length of the character n-grams (shingles).
   * @default 5
   */
  shingleSize?: number;
}

// murmur3's 32-bit finalizer: a fast, well-mixed bijection on 32-bit integers.
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The (bands, rows) split of `permutations` whose S-curve threshold
 * (1/bands)^(1/rows) is closest to `threshold`.
 */
export function chooseBands(permutations: number, threshold: number): { bands: number; rows: number } {
  let best = { bands: permutations, rows: 1 };
  let bestError = Infinity;
  for (let rows = 1; rows <= permutations; rows++) {
    const bands = Math.floor(permutations / rows);
    const error = Math.abs((1 / bands) ** (1 / rows) - threshold);
    if (error < bestError) {
      best = { bands, rows };
      bestError = error;
    }
  }
  return best;
}

/** A streaming near-duplicate filter. */
export class MinHashDeduplicator {
  readonly bands: number;
  readonly rows: number;
  readonly #shingleSize: number;
  readonly #seeds: Uint32Array;
  readonly #signature: Uint32Array;
  readonly #seen = new HashSet64();

  constructor(options: Required<NearDuplicateOptions>) {
    ({ bands: this.bands, rows: this.rows } = chooseBands(options.permutations, options.threshold));
    this.#shingleSize = options.shingleSize;
    // Fixed seeds: the same text always gets the same signature.
    this.#seeds = new Uint32Array(this.bands * this.rows);
    let state = 0x9e3779b9;
    for (let i = 0; i < this.#seeds.length; i++) {
      state = fmix32(state + 0x6d2b79f5);
      this.#seeds[i] = state;
    }
    this.#signature = new Uint32Array(this.#seeds.length);
  }

  /** Returns true if `text` is a near duplicate of a text kept earlier; otherwise remembers it. */
  isDuplicate(text: string): boolean {
    const signature = this.#sign(text.toLowerCase());
    const keys: Array<[number, number]> = [];
    let duplicate = false;
    for (let band = 0; band < this.bands; band++) {
      // Two different 32-bit hashes of the band's rows, salted by the band index.
      let hi = fmix32(band + 1);
      let lo = fmix32(band + 0x51ed27);
      for (let row = 0; row < this.rows; row++) {
        const value = signature[band * this.rows + row];
        hi = fmix32(hi ^ value);
        lo = fmix32(Math.imul(lo, 31) + value);
      }
      if (this.#seen.has(hi, lo)) duplicate = true;
      keys.push([hi, lo]);
    }
    if (!duplicate) for (const [hi, lo] of keys) this.#seen.add(hi, lo);
    return duplicate;
  }

  // MinHash signature: for each seed, the minimum over shingles of a seeded hash.
  #sign(text: string): Uint32Array {
    const signature = this.#signature.fill(0xffffffff);
    const seeds = this.#seeds;
    const k = Math.min(this.#shingleSize, text.length);
    for (let start = 0; start + k <= text.length; start++) {
      let h = 0x811c9dc5; // FNV-1a over the shingle's UTF-16 units
      for (let i = start; i < start + k; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
      for (let j = 0; j < seeds.length; j++) {
        const value = fmix32(h ^ seeds[j]);
        if (value < signature[j]) signature[j] = value;
      }
      if (k === 0) break;
    }
    return signature;
  }
}
