/**
 * Noise for synthetic messages: typos (swap, drop, double, replace a
 * letter), filler words and casing styles, all from a seeded Rng. Entity
 * words get no typos (their casing still changes), so BIO tags stay exact.
 */
import type { Rng } from './rng.js';

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

/** One random edit of a word of 4+ letters; shorter words are returned as they are. */
export function typo(word: string, rng: Rng): string {
  if (word.length < 4 || !/^[a-z]+$/i.test(word)) return word;
  const i = rng.int(1, word.length - 2);
  switch (rng.int(0, 3)) {
    case 0: return word.slice(0, i) + word[i + 1] + word[i] + word.slice(i + 2);  // swap
    case 1: return word.slice(0, i) + word.slice(i + 1);  // drop
    case 2: return word.slice(0, i) + word[i] + word.slice(i);  // double
    default: return word.slice(0, i) + rng.pick([...LETTERS]) + word.slice(i + 1);  // replace
  }
}

export type Casing = 'lower' | 'sentence' | 'title' | 'upper';

/** A message's casing style: mostly lower case, as chat messages are. */
export function pickCasing(rng: Rng): Casing {
  const r = rng.next();
  return r < 0.6 ? 'lower' : r < 0.85 ? 'sentence' : r < 0.95 ? 'title' : 'upper';
}

/** Applies a casing style to a message's words (in place). */
export function applyCasing(words: string[], casing: Casing, rng: Rng): void {
  const cap = (w: string) => w.charAt(0).toUpperCase() + w.slice(1);
  words.forEach((w, i) => {
    if (casing === 'upper') words[i] = w.toUpperCase();
    else if (casing === 'sentence' && (i === 0 || /[.!?]$/.test(words[i - 1] ?? ''))) words[i] = cap(w);
    else if (casing === 'sentence' && w === 'i') words[i] = 'I';
    else if (casing === 'title' && rng.chance(0.4)) words[i] = cap(w);
  });
}
