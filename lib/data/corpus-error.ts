// The error corpus preparation throws for input it cannot use: a bad row
// (with onBadRow 'error', the default) or an input that is unusable as a
// whole (a CSV header without the text column, an unreadable gzip stream).
// It names the file and line, so the row can be found and fixed.

import type { BadRowReason } from './readers.js';

/** Error codes of {@link CorpusError}. */
export type CorpusErrorCode = 'ERR_CORPUS_BAD_ROW' | 'ERR_CORPUS_INPUT';

/**
 * A corpus input problem at `file`:`line`.
 * `code` is `ERR_CORPUS_BAD_ROW` for one bad row (skippable with
 * `onBadRow: 'skip'`) and `ERR_CORPUS_INPUT` for a file that cannot be read.
 */
export class CorpusError extends Error {
  override name = 'CorpusError';

  constructor(
    readonly code: CorpusErrorCode,
    readonly file: string,
    readonly line: number | undefined,
    readonly reason: BadRowReason | undefined,
    detail: string,
    options?: ErrorOptions,
  ) {
    const where = line === undefined ? file : `${file}:${line}`;
    const hint = code === 'ERR_CORPUS_BAD_ROW' ? ` (${reason}; pass onBadRow: 'skip' to skip and count such rows)` : '';
    super(`${where}: ${detail}${hint}`, options);
  }
}
