// Bad rows of the labeled datasets: with onBadRow 'error' (the default) the
// first one throws a CorpusError naming file and line; with 'skip' each is
// counted by reason and kept with its line number, so a user can see which
// rows were left out and why (the rows themselves are in memory anyway).

import { CorpusError } from './corpus-error.js';
import type { BadRowReason } from './readers.js';
import { typeError } from '../validate.js';

/**
 * Why a labeled row was rejected: a reader's reason, or a label problem
 * (`unknown_label`: not in the fixed `labels`; `invalid_label`: empty, or not
 * a number for regression; `invalid_tags`: a CoNLL tag sequence that breaks
 * its scheme).
 */
export type DatasetBadRowReason = BadRowReason | 'unknown_label' | 'invalid_label' | 'invalid_tags';

/** A row (or CoNLL sentence) left out with `onBadRow: 'skip'`. */
export interface SkippedRow {
  /** 1-based line in the file (a CoNLL sentence: the line of its first problem). */
  line: number;
  reason: DatasetBadRowReason;
  /** What was wrong, as the error would have said (at most 200 characters). */
  message: string;
}

/** A bad row as a reader reports it. */
export interface BadRow {
  line: number;
  bad: DatasetBadRowReason;
  message: string;
}

/** Counts and lists the bad rows of one file, or throws at the first. */
export class BadRowTally {
  readonly counts: Partial<Record<DatasetBadRowReason, number>> = {};
  readonly rows: SkippedRow[] = [];

  constructor(
    readonly file: string,
    readonly onBadRow: 'error' | 'skip',
  ) {}

  add(row: BadRow): void {
    // Label reasons are not among readers.ts's BadRowReason; the error carries them as they are.
    if (this.onBadRow === 'error') throw new CorpusError('ERR_CORPUS_BAD_ROW', this.file, row.line, row.bad as BadRowReason, row.message);
    this.counts[row.bad] = (this.counts[row.bad] ?? 0) + 1;
    const message = row.message.length > 200 ? `${row.message.slice(0, 197)}...` : row.message;
    this.rows.push({ line: row.line, reason: row.bad, message });
  }
}

/** Checks a user's label list: distinct, non-empty names. */
export function checkLabels(labels: unknown, name = 'labels'): string[] {
  if (!Array.isArray(labels) || labels.length === 0 || labels.some((l) => typeof l !== 'string' || l.length === 0)) {
    throw typeError('a non-empty array of label names', name, labels);
  }
  if (new Set(labels).size !== labels.length) throw typeError('distinct label names', name, labels);
  return [...labels];
}

export function checkIndex(i: number, length: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= length) throw new RangeError(`Expected an index from 0 to ${length - 1} for i but received ${i}`);
}
