/**
 * A small seeded PRNG (mulberry32) for shuffles and masking in TypeScript.
 * Plain numbers, no native code; the same seed gives the same sequence on
 * every platform. Not for cryptography.
 */

/** mulberry32 on the raw 32-bit state `seed`: floats in [0, 1). Bit for bit the generator the Python bench peers reimplement. */
export function mulberry32Raw(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Returns a function giving floats in [0, 1), seeded by `seed` (any integer; small seeds are scrambled first). */
export function mulberry32(seed: number): () => number {
  return mulberry32Raw((seed >>> 0) ^ 0x9e3779b9);
}

/** Mixes several integers into one 32-bit seed (for per-epoch / per-batch streams). */
export function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x01000193);
    h = Math.imul(h ^ Math.floor(p / 4294967296), 0x01000193);
    h ^= h >>> 13;
  }
  return h >>> 0;
}

/** A Fisher-Yates shuffled permutation of 0..n-1. */
export function permutation(n: number, rand: () => number): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = p[i]; p[i] = p[j]; p[j] = t;
  }
  return p;
}
