// Content hashes of cleaned texts: 64 bits for exact deduplication and 32
// more for the train/validation/test split, both from one SHA-256. A split
// that depends only on the text is deterministic, and stays put when data
// is added: an example never moves between splits from one run to the next.

import * as crypto from 'node:crypto';

/** A text's 64-bit identity (two 32-bit halves) and its split coordinate in [0, 1). */
export interface TextHash {
  hi: number;
  lo: number;
  split: number;
}

/**
 * Hashes `text` (UTF-8). With a `seed`, the split coordinate comes from the
 * seed and the text, so a different seed draws a different split while the
 * identity used for deduplication stays the same.
 */
export function hashText(text: string, seed?: string): TextHash {
  const digest = sha256(text);
  const splitDigest = seed === undefined ? digest.subarray(8) : sha256(`${seed}\u0000${text}`);
  return {
    hi: digest.readUInt32BE(0),
    lo: digest.readUInt32BE(4),
    split: splitDigest.readUInt32BE(0) / 2 ** 32,
  };
}

// crypto.hash (Node >= 20.12) skips the Hash object that createHash builds,
// which is a third of the cost for short texts.
const sha256: (text: string) => Buffer =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('sha256', text, 'buffer')
    : (text) => crypto.createHash('sha256').update(text).digest();
