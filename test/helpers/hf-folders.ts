// The real-folder parity fixture of scripts/fixtures/make-hf-folder-reference.py:
// four HF tokenizer folders (all-MiniLM-L6-v2 as shipped, a plain BERT folder,
// a cased one, a cased one that strips accents from vocab.txt alone) and what
// transformers' AutoTokenizer gives for 311 texts under the collators' calls.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

export const FOLDERS_DIR = fileURLToPath(new URL('../fixtures/hf-folders/', import.meta.url));
export const FOLDERS = ['minilm', 'bert-plain', 'bert-cased', 'cased-strip'] as const;
export type FolderName = (typeof FOLDERS)[number];

export interface RefRow {
  ids: number[];
  types: number[];
  mask: number[];
  special: number[];
  offsets: Array<[number, number]>;
  wordIds: Array<number | null>;
  sequenceIds: Array<number | null>;
  labels?: number[];
  labelsAll?: number[];
}

export interface RefBatch {
  start: number;
  count: number;
  options?: { padding: 'longest' | 'max_length'; pad_to_multiple_of?: number };
  rows: RefRow[];
}

export interface FolderReference {
  modelMaxLength: number | null;
  single: RefRow[];
  noSpecial: number[][];
  truncated16: RefRow[];
  truncatedDefault: number[][];
  pairs: RefRow[];
  batches: RefBatch[];
  pairBatches: RefBatch[];
  words: RefBatch[];
}

export interface Reference {
  versions: Record<string, string>;
  texts: string[];
  pairs: Array<[string, string]>;
  words: string[][];
  nerLabelNames: string[];
  nerLabels: number[][];
  folders: Record<FolderName, FolderReference>;
}

export function loadReference(): Reference {
  return JSON.parse(gunzipSync(readFileSync(join(FOLDERS_DIR, 'reference.json.gz'))).toString('utf8')) as Reference;
}

export function folder(name: FolderName): string {
  return join(FOLDERS_DIR, name);
}

/** The first index where two sequences differ, or -1; for messages that show where. */
export function firstDifference(a: ArrayLike<unknown>, b: ArrayLike<unknown>): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (JSON.stringify(a[i]) !== JSON.stringify(b[i])) return i;
  }
  return -1;
}
